"""Start ``hydrogen serve --stdio`` as a real subprocess, through the SDK client or raw."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any, Final

from mcp import ClientSession, StdioServerParameters
from mcp.client.stdio import stdio_client

from tests.conftest import BUNDLED_PLUGINS, REPO_ROOT, TEST_PLUGINS

HYDROGEN: Final = REPO_ROOT / ".venv" / "bin" / "hydrogen"
MCP_PLUGINS: Final = TEST_PLUGINS / "mcp"
HOSTILE_PLUGINS: Final = TEST_PLUGINS / "hostile"
TEST_PROFILES: Final = REPO_ROOT / "tests" / "profiles"
# Seconds any single MCP exchange in these tests may take (worker start included).
EXCHANGE_TIMEOUT: Final = 30.0

__all__ = [
    "BUNDLED_PLUGINS",
    "EXCHANGE_TIMEOUT",
    "HOSTILE_PLUGINS",
    "MCP_PLUGINS",
    "RawServer",
    "open_session",
    "server_env",
]


def server_env(plugins: Path) -> dict[str, str]:
    """Test plugins run ungated under the test profiles; the bundled ones gated as shipped."""
    env = dict(os.environ)
    env.pop("HYDROGEN_PROFILES", None)
    env.pop("HYDROGEN_GATE", None)
    if plugins != BUNDLED_PLUGINS:
        env["HYDROGEN_GATE"] = "off"
        env["HYDROGEN_PROFILES"] = str(TEST_PROFILES)
    return env


def command(plugins: Path, *extra: str) -> list[str]:
    return [str(HYDROGEN), "--plugins", str(plugins), "serve", "--stdio", *extra]


@asynccontextmanager
async def open_session(
    plugins: Path, *extra: str, **session_kwargs: Any
) -> AsyncIterator[ClientSession]:
    cmd, *args = command(plugins, *extra)
    params = StdioServerParameters(command=cmd, args=args, env=server_env(plugins))
    async with (
        stdio_client(params, errlog=sys.stderr) as (read, write),
        ClientSession(read, write, **session_kwargs) as session,
    ):
        yield session


class RawServer:
    """The server driven with plain JSON lines, for error codes and shutdown."""

    def __init__(self, plugins: Path, *extra: str) -> None:
        self.proc = subprocess.Popen(
            command(plugins, *extra),
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            env=server_env(plugins),
        )

    def write_line(self, line: bytes) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write(line + b"\n")
        self.proc.stdin.flush()

    def send(self, message: dict[str, Any]) -> None:
        self.write_line(json.dumps({"jsonrpc": "2.0", **message}).encode())

    def read(self) -> dict[str, Any]:
        """The next response, skipping notifications (list_changed arrives whenever a worker
        comes up and reports its schemas). The pytest timeout bounds a server that never answers.
        """
        assert self.proc.stdout is not None
        while True:
            line = self.proc.stdout.readline()
            assert line, "the server closed stdout"
            message: dict[str, Any] = json.loads(line)
            if "id" in message:
                return message

    def request(self, request_id: int, method: str, params: dict[str, Any] | None = None) -> None:
        message: dict[str, Any] = {"id": request_id, "method": method}
        if params is not None:
            message["params"] = params
        self.send(message)

    def initialize(self, version: str = "2025-11-25") -> dict[str, Any]:
        self.request(
            0,
            "initialize",
            {
                "protocolVersion": version,
                "capabilities": {},
                "clientInfo": {"name": "raw-test", "version": "1"},
            },
        )
        reply = self.read()
        self.send({"method": "notifications/initialized"})
        return reply

    def close(self) -> int:
        assert self.proc.stdin is not None
        self.proc.stdin.close()
        code = self.proc.wait(timeout=EXCHANGE_TIMEOUT)
        if self.proc.stdout is not None:
            self.proc.stdout.close()
        return code
