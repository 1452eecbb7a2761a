import { createPrivateKey } from "node:crypto";
import { readFileSync } from "node:fs";
import { resolve } from "node:path";
import { auth, type AddClientAuthentication, type OAuthClientProvider } from "@modelcontextprotocol/sdk/client/auth.js";
import { createPrivateKeyJwtAuth } from "@modelcontextprotocol/sdk/client/auth-extensions.js";
import type { OAuthClientInformationMixed, OAuthClientMetadata, OAuthTokens } from "@modelcontextprotocol/sdk/shared/auth.js";
import type { RemoteTarget } from "../lib/config.ts";
import { MsmError } from "../lib/errors.ts";
import { msmHome } from "../lib/paths.ts";
import { forgetLogin, readLogin, writeLogin } from "./store.ts";

/** A target's hand-registered client (config `oauth`). */
export type OAuthClient = NonNullable<RemoteTarget["oauth"]>;

/** Whether msm obtains this target's tokens itself (client credentials), with no person and no browser. */
export const isMachineClient = (client: OAuthClient | undefined): boolean => client?.grant === "client_credentials";

export { dueForRefresh, forgetLogin, loginState, readLogin, writeLogin, type Login } from "./store.ts";

/**
 * The SDK's OAuth client (discovery of protected-resource and authorization-server metadata, dynamic client
 * registration, PKCE, code exchange, refresh) over msm's login file. `onAuthorize` receives the authorization URL
 * when a person must approve; without it (the relay) the flow stops there and reports that a login is needed.
 */
export class FileAuthProvider implements OAuthClientProvider {
  authorizationUrl: URL | undefined;
  /** The OAuth `state` of a login in progress (checked on the redirect). */
  state?: () => string;

  constructor(
    private readonly name: string,
    private readonly redirect: string | undefined,
    private readonly onAuthorize?: (url: URL) => void | Promise<void>,
    /** A client registered by hand (config `oauth`): used as is, never registered again. */
    private readonly preset?: OAuthClient,
  ) {
    if (preset?.privateKeyFile) this.addClientAuthentication = privateKeyJwt(preset);
  }

  /** private_key_jwt: a signed assertion in place of a secret (set only then: the SDK's default applies otherwise). */
  addClientAuthentication?: AddClientAuthentication;

  /**
   * The relay has no redirect of its own: it names the login's, since the SDK treats a flow without one as a
   * non-interactive grant and would never refresh. A machine client has none: that is the grant it uses.
   */
  get redirectUrl(): string | undefined {
    if (isMachineClient(this.preset)) return undefined;
    const login = readLogin(this.name);
    return this.redirect ?? (login.client as { redirect_uris?: string[] } | undefined)?.redirect_uris?.[0] ?? login.redirect;
  }

  get clientMetadata(): OAuthClientMetadata {
    if (isMachineClient(this.preset)) {
      const method = this.preset?.privateKeyFile ? "private_key_jwt" : "client_secret_basic";
      return {
        client_name: `msm (${this.name})`,
        redirect_uris: [],
        grant_types: ["client_credentials"],
        token_endpoint_auth_method: method,
        scope: this.preset?.scope,
      };
    }
    return {
      client_name: `msm (${this.name})`,
      redirect_uris: this.redirect ? [this.redirect] : [],
      grant_types: ["authorization_code", "refresh_token"],
      response_types: ["code"],
      token_endpoint_auth_method: "none",
      scope: this.preset?.scope,
    };
  }

  /** Client credentials (RFC 6749 §4.4): the client's own grant, asked for again whenever the token runs out. */
  prepareTokenRequest(scope?: string): URLSearchParams | undefined {
    if (!isMachineClient(this.preset)) return undefined;
    const params = new URLSearchParams({ grant_type: "client_credentials" });
    if (scope) params.set("scope", scope);
    return params;
  }

  clientInformation(): OAuthClientInformationMixed | undefined {
    if (this.preset) return { client_id: this.preset.clientId, client_secret: this.preset.clientSecret };
    const client = readLogin(this.name).client;
    // A client registered for another loopback port cannot receive this login's redirect: register again.
    const uris = (client as { redirect_uris?: string[] } | undefined)?.redirect_uris;
    if (client && this.redirect && uris && !uris.includes(this.redirect)) return undefined;
    return client;
  }

  saveClientInformation(client: OAuthClientInformationMixed): void {
    writeLogin(this.name, { ...readLogin(this.name), client });
  }

  tokens(): OAuthTokens | undefined {
    return readLogin(this.name).tokens;
  }

  saveTokens(tokens: OAuthTokens): void {
    const login = readLogin(this.name);
    // A refresh answer may omit the refresh token: the old one stays valid then (RFC 6749 §6).
    const merged = { ...tokens, refresh_token: tokens.refresh_token ?? login.tokens?.refresh_token };
    const issuedAt = Date.now();
    const expiresAt = tokens.expires_in !== undefined ? issuedAt + tokens.expires_in * 1000 : undefined;
    writeLogin(this.name, { ...login, tokens: merged, expiresAt, issuedAt, verifier: undefined });
  }

  async redirectToAuthorization(url: URL): Promise<void> {
    if (isMachineClient(this.preset)) throw new MsmError("LOGIN_FAILED", `Target "${this.name}" uses client credentials: it has no browser login.`);
    this.authorizationUrl = url;
    await this.onAuthorize?.(url);
  }

  saveCodeVerifier(verifier: string): void {
    writeLogin(this.name, { ...readLogin(this.name), verifier });
  }

  codeVerifier(): string {
    const verifier = readLogin(this.name).verifier;
    if (!verifier) throw new Error("no login in progress (PKCE verifier missing)");
    return verifier;
  }

  invalidateCredentials(scope: "all" | "client" | "tokens" | "verifier"): void {
    const login = readLogin(this.name);
    if (scope === "all") return void forgetLogin(this.name);
    if (scope === "client") delete login.client;
    if (scope === "tokens") {
      delete login.tokens;
      delete login.expiresAt;
    }
    if (scope === "verifier") delete login.verifier;
    writeLogin(this.name, login);
  }
}

/**
 * Refreshes the access token (rotating refresh tokens included) through the SDK's flow. "REDIRECT" means the grant
 * is gone and a person must log in again.
 */
export function refreshLogin(
  name: string,
  serverUrl: string,
  preset?: OAuthClient,
  fetchFn?: typeof fetch,
  challenge: { resourceMetadataUrl?: URL; scope?: string } = {},
): Promise<"AUTHORIZED" | "REDIRECT"> {
  return auth(new FileAuthProvider(name, undefined, undefined, preset), { serverUrl, fetchFn, ...challenge });
}

/**
 * private_key_jwt (RFC 7523 §2.2): each token request carries a short-lived JWT, issued and subject the client id,
 * signed with the key file — read at each request, so a rotated key is used without restarting the relay.
 */
function privateKeyJwt(client: OAuthClient): AddClientAuthentication {
  const file = resolve(msmHome(), client.privateKeyFile!);
  return async (headers, params, url, metadata) => {
    let pem: string;
    try {
      pem = readFileSync(file, "utf8");
    } catch (error) {
      throw new MsmError("LOGIN_FAILED", `Cannot read the private key ${file} (oauth.privateKeyFile): ${(error as Error).message}`);
    }
    const alg = client.algorithm ?? algorithmOf(pem);
    await createPrivateKeyJwtAuth({ issuer: client.clientId, subject: client.clientId, privateKey: pem, alg })(headers, params, url, metadata);
  };
}

/** The signing algorithm a key's type implies (ES256 for P-256, RS256 for RSA, …), when the config names none. */
function algorithmOf(pem: string): string {
  const key = createPrivateKey(pem);
  if (key.asymmetricKeyType === "rsa") return "RS256";
  if (key.asymmetricKeyType === "ed25519") return "EdDSA";
  const curve = key.asymmetricKeyDetails?.namedCurve;
  if (key.asymmetricKeyType === "ec" && curve)
    return ({ prime256v1: "ES256", secp384r1: "ES384", secp521r1: "ES512" } as Record<string, string>)[curve] ?? "ES256";
  throw new MsmError("CONFIG_INVALID", `Cannot tell the signing algorithm of the private key (${key.asymmetricKeyType}): set oauth.algorithm.`);
}
