import { randomBytes } from "node:crypto";
import { auth } from "@modelcontextprotocol/sdk/client/auth.js";
import type { ResolvedTarget } from "../lib/config.ts";
import { MsmError } from "../lib/errors.ts";
import { openBrowser } from "../lib/platform/open.ts";
import { FileAuthProvider, isMachineClient, readLogin, writeLogin } from "./auth.ts";

type Remote = Extract<ResolvedTarget, { kind: "remote" }>;

/** How long `msm login` waits for the person to approve in the browser. */
export const LOGIN_TIMEOUT_MS = 5 * 60_000;

/**
 * The OAuth authorization-code flow with PKCE, once, for every session: discovery from the server's 401 and its
 * protected-resource metadata, dynamic client registration where offered, the browser opened on the authorization
 * page (and the URL printed, for a machine without one), the code received on a loopback redirect and exchanged.
 * The tokens land in MSM_HOME (0600), where the target's relay uses and refreshes them.
 */
/** What the server's 401/403 said (`WWW-Authenticate`): where its metadata is, and the scope it wants. */
export interface Challenge {
  resourceMetadataUrl?: URL;
  scope?: string;
}

export async function login(target: Remote, onUrl: (url: string) => void, challenge: Challenge = {}, timeoutMs = LOGIN_TIMEOUT_MS): Promise<void> {
  if (isMachineClient(target.oauth)) return machineLogin(target, challenge);
  const state = randomBytes(16).toString("base64url");
  let received: (code: string) => void = () => {};
  let refused: (error: Error) => void = () => {};
  const code = new Promise<string>((resolve, reject) => {
    received = resolve;
    refused = reject;
  });
  const serve = (port: number) =>
    Bun.serve({
      hostname: "127.0.0.1",
      port,
      fetch(request: Request) {
        const url = new URL(request.url);
        if (url.pathname !== "/callback") return new Response("not found", { status: 404 });
        const error = url.searchParams.get("error");
        if (error) {
          refused(new MsmError("LOGIN_FAILED", `The authorization server refused: ${error} ${url.searchParams.get("error_description") ?? ""}`.trim()));
          return new Response("Login refused. You can close this tab.", { status: 400 });
        }
        // The state ties the answer to this login: a page elsewhere cannot feed msm a code of its choosing.
        if (url.searchParams.get("state") !== state || !url.searchParams.get("code")) return new Response("unexpected callback", { status: 400 });
        received(url.searchParams.get("code")!);
        return new Response("msm is logged in. You can close this tab.");
      },
    });
  // The port the registered client's redirect names, when free: the server knows that redirect, no new registration.
  const registered = (readLogin(target.name).client as { redirect_uris?: string[] } | undefined)?.redirect_uris?.[0];
  const previous = registered ? Number(new URL(registered).port) : 0;
  let callback: ReturnType<typeof serve>;
  try {
    callback = serve(previous);
  } catch {
    callback = serve(0);
  }
  const timer = setTimeout(
    () =>
      refused(
        new MsmError("LOGIN_FAILED", `No answer from the browser within ${Math.round(timeoutMs / 60_000)} minutes. Run "msm login ${target.name}" again.`),
      ),
    timeoutMs,
  );
  try {
    const redirect = `http://127.0.0.1:${callback.port}/callback`;
    const provider = new FileAuthProvider(
      target.name,
      redirect,
      (url) => {
        onUrl(url.href);
        openBrowser(url.href);
      },
      target.oauth,
    );
    provider.state = () => state;
    // An explicit login starts over: the old tokens (and any grant they belong to) are replaced, the client kept.
    const { client } = readLogin(target.name);
    writeLogin(target.name, client ? { client, redirect } : { redirect });
    const options = { serverUrl: target.url, resourceMetadataUrl: challenge.resourceMetadataUrl, scope: challenge.scope };
    const first = await auth(provider, options);
    if (first === "AUTHORIZED") return;
    const outcome = await auth(provider, { ...options, authorizationCode: await code });
    if (outcome !== "AUTHORIZED") throw new MsmError("LOGIN_FAILED", `The login to ${target.url} did not complete. Run "msm login ${target.name}" again.`);
  } finally {
    clearTimeout(timer);
    callback.stop(true);
  }
}

/**
 * Client credentials: no person, no browser, no redirect — the client's secret (or a JWT signed with its key) buys
 * an access token at the token endpoint, and again whenever it runs out.
 */
async function machineLogin(target: Remote, challenge: Challenge): Promise<void> {
  const provider = new FileAuthProvider(target.name, undefined, undefined, target.oauth);
  let outcome: string;
  try {
    outcome = await auth(provider, { serverUrl: target.url, resourceMetadataUrl: challenge.resourceMetadataUrl, scope: challenge.scope });
  } catch (error) {
    throw new MsmError(
      "LOGIN_FAILED",
      `${target.url} refused msm's client credentials: ${(error as Error).message}. Check "oauth" of target "${target.name}" in config.json.`,
    );
  }
  if (outcome !== "AUTHORIZED") throw new MsmError("LOGIN_FAILED", `The client-credentials login to ${target.url} did not complete.`);
}
