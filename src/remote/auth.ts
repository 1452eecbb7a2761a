import { auth, type OAuthClientProvider } from "@modelcontextprotocol/sdk/client/auth.js";
import type { OAuthClientInformationMixed, OAuthClientMetadata, OAuthTokens } from "@modelcontextprotocol/sdk/shared/auth.js";
import { forgetLogin, readLogin, writeLogin } from "./store.ts";

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
    private readonly preset?: { clientId: string; clientSecret?: string },
  ) {}

  /** The relay has no redirect of its own: it names the login's, since the SDK treats a flow without one as a
   * non-interactive grant and would never refresh. */
  get redirectUrl(): string | undefined {
    const login = readLogin(this.name);
    return this.redirect ?? (login.client as { redirect_uris?: string[] } | undefined)?.redirect_uris?.[0] ?? login.redirect;
  }

  get clientMetadata(): OAuthClientMetadata {
    return {
      client_name: `msm (${this.name})`,
      redirect_uris: this.redirect ? [this.redirect] : [],
      grant_types: ["authorization_code", "refresh_token"],
      response_types: ["code"],
      token_endpoint_auth_method: "none",
    };
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
  preset?: { clientId: string; clientSecret?: string },
  fetchFn?: typeof fetch,
): Promise<"AUTHORIZED" | "REDIRECT"> {
  return auth(new FileAuthProvider(name, undefined, undefined, preset), { serverUrl, fetchFn });
}
