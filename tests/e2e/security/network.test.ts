// The daemons' network surface, with real HTTP requests: token, Origin, Host, loopback only; and what a `--url`
// proxy tells a server that is not on this machine.
import { describe, expect, test } from "bun:test";
import { networkInterfaces } from "node:os";
import { Sandbox, openSession, waitFor } from "../../helpers/sandbox.ts";
import { MSM } from "../../helpers/sandbox.ts";
import { rawRequest } from "../../helpers/attacks.ts";

const INIT = JSON.stringify({
  jsonrpc: "2.0",
  id: 1,
  method: "initialize",
  params: { protocolVersion: "2025-06-18", capabilities: {}, clientInfo: { name: "x", version: "1" } },
});

describe("the daemon is locked down", () => {
  test("no token → 401, foreign Origin → 403, loopback only", async () => {
    await using sandbox = new Sandbox();
    const a = await openSession(sandbox, sandbox.project("p"));
    const { port } = sandbox.lock("memory")!;
    const headers = { "content-type": "application/json", accept: "application/json, text/event-stream" };
    const url = `http://127.0.0.1:${port}/mcp`;

    expect((await fetch(url, { method: "POST", headers, body: INIT })).status).toBe(401);
    expect((await fetch(url, { method: "POST", headers: { ...headers, authorization: "Bearer wrong" }, body: INIT })).status).toBe(401);
    const auth = { ...headers, authorization: `Bearer ${sandbox.token()}` };
    expect((await fetch(url, { method: "POST", headers: { ...auth, origin: "http://evil.example" }, body: INIT })).status).toBe(403);
    const ok = await fetch(url, { method: "POST", headers: { ...auth, origin: "http://localhost:5173" }, body: INIT });
    expect(ok.status).toBe(200);
    await ok.body?.cancel();
    const health = await fetch(`http://127.0.0.1:${port}/health`);
    expect(health.status).toBe(200);
    expect(await health.text()).toBe("ok");

    // Listening on 127.0.0.1 only: the socket table shows the port bound to loopback and nothing else.
    const sockets = Bun.spawnSync(["cat", "/proc/net/tcp", "/proc/net/tcp6"]).stdout.toString();
    const hexPort = port.toString(16).toUpperCase().padStart(4, "0");
    const listening = sockets.split("\n").filter((l) => l.includes(`:${hexPort} `) && l.trim().split(/\s+/)[3] === "0A");
    expect(listening.length).toBe(1);
    expect(listening[0]!.trim().split(/\s+/)[1]).toBe(`0100007F:${hexPort}`);
    await a.close();
  }, 30_000);

  test("a foreign Host (DNS rebinding) is refused, with the token, and /health tells it nothing", async () => {
    await using sandbox = new Sandbox();
    const a = await openSession(sandbox, sandbox.project("p"));
    await waitFor(() => sandbox.lock("supervisor"), 10_000, "the supervisor's lock");
    const token = sandbox.token();
    for (const name of ["memory", "supervisor"]) {
      const { port } = sandbox.lock(name)!;
      const mcp = (host: string) =>
        rawRequest(
          port,
          [
            "POST /mcp HTTP/1.1",
            `Host: ${host}`,
            "Content-Type: application/json",
            "Accept: application/json, text/event-stream",
            `Authorization: Bearer ${token}`,
          ],
          INIT,
        );
      const health = (host: string) => rawRequest(port, ["GET /health HTTP/1.1", `Host: ${host}`]);

      for (const host of [`evil.example:${port}`, `evil.example`, `127.0.0.1.evil.example:${port}`, `127.0.0.1:${port + 1}`, `localhost`]) {
        const refused = await health(host);
        expect(refused.status).toBe(403);
        expect(refused.body).not.toContain("ok");
        if (name === "memory") expect((await mcp(host)).status).toBe(403);
      }
      for (const host of [`127.0.0.1:${port}`, `localhost:${port}`, `LOCALHOST:${port}`]) {
        const fine = await health(host);
        expect(fine.status).toBe(200);
        expect(fine.body).toBe("ok");
      }
      if (name === "memory") expect((await mcp(`localhost:${port}`)).status).toBe(200);
    }
    await a.close();
  }, 30_000);
});

/** A non-loopback address of this machine, to stand in for a server elsewhere. */
function externalAddress(): string | undefined {
  for (const list of Object.values(networkInterfaces())) {
    for (const address of list ?? []) if (address.family === "IPv4" && !address.internal) return address.address;
  }
  return undefined;
}

describe("--url tells only a server on this machine which project the session is in", () => {
  const external = externalAddress();
  test.skipIf(!external)(
    "the project header goes to loopback servers, and elsewhere only with --send-project",
    async () => {
      await using sandbox = new Sandbox();
      const seen: (string | null)[] = [];
      const answer = (request: Request) => {
        seen.push(request.headers.get("mcp-project-path"));
        return Response.json({
          jsonrpc: "2.0",
          id: 1,
          result: { protocolVersion: "2025-06-18", capabilities: {}, serverInfo: { name: "recorder", version: "1" } },
        });
      };
      const servers = [Bun.serve({ hostname: "127.0.0.1", port: 0, fetch: answer }), Bun.serve({ hostname: external!, port: 0, fetch: answer })];
      try {
        const project = sandbox.project("where-i-work");
        const run = async (url: string, extra: string[] = []) => {
          const child = Bun.spawn([MSM, "proxy", "--url", url, "--transport", "http", ...extra], {
            env: sandbox.env,
            cwd: project,
            stdin: "pipe",
            stdout: "pipe",
            stderr: "pipe",
          });
          sandbox.track(child.pid);
          child.stdin.write(INIT + "\n");
          child.stdin.end();
          const out = await new Response(child.stdout).text();
          await child.exited;
          expect(out).toContain('"recorder"');
          return seen.at(-1);
        };
        expect(await run(`http://127.0.0.1:${servers[0]!.port}/mcp`)).toBe(project);
        expect(await run(`http://localhost:${servers[0]!.port}/mcp`)).toBe(project);
        expect(await run(`http://${external}:${servers[1]!.port}/mcp`)).toBeNull();
        expect(await run(`http://${external}:${servers[1]!.port}/mcp`, ["--send-project"])).toBe(project);
      } finally {
        for (const server of servers) server.stop(true);
      }
    },
    30_000,
  );
});
