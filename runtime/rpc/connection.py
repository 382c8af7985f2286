"""A JSON-RPC connection over any anyio byte stream: ids, pending calls, batched writes.

Both ends use it: the supervisor over its socket to a worker, the worker over its private fd.
``run()`` owns the reader and the writer; it returns when the peer closes the stream and raises
``ProtocolError`` if the peer sends garbage. Either way every pending call is failed, so nobody
waits forever on a dead peer.

Writes are coalesced: senders queue encoded frames without awaiting, and one writer task sends
whatever accumulated in a single write. Under load this turns N small writes into one syscall.
"""

from __future__ import annotations

import itertools
from collections.abc import Awaitable, Callable
from typing import Any, Final

import anyio
from anyio.abc import ByteStream
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
        stream: ByteStream,
        *,
        on_request: RequestHandler | None = None,
        on_notification: NotificationHandler | None = None,
        max_frame_size: int = DEFAULT_MAX_FRAME_SIZE,
    ) -> None:
        self._stream = stream
        self._on_request = on_request
        self._on_notification = on_notification
        self.max_frame_size = max_frame_size
        self._ids = itertools.count(1)
        self._pending: dict[int | str, PendingCall] = {}
        self._outbox: list[bytes] = []
        self._wakeup = anyio.Event()
        self._closed = False

    # ---- outgoing -------------------------------------------------------------------------

    def _queue(self, payload: bytes) -> None:
        if self._closed:
            raise ConnectionClosed("connection is closed")
        self._outbox.append(encode_frame(payload, self.max_frame_size))
        self._wakeup.set()

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
        """Serve until the peer closes the stream. Fails every pending call on the way out."""
        failure: BaseException = ConnectionClosed("peer closed the connection")
        try:
            async with anyio.create_task_group() as tg:
                tg.start_soon(self._write_loop)
                try:
                    await self._read_loop()
                except ProtocolError as exc:
                    failure = exc
                    raise
                finally:
                    tg.cancel_scope.cancel()
        finally:
            self._closed = True
            pending, self._pending = self._pending, {}
            for call in pending.values():
                call._resolve(None, failure)

    async def _write_loop(self) -> None:
        stream = self._stream
        while True:
            await self._wakeup.wait()
            self._wakeup = anyio.Event()
            batch, self._outbox = self._outbox, []
            if batch:
                try:
                    await stream.send(batch[0] if len(batch) == 1 else b"".join(batch))
                except (anyio.BrokenResourceError, anyio.ClosedResourceError):
                    # The peer stopped reading; the read loop sees the end and settles the rest.
                    return

    async def flush(self) -> None:
        """Send everything queued so far, directly. For the last words before closing."""
        batch, self._outbox = self._outbox, []
        if batch:
            await self._stream.send(b"".join(batch))

    async def _read_loop(self) -> None:
        decoder = FrameDecoder(self.max_frame_size)
        stream = self._stream
        while True:
            try:
                chunk = await stream.receive(READ_CHUNK)
            except (anyio.EndOfStream, anyio.BrokenResourceError, anyio.ClosedResourceError):
                decoder.eof()
                return
            for frame in decoder.feed(chunk):
                await self._dispatch(frame)

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
        self._closed = True
        await self._stream.aclose()
