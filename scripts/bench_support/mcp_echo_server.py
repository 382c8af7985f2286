"""The peer's server: the MCP Python SDK's MCPServer with one ``echo`` tool, over stdio.

Run as ``python -m bench_support.mcp_echo_server`` from the scripts directory.
"""

from __future__ import annotations

from typing import Any

from mcp.server.mcpserver import MCPServer

server: MCPServer[Any] = MCPServer("hydrogen-bench-echo")


@server.tool(description="Return the params unchanged")
async def echo(text: str) -> dict[str, Any]:
    return {"echo": {"text": text}}


if __name__ == "__main__":
    server.run("stdio")
