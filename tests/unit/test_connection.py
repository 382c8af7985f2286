"""The JSON-RPC connection's public behaviour, against a scripted peer on a socketpair.

The peer end is a plain anyio socket stream that reads and writes frames by hand, so each test
decides exactly what arrives, in what order, and when the peer goes away.
"""

from __future__ import annotations

import json
import socket
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import anyio
import anyio.lowlevel
import msgspec
import pytest
from anyio.abc import SocketStream, UNIXSocketStream

from runtime.errors import FrameTooLargeError, ProtocolError
from runtime.protocol.framing import FrameDecoder, encode_frame
from runtime.protocol.messages import (
    ErrorObject,
    Message,
    Notification,
    Request,
    Response,
    decode_message,
    encode_error,
    encode_notification,
    encode_request,
    encode_result,
)
from runtime.rpc import Connection, ConnectionClosed, RemoteError

pytestmark = pytest.mark.anyio

# Every test finishes in milliseconds; this only bounds a hang.
TEST_DEADLINE = 10.0
# Far more than a socketpair's kernel buffer, so sends are taken in pieces.
LARGE = 4 * 1024 * 1024


class Peer:
    """The far end, speaking frames by hand."""

    def __init__(self, stream: SocketStream) -> None:
        self.stream = stream
        self._decoder = FrameDecoder()
        self._frames: list[bytes] = []

    async def send(self, payload: bytes) -> None:
        await self.stream.send(encode_frame(payload))

    async def send_raw(self, data: bytes) -> None:
        await self.stream.send(data)

    async def receive(self) -> Message:
        while not self._frames:
            self._frames.extend(self._decoder.feed(await self.stream.receive()))
        return decode_message(self._frames.pop(0))

    async def receive_request(self) -> Request:
        message = await self.receive()
        assert isinstance(message, Request), message
        return message

    async def receive_all_until_eof(self) -> list[Message]:
        messages: list[Message] = []
        while True:
            try:
                messages.append(await self.receive())
            except anyio.EndOfStream:
                return messages

    async def close(self) -> None:
        await self.stream.aclose()


@dataclass
class RunOutcome:
    """How ``Connection.run()`` ended."""

    ended: anyio.Event = field(default_factory=anyio.Event)
    error: ProtocolError | None = None

    async def wait(self) -> ProtocolError | None:
        await self.ended.wait()
        return self.error


def only_leaf(group: BaseExceptionGroup[ProtocolError]) -> ProtocolError:
    [leaf] = group.exceptions
    return only_leaf(leaf) if isinstance(leaf, BaseExceptionGroup) else leaf


async def run_recording(conn: Connection, outcome: RunOutcome) -> None:
    # run() may raise the ProtocolError bare or wrapped by its own task group; either is fine.
    try:
        await conn.run()
    except* ProtocolError as group:
        outcome.error = only_leaf(group)
    finally:
        outcome.ended.set()


@asynccontextmanager
async def serving(
    *,
    on_request: Callable[[Request], Awaitable[None] | None] | None = None,
    on_notification: Callable[[Notification], None] | None = None,
    max_frame_size: int | None = None,
) -> AsyncIterator[tuple[Connection, Peer, RunOutcome]]:
    """A running Connection on one end of a socketpair and a scripted peer on the other."""
    ours, theirs = socket.socketpair()
    extra: dict[str, Any] = {} if max_frame_size is None else {"max_frame_size": max_frame_size}
    conn = Connection(ours, on_request=on_request, on_notification=on_notification, **extra)
    peer = Peer(await UNIXSocketStream.from_socket(theirs))
    outcome = RunOutcome()
    with anyio.fail_after(TEST_DEADLINE):
        try:
            async with anyio.create_task_group() as tg:
                tg.start_soon(run_recording, conn, outcome)
                yield conn, peer, outcome
                await peer.close()
                await outcome.wait()
        finally:
            await peer.close()
            await conn.aclose()


def as_json(raw: msgspec.Raw | None) -> Any:
    assert raw is not None
    return json.loads(bytes(raw))


# ---- calls and answers ---------------------------------------------------------------------


async def test_request_returns_the_peers_raw_result() -> None:
    async with serving() as (conn, peer, _):

        async def answer() -> None:
            request = await peer.receive_request()
            assert (request.method, as_json(request.params)) == ("health", {"deep": True})
            await peer.send(encode_result(request.id, {"ok": True}))

        async with anyio.create_task_group() as tg:
            tg.start_soon(answer)
            result = await conn.request("health", {"deep": True})

        assert as_json(result) == {"ok": True}


async def test_out_of_order_answers_reach_their_own_callers() -> None:
    async with serving() as (conn, peer, _):
        first = conn.start_request("tools/call", {"n": 1})
        second = conn.start_request("tools/call", {"n": 2})
        sent = [await peer.receive_request(), await peer.receive_request()]
        by_n = {as_json(r.params)["n"]: r.id for r in sent}

        await peer.send(encode_result(by_n[2], "two"))
        assert as_json(await second.wait()) == "two"
        assert not first.answered

        await peer.send(encode_result(by_n[1], "one"))
        assert as_json(await first.wait()) == "one"


async def test_many_calls_answered_in_reverse_each_get_their_own_result() -> None:
    async with serving() as (conn, peer, _):
        calls = [conn.start_request("tools/call", {"n": n}) for n in range(100)]
        requests = [await peer.receive_request() for _ in calls]
        assert len({r.id for r in requests}) == len(calls), "request ids must be unique"

        for request in reversed(requests):
            await peer.send(encode_result(request.id, as_json(request.params)["n"]))

        assert [as_json(await call.wait()) for call in calls] == list(range(100))


async def test_remote_error_answer_raises_remote_error_carrying_the_error_object() -> None:
    async with serving() as (conn, peer, _):
        call = conn.start_request("tools/call", {})
        request = await peer.receive_request()

        await peer.send(encode_error(request.id, -32001, "no such tool", {"tool": "x"}))

        with pytest.raises(RemoteError) as caught:
            await call.wait()
        assert caught.value.error == ErrorObject(-32001, "no such tool", {"tool": "x"})
        assert "no such tool" in str(caught.value)


async def test_wait_answered_settles_without_raising_and_the_connection_keeps_serving() -> None:
    async with serving() as (conn, peer, outcome):
        failing = conn.start_request("tools/call", {})
        await peer.send(encode_error((await peer.receive_request()).id, -32000, "boom"))

        await failing.wait_answered()

        assert failing.answered
        with pytest.raises(RemoteError):
            await failing.wait()
        ok = conn.start_request("health", {})
        await peer.send(encode_result((await peer.receive_request()).id, "fine"))
        assert as_json(await ok.wait()) == "fine"
        assert not outcome.ended.is_set()


# ---- notifications and requests from the peer ----------------------------------------------


async def test_notify_sends_a_notification_without_an_id() -> None:
    async with serving() as (conn, peer, _):
        conn.notify("cancel", {"id": 3})

        message = await peer.receive()

        assert isinstance(message, Notification)
        assert (message.method, as_json(message.params)) == ("cancel", {"id": 3})


async def test_peer_notifications_reach_the_handler_in_order() -> None:
    send, received = anyio.create_memory_object_stream[Notification](10)

    async with serving(on_notification=send.send_nowait) as (_, peer, _):
        for n in range(3):
            await peer.send(encode_notification("progress", {"n": n}))

        got = [await received.receive() for _ in range(3)]

    assert [(m.method, as_json(m.params)) for m in got] == [
        ("progress", {"n": 0}),
        ("progress", {"n": 1}),
        ("progress", {"n": 2}),
    ]
    send.close()
    received.close()


async def test_notification_without_a_handler_is_ignored() -> None:
    async with serving() as (conn, peer, outcome):
        call = conn.start_request("health", {})
        request = await peer.receive_request()

        await peer.send(encode_notification("log", {"level": "info", "message": "hi"}))
        await peer.send(encode_result(request.id, "still here"))

        assert as_json(await call.wait()) == "still here"
        assert not outcome.ended.is_set()


async def test_peer_request_goes_to_the_handler_and_respond_answers_it() -> None:
    conns: list[Connection] = []

    def on_request(request: Request) -> None:
        conns[0].respond(request.id, {"echo": as_json(request.params)})

    async with serving(on_request=on_request) as (conn, peer, _):
        conns.append(conn)
        await peer.send(encode_request("req-7", "tools/call", {"x": 1}))

        answer = await peer.receive()

    assert isinstance(answer, Response)
    assert (answer.id, answer.error) == ("req-7", None)
    assert as_json(answer.result) == {"echo": {"x": 1}}


async def test_async_request_handler_is_awaited_and_respond_error_answers_with_an_error() -> None:
    conns: list[Connection] = []

    async def on_request(request: Request) -> None:
        await anyio.lowlevel.checkpoint()
        conns[0].respond_error(request.id, -32601, f"no method {request.method}", {"m": 1})

    async with serving(on_request=on_request) as (conn, peer, _):
        conns.append(conn)
        await peer.send(encode_request(11, "nope", {}))

        answer = await peer.receive()

    assert isinstance(answer, Response)
    assert (answer.id, answer.result) == (11, None)
    assert answer.error == ErrorObject(-32601, "no method nope", {"m": 1})


# ---- the peer going away -------------------------------------------------------------------


async def test_peer_closing_fails_every_pending_call_with_connection_closed() -> None:
    async with serving() as (conn, peer, outcome):
        calls = [conn.start_request("tools/call", {"n": n}) for n in range(3)]
        for _ in calls:
            await peer.receive_request()

        await peer.close()

        for call in calls:
            with pytest.raises(ConnectionClosed):
                await call.wait()
        assert await outcome.wait() is None


async def test_sending_after_the_connection_ended_fails_at_once() -> None:
    async with serving() as (conn, peer, outcome):
        await peer.close()
        await outcome.wait()

        with pytest.raises(ConnectionClosed):
            conn.start_request("health", {})
        with pytest.raises(ConnectionClosed):
            conn.notify("log", {})


async def test_aclose_ends_run_fails_pending_calls_and_the_peer_sees_end_of_stream() -> None:
    async with serving() as (conn, peer, outcome):
        call = conn.start_request("health", {})
        await peer.receive_request()

        await conn.aclose()

        with pytest.raises(ConnectionClosed):
            await call.wait()
        assert await outcome.wait() is None
        with pytest.raises(anyio.EndOfStream):
            await peer.receive()


async def test_peer_closing_mid_frame_is_a_protocol_error() -> None:
    async with serving() as (conn, peer, outcome):
        call = conn.start_request("health", {})
        await peer.receive_request()

        await peer.send_raw(encode_frame(b'{"jsonrpc": "2.0"}')[:-4])
        await peer.close()

        error = await outcome.wait()
        assert error is not None
        assert "ended inside a frame" in str(error)
        with pytest.raises(ProtocolError):
            await call.wait()


# ---- garbage from the peer -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("frame", "expected"),
    [
        pytest.param(b"not json", "frame is not a JSON-RPC object", id="not-json"),
        pytest.param(b'{"jsonrpc": "1.0", "id": 1, "result": 1}', "'jsonrpc'", id="version"),
        pytest.param(
            b'{"jsonrpc": "2.0", "id": 999, "result": 1}',
            "response to unknown request id 999",
            id="unknown-id",
        ),
        pytest.param(
            b'{"jsonrpc": "2.0", "id": 1, "method": "surprise"}',
            "unexpected request 'surprise'",
            id="request-without-handler",
        ),
    ],
)
async def test_garbage_from_peer_ends_run_with_protocol_error_and_fails_pending_calls(
    frame: bytes, expected: str
) -> None:
    async with serving() as (conn, peer, outcome):
        call = conn.start_request("health", {})
        await peer.receive_request()

        await peer.send(frame)

        error = await outcome.wait()
        assert error is not None
        assert expected in str(error)
        with pytest.raises(ProtocolError):
            await call.wait()


async def test_oversized_frame_header_from_peer_is_refused_without_the_payload() -> None:
    async with serving(max_frame_size=1024) as (_, peer, outcome):
        await peer.send_raw((1025).to_bytes(4, "big"))

        error = await outcome.wait()

    assert isinstance(error, FrameTooLargeError)
    assert (error.size, error.limit) == (1025, 1024)


async def test_outgoing_message_over_the_frame_limit_is_refused_and_nothing_is_sent() -> None:
    async with serving(max_frame_size=256) as (conn, peer, _):
        with pytest.raises(FrameTooLargeError):
            conn.start_request("tools/call", {"blob": "x" * 300})
        with pytest.raises(FrameTooLargeError):
            conn.notify("log", {"blob": "x" * 300})

        call = conn.start_request("health", {})
        request = await peer.receive_request()
        assert request.method == "health"
        await peer.send(encode_result(request.id, "ok"))
        assert as_json(await call.wait()) == "ok"


# ---- sizes beyond the kernel buffer --------------------------------------------------------


async def test_large_messages_arrive_whole_and_in_the_order_they_were_sent() -> None:
    async with serving() as (conn, peer, _):
        call = conn.start_request("tools/call", {"blob": "a" * LARGE})
        conn.notify("after", {"n": 1})

        request = await peer.receive_request()
        following = await peer.receive()

        assert as_json(request.params) == {"blob": "a" * LARGE}
        assert isinstance(following, Notification)
        assert following.method == "after"

        await peer.send(encode_result(request.id, "b" * LARGE))
        assert as_json(await call.wait()) == "b" * LARGE


async def test_flush_before_run_puts_everything_queued_on_the_wire() -> None:
    ours, theirs = socket.socketpair()
    conn = Connection(ours)
    peer = Peer(await UNIXSocketStream.from_socket(theirs))
    received: list[Message] = []

    async def read_until_eof() -> None:
        received.extend(await peer.receive_all_until_eof())

    with anyio.fail_after(TEST_DEADLINE):
        try:
            async with anyio.create_task_group() as tg:
                tg.start_soon(read_until_eof)
                conn.notify("last", {"blob": "z" * LARGE})
                conn.notify("words", {})

                await conn.flush()
                await conn.aclose()
        finally:
            await peer.close()
            await conn.aclose()

    assert [m.method for m in received if isinstance(m, Notification)] == ["last", "words"]
    first = received[0]
    assert isinstance(first, Notification)
    assert as_json(first.params) == {"blob": "z" * LARGE}


async def test_flushed_messages_reach_the_peer_before_close() -> None:
    received: list[Message] = []
    async with serving() as (conn, peer, _), anyio.create_task_group() as tg:

        async def read_until_eof() -> None:
            received.extend(await peer.receive_all_until_eof())

        tg.start_soon(read_until_eof)
        conn.notify("last", {"blob": "z" * LARGE})
        conn.notify("words", {})

        await conn.flush()
        await conn.aclose()

    assert [m.method for m in received if isinstance(m, Notification)] == ["last", "words"]
    first = received[0]
    assert isinstance(first, Notification)
    assert as_json(first.params) == {"blob": "z" * LARGE}
