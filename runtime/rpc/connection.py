"""A JSON-RPC connection over a connected stream socket: ids, pending calls, cancellation-safe I/O.

Both ends use it: the supervisor over its end of the socketpair to a worker, the worker over
its private copy of stdin. ``run()`` owns the reader and the writer; it returns when the peer
closes the socket and raises ``ProtocolError`` if the peer sends garbage. Either way every
pending call is failed, so nobody waits forever on a dead peer.

Why a raw non-blocking socket instead of an anyio byte stream: a tool call is a few hundred
bytes each way, so the cost per call is event-loop iterations, not bytes. Sends go straight to
the kernel from the sender (no writer task to wake); only what the kernel does not take is
buffered and drained by the writer task when the socket is writable. The reader tries
``recv`` first and parks in ``anyio.wait_readable`` only when nothing is there. This halves the
loop iterations per call compared with stream objects and stays backend-neutral.
"""

from __future__ import annotations

import itertools
import socket
from collections.abc import Awaitable, Callable
from typing import Any, Final

import anyio
import anyio.lowlevel
from msgspec import Raw

from runtime.errors import ProtocolError
from runtime.protocol.framing import DEFAULT_MAX_FRAME_SIZE, FrameDecoder, encode_frame
from runtime.protocol.messages import (
    ErrorObject,
    Notification,
    Request,
    Response,
    decode_message,
    encode_error,
    encode_notification,
    encode_request,
    encode_result,
)

__all__ = ["Connection", "ConnectionClosed", "PendingCall", "RemoteError"]

READ_CHUNK: Final = 256 * 1024
# A peer that keeps the socket full must not starve the other tasks: yield to the loop after
# this many back-to-back reads that each found data waiting.
READS_PER_YIELD: Final = 16
# Socket errors that mean the peer is gone, as opposed to a bug of ours.
_PEER_GONE: Final = (BrokenPipeError, ConnectionResetError, ConnectionAbortedError)


class ConnectionClosed(Exception):
    """The peer went away before answering. Internal; callers translate it."""


class RemoteError(Exception):
    """The peer answered with a JSON-RPC error object. Internal; callers translate it."""

    def __init__(self, error: ErrorObject) -> None:
        self.error = error
        super().__init__(f"{error.code}: {error.message}")


class PendingCall:
    """One outgoing request, waiting for its response."""

    __slots__ = ("_done", "_error", "_result", "id")

    def __init__(self, request_id: int) -> None:
        self.id = request_id
        self._done = anyio.Event()
        self._result: Raw | None = None
        self._error: BaseException | None = None

    @property
    def answered(self) -> bool:
        return self._done.is_set()

    def _resolve(self, result: Raw | None, error: BaseException | None) -> None:
        if not self._done.is_set():
            self._result, self._error = result, error
            self._done.set()

    async def wait(self) -> Raw:
        """The raw result; raises ``RemoteError`` or ``ConnectionClosed``."""
        await self._done.wait()
        if self._error is not None:
            raise self._error
        assert self._result is not None
        return self._result

    async def wait_answered(self) -> None:
        """Wait until the call is settled either way, without raising."""
        await self._done.wait()


RequestHandler = Callable[[Request], Awaitable[None] | None]
NotificationHandler = Callable[[Notification], None]


class Connection:
    def __init__(
        self,
        sock: socket.socket,
        *,
        on_request: RequestHandler | None = None,
        on_notification: NotificationHandler | None = None,
        max_frame_size: int = DEFAULT_MAX_FRAME_SIZE,
    ) -> None:
        sock.setblocking(False)
        self._sock = sock
        self._on_request = on_request
        self._on_notification = on_notification
        self.max_frame_size = max_frame_size
        self._ids = itertools.count(1)
        self._pending: dict[int | str, PendingCall] = {}
        # Bytes the kernel has not taken yet, in order; only the writer task drains it.
        self._backlog = bytearray()
        self._backlog_added = anyio.Event()
        self._drain_lock = anyio.Lock()
        self._closed = False
        self._peer_gone = False

    # ---- outgoing -------------------------------------------------------------------------

    def _queue(self, payload: bytes) -> None:
        if self._closed:
            raise ConnectionClosed("connection is closed")
        frame = encode_frame(payload, self.max_frame_size)
        if self._peer_gone:
            return  # the read loop sees the end and settles every pending call
        if self._backlog:
            self._backlog += frame  # keep order behind what is already waiting
            return
        try:
            sent = self._sock.send(frame)
        except BlockingIOError:
            sent = 0
        except _PEER_GONE:
            self._peer_gone = True
            return
        if sent < len(frame):
            self._backlog += frame[sent:]
            self._backlog_added.set()

    def start_request(self, method: str, params: Any) -> PendingCall:
        call = PendingCall(next(self._ids))
        self._queue(encode_request(call.id, method, params))
        self._pending[call.id] = call
        return call

    async def request(self, method: str, params: Any) -> Raw:
        return await self.start_request(method, params).wait()

    def notify(self, method: str, params: Any) -> None:
        self._queue(encode_notification(method, params))

    def respond(self, request_id: int | str, result: Any) -> None:
        self._queue(encode_result(request_id, result))

    def respond_error(
        self, request_id: int | str | None, code: int, message: str, data: Any = None
    ) -> None:
        self._queue(encode_error(request_id, code, message, data))

    @property
    def pending_count(self) -> int:
        return len(self._pending)

    # ---- the loop -------------------------------------------------------------------------

    async def run(self) -> None:
        """Serve until the peer closes the socket. Fails every pending call on the way out."""
        failure: BaseException = ConnectionClosed("peer closed the connection")
        broken: ProtocolError | None = None
        try:
            async with anyio.create_task_group() as tg:
                tg.start_soon(self._write_loop)
                try:
                    await self._read_loop()
                except ProtocolError as exc:
                    # Caught inside the group and raised after it, so callers get the plain
                    # ProtocolError rather than an ExceptionGroup around it.
                    failure = broken = exc
                finally:
                    tg.cancel_scope.cancel()
        finally:
            self._closed = True
            pending, self._pending = self._pending, {}
            for call in pending.values():
                call._resolve(None, failure)
        if broken is not None:
            raise broken

    async def _write_loop(self) -> None:
        while True:
            await self._backlog_added.wait()
            self._backlog_added = anyio.Event()
            await self.flush()

    async def flush(self) -> None:
        """Wait until everything queued so far is in the kernel (or the peer is gone)."""
        # One drainer at a time: two tasks parked on the same fd is an error in anyio.
        async with self._drain_lock:
            await self._drain()

    async def _drain(self) -> None:
        sock = self._sock
        while self._backlog and not self._peer_gone:
            try:
                await anyio.wait_writable(sock)
                sent = sock.send(self._backlog)
            except BlockingIOError:
                continue
            except (*_PEER_GONE, anyio.ClosedResourceError, OSError):
                self._peer_gone = True
                break
            del self._backlog[:sent]
        if self._peer_gone:
            self._backlog.clear()

    async def _read_loop(self) -> None:
        decoder = FrameDecoder(self.max_frame_size)
        sock = self._sock
        streak = 0
        while True:
            try:
                chunk = sock.recv(READ_CHUNK)
            except BlockingIOError:
                streak = 0
                try:
                    await anyio.wait_readable(sock)
                except anyio.ClosedResourceError:
                    return  # closed by us (aclose)
                continue
            except _PEER_GONE:
                chunk = b""
            except OSError:
                if self._sock.fileno() < 0:
                    return  # closed by us (aclose)
                raise
            if not chunk:
                decoder.eof()
                return
            for frame in decoder.feed(chunk):
                await self._dispatch(frame)
            streak += 1
            if streak >= READS_PER_YIELD:
                streak = 0
                await anyio.lowlevel.checkpoint()

    async def _dispatch(self, frame: bytes) -> None:
        message = decode_message(frame)
        if isinstance(message, Response):
            call = self._pending.pop(message.id, None) if message.id is not None else None
            if call is None:
                raise ProtocolError(f"response to unknown request id {message.id!r}")
            if message.error is not None:
                call._resolve(None, RemoteError(message.error))
            else:
                call._resolve(message.result, None)
        elif isinstance(message, Request):
            if self._on_request is None:
                raise ProtocolError(f"unexpected request {message.method!r}")
            outcome = self._on_request(message)
            if outcome is not None:
                await outcome
        elif self._on_notification is not None:
            self._on_notification(message)

    async def aclose(self) -> None:
        """Close our end: the peer sees EOF; our own reader and writer stop."""
        if self._sock.fileno() < 0:
            return
        self._closed = True
        anyio.notify_closing(self._sock)
        self._sock.close()
        await anyio.lowlevel.checkpoint()
