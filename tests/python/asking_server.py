"""A Python SDK server (MCPServer over stdio) whose tools ask the client: sampling, elicitation and roots.

    asking_server.py

What a session's own client answers must reach the server, and only that session's: the transparency tests run it
directly and hosted by msm, with clients that declare these capabilities and clients that do not.
"""

import warnings

from mcp.server.mcpserver import Context, MCPServer
from mcp.types import SamplingMessage, TextContent
from pydantic import BaseModel

# The SDK warns that sampling and roots are deprecated in 2026-07-28 on every use; the tests use them on purpose.
warnings.filterwarnings("ignore")

server = MCPServer("py-asks", instructions="Asks its client things.")


class Answer(BaseModel):
    name: str


@server.tool()
async def ask_sampling(prompt: str, ctx: Context) -> str:
    """Asks the client's model."""
    result = await ctx.session.create_message(
        messages=[SamplingMessage(role="user", content=TextContent(type="text", text=prompt))],
        max_tokens=16,
        related_request_id=ctx.request_id,
    )
    content = result.content
    return f"sampled: {getattr(content, 'text', content)} ({result.model})"


@server.tool()
async def ask_elicitation(message: str, ctx: Context) -> str:
    """Asks the client's user."""
    result = await ctx.elicit(message, Answer)
    return f"{result.action}: {result.data.name if result.action == 'accept' else '-'}"


@server.tool()
async def ask_roots(ctx: Context) -> str:
    """Asks the client for its roots."""
    result = await ctx.session.list_roots()
    return "roots: " + ", ".join(str(root.uri) for root in result.roots)


if __name__ == "__main__":
    server.run()
