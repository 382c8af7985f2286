"""Hot reload seen from an MCP client: `hydrogen serve --stdio` with the watcher on.

The official SDK client drives a real server over a scratch plugin directory that the test
edits, extends and shrinks; each change must reach the client as tools/list_changed, with the
list and the answers of the new version.
"""

from __future__ import annotations

import os
import shutil
import signal
import sys
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any, Final

import anyio
import pytest
from mcp import ClientSession, StdioServerParameters, types
from mcp.client.stdio import stdio_client
from mcp.shared.exceptions import MCPError

from tests.integration.support import install_versioned as install
from tests.mcp.support import EXCHANGE_TIMEOUT, RawServer, command, server_env

# Seconds between polls of a server that reloads in the background.
POLL: Final = 0.05


class Changes:
    """Counts tools/list_changed notifications and lets a test wait for the next one."""

    def __init__(self) -> None:
        self.count = 0
        self._next = anyio.Event()

    async def handler(self, message: Any) -> None:
        if isinstance(message, types.ToolListChangedNotification):
            self.count += 1
            self._next.set()
            self._next = anyio.Event()

    async def next(self) -> None:
        await self._next.wait()


@asynccontextmanager
async def watched_server(plugins: Path, changes: Changes) -> AsyncIterator[ClientSession]:
    cmd, *args = command(plugins, "--watch")
    params = StdioServerParameters(command=cmd, args=args, env=server_env(plugins))
    async with (
        stdio_client(params, errlog=sys.stderr) as (read, write),
        ClientSession(read, write, message_handler=changes.handler) as session,
    ):
        await session.initialize()
        yield session


async def tools(session: ClientSession) -> dict[str, str]:
    return {t.name: t.description or "" for t in (await session.list_tools()).tools}


async def until(session: ClientSession, changes: Changes, holds: Any) -> dict[str, str]:
    """Wait for list_changed notifications until the tool list satisfies ``holds``."""
    listed = await tools(session)
    while not holds(listed):
        await changes.next()
        listed = await tools(session)
    return listed


@pytest.mark.anyio
async def test_reloads_additions_and_removals_reach_the_client_as_list_changed(
    tmp_path: Path,
) -> None:
    plugin = install(tmp_path, "versioned")
    changes = Changes()
    with anyio.fail_after(EXCHANGE_TIMEOUT * 2):
        async with watched_server(tmp_path, changes) as session:
            first = await session.call_tool("which_version", {})
            assert first.structured_content is not None
            assert first.structured_content["version"] == "A"

            manifest = (plugin / "plugin.yaml").read_text()
            (plugin / "plugin.yaml").write_text(
                manifest.replace("The VERSION constant", "Version B, the VERSION constant")
            )
            code = (plugin / "__init__.py").read_text()
            (plugin / "__init__.py").write_text(code.replace('VERSION = "A"', 'VERSION = "B"'))
            listed = await until(
                session, changes, lambda t: t.get("which_version", "").startswith("Version B")
            )
            assert set(listed) == {"which_version"}
            second = await session.call_tool("which_version", {})
            assert second.structured_content is not None
            assert second.structured_content["version"] == "B"

            added = install(tmp_path, "newcomer")
            await until(session, changes, lambda t: "newcomer_version" in t)
            third = await session.call_tool("newcomer_version", {})
            assert not third.is_error

            shutil.rmtree(added)
            listed = await until(session, changes, lambda t: "newcomer_version" not in t)
            assert set(listed) == {"which_version"}
            # An unknown tool is a protocol error (the MCP spec), naming the tools there are.
            with pytest.raises(MCPError, match="no plugin serves tool 'newcomer_version'"):
                await session.call_tool("newcomer_version", {})
    assert changes.count >= 3


def test_sighup_reloads_changed_plugins_when_the_watcher_is_off(tmp_path: Path) -> None:
    plugin = install(tmp_path, "versioned")
    server = RawServer(tmp_path)
    try:
        server.initialize()

        def version(request_id: int) -> str:
            server.request(request_id, "tools/call", {"name": "which_version", "arguments": {}})
            reply = server.read()
            return str(reply["result"]["structuredContent"]["version"])

        assert version(1) == "A"
        code = (plugin / "__init__.py").read_text()
        (plugin / "__init__.py").write_text(code.replace('VERSION = "A"', 'VERSION = "B"'))
        assert version(2) == "A"  # no watcher: nothing changes until the operator says so
        os.kill(server.proc.pid, signal.SIGHUP)
        request_id = 3
        deadline = time.monotonic() + EXCHANGE_TIMEOUT
        while version(request_id) != "B":
            assert time.monotonic() < deadline, "SIGHUP did not reload the changed plugin"
            request_id += 1
            time.sleep(POLL)
    finally:
        assert server.close() == 0
