"""MCP on stdio beside the HTTP server (``hydrogen serve --http --stdio``), over one Supervisor.

The HTTP server owns the Supervisor; the MCP session borrows it (entering and leaving the
borrowed one do nothing). The stdio plumbing is ``runtime.mcp.stdio.run_session``; signals
are left to the HTTP server. Either end stops both: stdin EOF sets ``stop``, and ``stop``
being set (a signal) ends the session the way a signal ends ``serve --stdio``.
"""

from __future__ import annotations

from typing import Any

import anyio
from anyio.abc import TaskGroup
from anyio.streams.memory import MemoryObjectSendStream

from runtime.host.plugin import ProgressCallback
from runtime.host.supervisor import Supervisor, ToolInfo
from runtime.mcp.server import McpServer
from runtime.mcp.stdio import run_session

__all__ = ["BorrowedSupervisor", "serve_mcp_beside"]


class BorrowedSupervisor(Supervisor):
    """Another owner's running Supervisor: the same calls and state, no lifetime of its own."""

    def __init__(self, lender: Supervisor) -> None:
        # Deliberately not Supervisor.__init__: this object holds no state of its own.
        self._lender = lender

    async def __aenter__(self) -> Supervisor:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        return None

    async def aclose(self) -> None:
        return None

    @property
    def problems(self) -> list[str]:
        return self._lender.problems

    def tools(self, *, caller: str | None = None) -> list[ToolInfo]:
        return self._lender.tools(caller=caller)

    async def call(
        self,
        tool: str,
        params: Any = None,
        *,
        timeout: float | None = None,
        on_progress: ProgressCallback | None = None,
        caller: str | None = None,
    ) -> dict[str, Any]:
        return await self._lender.call(
            tool, params, timeout=timeout, on_progress=on_progress, caller=caller
        )

    def change_events(self) -> list[anyio.Event]:
        return self._lender.change_events()

    def status(self) -> dict[str, Any]:
        return self._lender.status()

    async def wait_settled(self) -> None:
        await self._lender.wait_settled()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._lender, name)


async def serve_mcp_beside(
    supervisor: Supervisor,
    fds: tuple[int, int],
    *,
    role: str | None,
    version: str,
    stop: anyio.Event,
) -> None:
    """Serve MCP on ``fds`` (from ``take_stdio``) until stdin ends or ``stop`` is set."""
    in_fd, out_fd = fds

    def begin(tg: TaskGroup, server: McpServer, lines: MemoryObjectSendStream[list[bytes]]) -> None:
        async def end_on_stop() -> None:
            await stop.wait()
            server.cancel_requests()
            lines.close()

        tg.start_soon(end_on_stop)

    await run_session(
        lambda send: McpServer(BorrowedSupervisor(supervisor), send, role=role, version=version),
        in_fd,
        out_fd,
        begin,
    )
    stop.set()  # stdin ended: the HTTP server stops too
