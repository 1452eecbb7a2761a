"""A Python MCP server over streamable HTTP, written the way users write one: with FastMCP or the SDK's MCPServer.

    http_server.py fastmcp|sdk

Listens on 127.0.0.1 on a port the kernel picks (never a fixed one) and prints "listening on port N" once it
accepts connections. Both frameworks serve the same tools, resource, template and prompt, so one scripted session
runs against either. Stops on SIGTERM.
"""

import socket
import sys
import warnings
from typing import Any

import anyio
import uvicorn
from fastmcp import Context as FastContext
from fastmcp import FastMCP
from fastmcp.exceptions import ToolError as FastToolError
from mcp.server.mcpserver import Context, MCPServer
from mcp.server.mcpserver.exceptions import ToolError

# The SDK warns that logging is deprecated in 2026-07-28 on every log call; the tests use it on purpose.
warnings.filterwarnings("ignore")


def fastmcp_app() -> Any:
    server = FastMCP("py-fastmcp", instructions="A FastMCP server for msm's transparency tests.")

    @server.tool
    def echo(text: str) -> str:
        """Says the text back."""
        return f"echo {text}"

    @server.tool
    def add(a: int, b: int) -> int:
        """Adds two integers."""
        return a + b

    @server.tool
    async def steps(count: int, ctx: FastContext) -> str:
        """Reports progress `count` times and logs once."""
        await ctx.info(f"taking {count} steps")
        for i in range(1, count + 1):
            await ctx.report_progress(i, count)
        return f"took {count} steps"

    @server.tool
    def fail(reason: str) -> str:
        """Always fails, with the reason."""
        raise FastToolError(reason)

    @server.resource("info://about", mime_type="text/plain")
    def about() -> str:
        return "msm transparency fixture"

    @server.resource("greeting://{name}")
    def greeting(name: str) -> str:
        return f"hello {name}"

    @server.prompt
    def review(code: str) -> str:
        """Asks for a review of the code."""
        return f"Please review:\n{code}"

    return server.http_app(path="/mcp")


def sdk_app() -> Any:
    server = MCPServer("py-sdk", instructions="An MCPServer for msm's transparency tests.")

    @server.tool()
    def echo(text: str) -> str:
        """Says the text back."""
        return f"echo {text}"

    @server.tool()
    def add(a: int, b: int) -> int:
        """Adds two integers."""
        return a + b

    @server.tool()
    async def steps(count: int, ctx: Context) -> str:
        """Reports progress `count` times and logs once."""
        await ctx.info(f"taking {count} steps")
        for i in range(1, count + 1):
            await ctx.report_progress(i, count)
        return f"took {count} steps"

    @server.tool()
    def fail(reason: str) -> str:
        """Always fails, with the reason."""
        raise ToolError(reason)

    @server.resource("info://about", mime_type="text/plain")
    def about() -> str:
        return "msm transparency fixture"

    @server.resource("greeting://{name}")
    def greeting(name: str) -> str:
        return f"hello {name}"

    @server.prompt()
    def review(code: str) -> str:
        """Asks for a review of the code."""
        return f"Please review:\n{code}"

    return server.streamable_http_app(streamable_http_path="/mcp")


async def main() -> None:
    app = fastmcp_app() if sys.argv[1] == "fastmcp" else sdk_app()
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    sock.listen(128)
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="on"))

    async def announce() -> None:
        while not server.started:
            await anyio.sleep(0.01)
        print(f"listening on port {sock.getsockname()[1]}", flush=True)

    async with anyio.create_task_group() as tg:
        tg.start_soon(announce)
        await server.serve(sockets=[sock])


if __name__ == "__main__":
    anyio.run(main)
