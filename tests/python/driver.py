"""One scripted MCP session run by the Python SDK client, as a Python editor or agent runs it.

    driver.py STEPS_JSON [--mode auto|legacy|2026-07-28] [--roots URI ...] (--url URL | -- COMMAND ARG ...)

Connects (over stdio to COMMAND, or streamable HTTP to URL), runs the steps one after another and prints one JSON
object on stdout: what was negotiated, each step's outcome, and the transcript (every JSON-RPC message the client
sent and received, in order). The transparency tests run it once against the server directly and once through
`msm proxy`, and compare. STEPS_JSON is a list of {"op": METHOD, ...}: tools/list, tools/call (name, arguments),
prompts/list, prompts/get (name, arguments), resources/list, resources/templates/list, resources/read (uri), ping.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from typing import Any

import anyio
from mcp import Client
from mcp.client.stdio import StdioServerParameters, stdio_client
from mcp.client.streamable_http import streamable_http_client
from mcp.shared.exceptions import MCPError
from mcp.shared.message import SessionMessage

import mcp_types as types

transcript: list[dict[str, Any]] = []


def wire(message: Any) -> Any:
    """A message as it goes on the wire (the SDK's own serialisation)."""
    return json.loads(message.model_dump_json(by_alias=True, exclude_unset=True))


class RecordingRead:
    """The transport's read stream, noting every message the client receives."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner

    async def receive(self) -> Any:
        item = await self.inner.receive()
        if isinstance(item, SessionMessage):
            transcript.append({"from": "server", "message": wire(item.message)})
        return item

    def __aiter__(self) -> RecordingRead:
        return self

    async def __anext__(self) -> Any:
        try:
            return await self.receive()
        except (anyio.EndOfStream, anyio.ClosedResourceError):
            raise StopAsyncIteration

    async def aclose(self) -> None:
        await self.inner.aclose()

    async def __aenter__(self) -> RecordingRead:
        return self

    async def __aexit__(self, *exc: Any) -> None:
        await self.aclose()

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)


class RecordingWrite:
    """The transport's write stream, noting every message the client sends."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner

    async def send(self, item: SessionMessage) -> None:
        transcript.append({"from": "client", "message": wire(item.message)})
        await self.inner.send(item)

    async def aclose(self) -> None:
        await self.inner.aclose()

    async def __aenter__(self) -> RecordingWrite:
        return self

    async def __aexit__(self, *exc: Any) -> None:
        await self.aclose()

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)


class Recording:
    """A transport (the SDK's stdio or streamable HTTP one) whose streams are recorded."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner

    async def __aenter__(self) -> tuple[RecordingRead, RecordingWrite]:
        read, write = await self.inner.__aenter__()
        return RecordingRead(read), RecordingWrite(write)

    async def __aexit__(self, *exc: Any) -> Any:
        return await self.inner.__aexit__(*exc)


def dump(value: Any) -> Any:
    if hasattr(value, "model_dump"):
        return value.model_dump(mode="json", by_alias=True, exclude_none=True)
    return value


async def step(client: Client, s: dict[str, Any]) -> Any:
    op = s["op"]
    if op == "tools/list":
        return await client.list_tools()
    if op == "tools/call":
        progress = None
        if s.get("progress"):
            # Asking for progress is what puts a progress token on the request.
            async def progress(_progress: float, _total: float | None, _message: str | None) -> None:
                pass

        return await client.call_tool(s["name"], s.get("arguments", {}), progress_callback=progress)
    if op == "prompts/list":
        return await client.list_prompts()
    if op == "prompts/get":
        return await client.get_prompt(s["name"], s.get("arguments"))
    if op == "resources/list":
        return await client.list_resources()
    if op == "resources/templates/list":
        return await client.list_resource_templates()
    if op == "resources/read":
        return await client.read_resource(s["uri"])
    if op == "ping":
        return await client.send_ping()
    raise ValueError(f"unknown op {op}")


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("steps")
    parser.add_argument("--mode", default="auto")
    parser.add_argument("--roots", nargs="*")
    parser.add_argument("--sampling", action="store_true", help="declare sampling; answer every request with one fixed text")
    parser.add_argument("--elicitation", action="store_true", help="declare elicitation; accept every request with one fixed name")
    parser.add_argument("--url")
    argv = sys.argv[1:]
    command = argv[argv.index("--") + 1 :] if "--" in argv else []
    args = parser.parse_args(argv[: argv.index("--")] if "--" in argv else argv)
    args.command = command
    steps = json.loads(args.steps)

    if args.url:
        transport = streamable_http_client(args.url)
    else:
        params = StdioServerParameters(command=args.command[0], args=args.command[1:], env=dict(os.environ), cwd=os.getcwd())
        transport = stdio_client(params)

    list_roots = None
    if args.roots is not None:
        roots = [types.Root(uri=uri, name=uri.rsplit("/", 1)[-1]) for uri in args.roots]

        async def list_roots(_context: Any) -> types.ListRootsResult:
            return types.ListRootsResult(roots=roots)

    sampling = None
    if args.sampling:

        async def sampling(_context: Any, params: types.CreateMessageRequestParams) -> types.CreateMessageResult:
            asked = " ".join(getattr(m.content, "text", "") for m in params.messages)
            return types.CreateMessageResult(role="assistant", content=types.TextContent(type="text", text=f"python answers {asked}"), model="driver-model")

    elicitation = None
    if args.elicitation:

        async def elicitation(_context: Any, _params: types.ElicitRequestParams) -> types.ElicitResult:
            return types.ElicitResult(action="accept", content={"name": "python user"})

    out: dict[str, Any] = {"steps": []}
    try:
        async with Client(Recording(transport), mode=args.mode, list_roots_callback=list_roots, sampling_callback=sampling, elicitation_callback=elicitation, read_timeout_seconds=30) as client:
            out["protocolVersion"] = client.protocol_version
            out["serverInfo"] = dump(client.server_info)
            out["capabilities"] = dump(client.server_capabilities)
            out["instructions"] = client.instructions
            for s in steps:
                try:
                    out["steps"].append({"result": dump(await step(client, s))})
                except MCPError as e:
                    out["steps"].append({"error": {"code": e.code, "message": e.error.message}})
    except Exception as e:  # the session itself failed: say how, with what was seen so far
        out["failed"] = f"{type(e).__name__}: {e}"
    out["transcript"] = transcript
    sys.stdout.write(json.dumps(out) + "\n")
    sys.stdout.flush()


if __name__ == "__main__":
    anyio.run(main)
