"""MCP on stdio beside the HTTP server (``hydrogen serve --http --stdio``), over one Supervisor.

The HTTP server owns the Supervisor; the MCP session borrows it (entering and leaving the
borrowed one do nothing). The stdio plumbing is ``runtime.mcp.stdio``'s, whose
``serve_stdio`` runs its own event loop and signal handling and so cannot share a process
with the HTTP server; this module is its ``_serve`` with the signal handling left to the
server. Either end stops both: stdin EOF sets ``stop``, and ``stop`` being set (a signal)
ends the session the way a signal ends ``serve --stdio``.
"""

from __future__ import annotations

import queue
from typing import Any

import anyio

from runtime.host.plugin import ProgressCallback
from runtime.host.supervisor import Supervisor, ToolInfo
from runtime.mcp.server import McpServer
from runtime.mcp.stdio import (
    LINE_BATCHES,
    _pollable,
    _read_in_loop,
    _start_reader,
    _take_stdio,
    _write_thread,
)

__all__ = ["BorrowedSupervisor", "serve_mcp_beside", "take_stdio"]


def take_stdio() -> tuple[int, int]:
    """Move stdin/stdout aside for MCP before anything else could write to stdout."""
    return _take_stdio()


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
    outgoing: queue.SimpleQueue[bytes | None] = queue.SimpleQueue()
    send_lines, lines = anyio.create_memory_object_stream[list[bytes]](LINE_BATCHES)
    server = McpServer(BorrowedSupervisor(supervisor), outgoing.put, role=role, version=version)

    async def end_on_stop() -> None:
        await stop.wait()
        server.cancel_requests()
        send_lines.close()

    async with anyio.create_task_group() as tg:
        tg.start_soon(_write_thread, out_fd, outgoing)
        tg.start_soon(end_on_stop)
        if _pollable(in_fd):
            tg.start_soon(_read_in_loop, in_fd, send_lines)
        else:
            _start_reader(in_fd, send_lines)
        try:
            await server.run(lines)
        finally:
            outgoing.put(None)  # the writer flushes what is queued, then ends
        stop.set()
        tg.cancel_scope.cancel()
