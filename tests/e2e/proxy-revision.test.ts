// The 2026-07-28 revision through msm: a real client and server that speak it (the TypeScript SDK v2,
// @modelcontextprotocol/client + server) negotiate it through `msm proxy --url` as they do directly — server/discover,
// the per-request envelope and the headers derived from it pass unchanged — while every earlier revision keeps
// working both ways (a 2025 client to the 2026 server, a 2026 client to msm's 2025 memory daemon).
import { expect, test } from "bun:test";
import { resolve } from "node:path";
import { Client as ModernClient, StreamableHTTPClientTransport } from "@modelcontextprotocol/client";
import { StdioClientTransport as ModernStdio } from "@modelcontextprotocol/client/stdio";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StdioClientTransport } from "@modelcontextprotocol/sdk/client/stdio.js";
import { MSM, Sandbox, requireBinary, waitFor } from "../helpers/sandbox.ts";

const SLOW = 60_000;
const FIXTURE = resolve(import.meta.dir, "../fixtures/modern-server.ts");

async function startServer(sandbox: Sandbox, ...flags: string[]): Promise<string> {
  const child = Bun.spawn([process.execPath, FIXTURE, "0", ...flags], { env: sandbox.env, stdout: "pipe", stderr: "inherit" });
  sandbox.track(child.pid);
  let output = "";
  void (async () => {
    for await (const chunk of child.stdout) output += new TextDecoder().decode(chunk);
  })();
  const port = await waitFor(() => /listening on port (\d+)/.exec(output)?.[1], 20_000, "the 2026-07-28 server to listen");
  return `http://127.0.0.1:${port}/mcp`;
}

/** A 2026-07-28 client as an editor runs it: the SDK's stdio transport spawning `msm proxy ARGS`. */
function modernThroughMsm(sandbox: Sandbox, args: string[]): ModernStdio {
  requireBinary();
  return new ModernStdio({ command: MSM, args: ["proxy", ...args], env: sandbox.env, cwd: sandbox.root, stderr: "inherit" });
}

const text = (result: unknown) => (result as { content: { text: string }[] }).content[0]!.text;

/** What one connection sees: the negotiated revision and the answers of each tool. */
async function exercise(client: ModernClient) {
  return {
    era: client.getProtocolEra(),
    version: client.getNegotiatedProtocolVersion(),
    echo: text(await client.callTool({ name: "echo", arguments: { text: "hi" } })),
    tools: (await client.listTools()).tools.map((t) => t.name).sort(),
    // Only passes when the Mcp-Param-Region header is there and matches (a non-ASCII value goes base64-encoded).
    weather: text(await client.callTool({ name: "weather", arguments: { region: "Zürich" } })),
    headers: JSON.parse(text(await client.callTool({ name: "headers", arguments: {} }))) as Record<string, string>,
  };
}

test(
  "a 2026-07-28 client and server negotiate 2026-07-28 through msm exactly as they do directly",
  async () => {
    await using sandbox = new Sandbox();
    // Strict: the server refuses every earlier revision, so nothing here can have quietly fallen back.
    const url = await startServer(sandbox, "--strict");
    const direct = new ModernClient({ name: "ed", version: "1" }, { versionNegotiation: { mode: "auto" } });
    await direct.connect(new StreamableHTTPClientTransport(new URL(url)));
    const expected = await exercise(direct);
    await direct.close();
    expect(expected.version).toBe("2026-07-28");

    const client = new ModernClient({ name: "ed", version: "1" }, { versionNegotiation: { mode: "auto" } });
    await client.connect(modernThroughMsm(sandbox, ["--url", url]));
    const seen = await exercise(client);
    await client.close();
    expect(seen.era).toBe("modern");
    expect(seen.version).toBe("2026-07-28");
    expect(seen.echo).toBe("echo hi");
    expect(seen.weather).toBe("sunny in Zürich");
    expect(seen.tools).toEqual(expected.tools);
    // The headers the revision requires, derived from the body, as the SDK's own HTTP client sends them.
    expect(seen.headers["mcp-protocol-version"]).toBe("2026-07-28");
    expect(seen.headers["mcp-method"]).toBe("tools/call");
    expect(seen.headers["mcp-name"]).toBe("headers");
    expect(seen.headers["mcp-session-id"]).toBeUndefined();
    for (const name of ["mcp-protocol-version", "mcp-method", "mcp-name"]) expect(seen.headers[name]).toBe(expected.headers[name]!);
  },
  SLOW,
);

test(
  "earlier revisions keep working both ways: a 2025 client to the 2026 server, a 2026 client to msm's 2025 daemon",
  async () => {
    await using sandbox = new Sandbox();
    const url = await startServer(sandbox);
    for (const version of ["2025-03-26", "2025-06-18", "2025-11-25"]) {
      // The SDK client proposes its latest version; an older one is what an older editor sends.
      const client = new Client({ name: "old-editor", version: "1" });
      const transport = new StdioClientTransport({ command: MSM, args: ["proxy", "--url", url], env: sandbox.env, cwd: sandbox.root, stderr: "inherit" });
      const send = transport.send.bind(transport);
      transport.send = (message) => {
        const m = message as { method?: string; params?: { protocolVersion?: string } };
        if (m.method === "initialize" && m.params) m.params.protocolVersion = version;
        return send(message);
      };
      await client.connect(transport);
      expect(text(await client.callTool({ name: "echo", arguments: { text: version } }))).toBe(`echo ${version}`);
      await client.close();
    }

    // msm's memory daemon speaks 2025-11-25: the 2026 client probes, sees no 2026 server, and falls back.
    const modern = new ModernClient({ name: "ed", version: "1" }, { versionNegotiation: { mode: "auto" } });
    await modern.connect(modernThroughMsm(sandbox, ["--target", "memory"]));
    expect(modern.getProtocolEra()).toBe("legacy");
    expect(modern.getNegotiatedProtocolVersion()).toBe("2025-11-25");
    const tools = (await modern.listTools()).tools.map((t) => t.name);
    expect(tools).toContain("read_graph");
    await modern.callTool({ name: "create_entities", arguments: { entities: [{ name: "a", entityType: "t", observations: ["o"] }] } });
    expect(text(await modern.callTool({ name: "read_graph", arguments: {} }))).toContain('"a"');
    await modern.close();
  },
  SLOW,
);
