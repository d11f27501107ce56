"""A tiny MCP server (streamable HTTP) for end-to-end tests of LiteLLM's MCP gateway.

Run as a subprocess (`python -m tests.support.mcp_tools_server --port N --log FILE`); the proxy
reaches it through an `mcp_servers:` entry (`transport: http`, `url: http://127.0.0.1:N/mcp`).
Every tool call is appended to FILE as one JSON line (`{"tool", "arguments"}`), so a test can
assert on what the tool server actually received (or that a refused call never reached it).

Tools: `lookup(query)` echoes its query; `add(a, b)` adds two integers. `GET /health` answers
200 once the server listens (for `ManagedProcess.wait_http_ok`).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

try:
    from mcp.server.mcpserver import MCPServer

    MCP_1X = False
except ImportError:  # mcp 1.x, which older LiteLLM releases pin (make compat)
    from mcp.server.fastmcp import FastMCP as MCPServer  # type: ignore[assignment,no-redef]

    MCP_1X = True
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response


def build(log_path: Path) -> MCPServer:
    server = MCPServer(name="axonflow-test-tools")

    def record(tool: str, arguments: dict[str, Any]) -> None:
        with log_path.open("a", encoding="utf-8") as fh:
            fh.write(json.dumps({"tool": tool, "arguments": arguments}) + "\n")

    @server.custom_route("/health", methods=["GET"])  # type: ignore[untyped-decorator]
    async def health(request: Request) -> Response:
        return PlainTextResponse("ok")

    @server.tool(description="Look a customer record up by a free-text query.")
    def lookup(query: str) -> str:
        record("lookup", {"query": query})
        return f"results for: {query}"

    @server.tool(description="Add two integers.")
    def add(a: int, b: int) -> int:
        record("add", {"a": a, "b": b})
        return a + b

    return server


def read_tool_calls(log_path: Path) -> list[dict[str, Any]]:
    if not log_path.exists():
        return []
    return [json.loads(line) for line in log_path.read_text().splitlines() if line.strip()]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--log", type=Path, required=True)
    args = parser.parse_args()
    server = build(args.log)
    if not MCP_1X:
        server.run(transport="streamable-http", host="127.0.0.1", port=args.port)
    else:  # mcp 1.x reads the address from its settings
        server.settings.host = "127.0.0.1"
        server.settings.port = args.port
        server.run(transport="streamable-http")


if __name__ == "__main__":
    main()
