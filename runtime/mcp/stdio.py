"""``hydrogen serve --stdio``: the MCP session on this process's stdin and stdout.

stdout carries protocol lines and nothing else: the real stdout is kept on a private
descriptor, and fd 1 (with ``sys.stdout``) is pointed at stderr so a stray print, a library or a
child process cannot corrupt the stream. stdin is likewise moved aside and fd 0 is /dev/null.

Two threads do the blocking I/O: a reader hands the loop batches of lines (one wake-up per
``read``, not per line), a writer drains a queue fed from any thread (the loop, log records)
and writes whatever has accumulated in one ``write``, so messages never interleave.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import os
import queue
import signal
import stat
import sys
import threading
from collections.abc import Callable
from typing import Final

import anyio
from anyio.abc import TaskGroup
from anyio.streams.memory import MemoryObjectSendStream

from runtime.host.hangup import reload_on_hangup
from runtime.host.supervisor import Supervisor
from runtime.mcp.protocol import LineSplitter
from runtime.mcp.server import McpServer

__all__ = ["serve_stdio"]

log = logging.getLogger("hydrogen.mcp")

READ_CHUNK: Final = 1 << 16
# Unbounded: what a client can queue is bounded by each plugin's max_queued (busy errors).
LINE_BATCHES: Final = math.inf


def serve_stdio(supervisor: Supervisor, *, role: str | None = None, version: str = "") -> int:
    """Serve MCP until stdin closes (or SIGTERM/SIGINT); returns the exit status."""
    in_fd, out_fd = take_stdio()
    anyio.run(_serve, supervisor, in_fd, out_fd, role, version)
    return 0


def take_stdio() -> tuple[int, int]:
    """Move stdin/stdout aside for MCP before anything else could write to stdout."""
    in_fd, out_fd = os.dup(0), os.dup(1)
    devnull = os.open(os.devnull, os.O_RDONLY)
    os.dup2(devnull, 0)
    os.close(devnull)
    os.dup2(2, 1)
    sys.stdout = sys.stderr
    return in_fd, out_fd


async def _serve(
    supervisor: Supervisor, in_fd: int, out_fd: int, role: str | None, version: str
) -> None:
    def begin(tg: TaskGroup, server: McpServer, lines: MemoryObjectSendStream[list[bytes]]) -> None:
        tg.start_soon(_stop_on_signal, server, lines)
        tg.start_soon(reload_on_hangup, supervisor)

    await run_session(
        lambda send: McpServer(supervisor, send, role=role, version=version), in_fd, out_fd, begin
    )


async def run_session(
    make_server: Callable[[Callable[[bytes], None]], McpServer],
    in_fd: int,
    out_fd: int,
    begin: Callable[[TaskGroup, McpServer, MemoryObjectSendStream[list[bytes]]], None],
) -> None:
    """One MCP session on ``in_fd``/``out_fd`` until stdin ends or the line stream is closed.

    ``begin`` starts the caller's own tasks beside it (signal handling, a stop event); closing
    the stream it is given ends the session the way stdin EOF does.
    """
    outgoing: queue.SimpleQueue[bytes | None] = queue.SimpleQueue()
    send_lines, lines = anyio.create_memory_object_stream[list[bytes]](LINE_BATCHES)
    server = make_server(outgoing.put)
    async with anyio.create_task_group() as tg:
        tg.start_soon(_write_thread, out_fd, outgoing)
        begin(tg, server, send_lines)
        if _pollable(in_fd):
            tg.start_soon(_read_in_loop, in_fd, send_lines)
        else:
            _start_reader(in_fd, send_lines)
        try:
            await server.run(lines)
        finally:
            outgoing.put(None)  # the writer flushes what is queued, then ends
        tg.cancel_scope.cancel()


def _pollable(fd: int) -> bool:
    """Pipes, sockets and terminals can be waited on by the event loop; regular files cannot."""
    mode = os.fstat(fd).st_mode
    return stat.S_ISFIFO(mode) or stat.S_ISSOCK(mode) or stat.S_ISCHR(mode)


async def _read_in_loop(fd: int, send: MemoryObjectSendStream[list[bytes]]) -> None:
    """Read stdin on the event loop itself: the loop wakes on data, with no thread hand-off."""
    os.set_blocking(fd, False)
    splitter = LineSplitter()
    try:
        while True:
            try:
                chunk = os.read(fd, READ_CHUNK)
            except BlockingIOError:
                await anyio.wait_readable(fd)
                continue
            if not chunk:
                break
            if complete := splitter.feed(chunk):
                send.send_nowait(complete)
        if last := splitter.close():
            send.send_nowait(last)
    except OSError as exc:
        log.error("reading stdin failed: %s", exc)
    except (anyio.ClosedResourceError, anyio.BrokenResourceError):
        return
    send.close()


def _start_reader(fd: int, send: MemoryObjectSendStream[list[bytes]]) -> None:
    """Read stdin in a daemon thread (for a regular file, which the loop cannot wait on): a
    blocked read cannot be interrupted, so on a signal the thread is left behind rather than
    holding up the exit; on EOF it just ends."""
    loop = asyncio.get_running_loop()

    def post(batch: list[bytes] | None) -> None:
        try:
            if batch is None:
                send.close()
            else:
                send.send_nowait(batch)
        except (anyio.ClosedResourceError, anyio.BrokenResourceError):
            pass

    def pump() -> None:
        splitter = LineSplitter()
        try:
            while chunk := os.read(fd, READ_CHUNK):
                if complete := splitter.feed(chunk):
                    loop.call_soon_threadsafe(post, complete)
            if last := splitter.close():
                loop.call_soon_threadsafe(post, last)
            loop.call_soon_threadsafe(post, None)
        except RuntimeError:
            return  # the loop is gone: the server already stopped
        except OSError as exc:
            log.error("reading stdin failed: %s", exc)
            with contextlib.suppress(RuntimeError):
                loop.call_soon_threadsafe(post, None)

    threading.Thread(target=pump, name="hydrogen-mcp-stdin", daemon=True).start()


async def _write_thread(fd: int, outgoing: queue.SimpleQueue[bytes | None]) -> None:
    def drain() -> None:
        while (data := outgoing.get()) is not None:
            chunks = [data]
            while not outgoing.empty():
                more = outgoing.get()
                if more is None:
                    _write_all(fd, b"".join(chunks))
                    return
                chunks.append(more)
            if not _write_all(fd, b"".join(chunks)):
                return

    with anyio.CancelScope(shield=True):
        await anyio.to_thread.run_sync(drain)


def _write_all(fd: int, data: bytes) -> bool:
    view = memoryview(data)
    try:
        while view:
            view = view[os.write(fd, view) :]
    except (BrokenPipeError, OSError):
        return False
    return True


async def _stop_on_signal(server: McpServer, send: MemoryObjectSendStream[list[bytes]]) -> None:
    with anyio.open_signal_receiver(signal.SIGTERM, signal.SIGINT) as signals:
        async for signum in signals:
            log.warning("received %s: stopping", signal.Signals(signum).name)
            server.cancel_requests()
            send.close()
            return
