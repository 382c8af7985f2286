"""The floor: a minimal anyio + msgspec parent driving ``floor_child`` over its stdin/stdout.

It does only what any length-prefixed JSON echo over pipes must do: encode, frame, write, read,
deframe, decode, and match the answer to its caller by id, so its figures are a lower bound on
the cost of such a transport in Python, not a competitor.
"""

from __future__ import annotations

import itertools
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import anyio
import msgspec
from anyio.abc import ByteReceiveStream, ByteSendStream

from bench_support.children import SCRIPTS_DIR, module_command, stop_process
from bench_support.contenders import ECHO_PARAMS, BenchError, check_first_echo
from bench_support.floor_wire import Deframer, Request, Response, encode_frame
from bench_support.load import Call

__all__ = ["open_floor"]

NAME = "floor"


class _Slot:
    __slots__ = ("done", "result")

    def __init__(self) -> None:
        self.done = anyio.Event()
        self.result: dict[str, Any] = {}


class FloorClient:
    """Many callers share one pipe pair; the reader task hands each answer to its caller."""

    def __init__(self, stdin: ByteSendStream, stdout: ByteReceiveStream) -> None:
        self._stdin = stdin
        self._stdout = stdout
        self._ids = itertools.count(1)
        self._pending: dict[int, _Slot] = {}
        self._encoder = msgspec.json.Encoder()
        self._decoder = msgspec.json.Decoder(Response)

    async def call(self) -> dict[str, Any]:
        request_id = next(self._ids)
        slot = self._pending[request_id] = _Slot()
        request = Request(request_id, "echo", ECHO_PARAMS)
        await self._stdin.send(encode_frame(self._encoder.encode(request)))
        await slot.done.wait()
        return slot.result

    async def read_responses(self) -> None:
        deframer = Deframer()
        async for chunk in self._stdout:
            for frame in deframer.feed(chunk):
                response = self._decoder.decode(frame)
                slot = self._pending.pop(response.id)
                slot.result = response.result
                slot.done.set()
        if self._pending:
            raise BenchError(NAME, f"child closed stdout with {len(self._pending)} calls pending")


@asynccontextmanager
async def open_floor() -> AsyncIterator[Call]:
    # stderr is inherited so a crashing child's traceback reaches the terminal.
    process = await anyio.open_process(module_command("floor_child"), cwd=SCRIPTS_DIR, stderr=None)
    try:
        assert process.stdin is not None
        assert process.stdout is not None
        client = FloorClient(process.stdin, process.stdout)
        async with anyio.create_task_group() as tg:
            tg.start_soon(client.read_responses)
            await check_first_echo(NAME, client.call)
            yield client.call
            # The reader would otherwise wait for answers that will never come.
            tg.cancel_scope.cancel()
    finally:
        with anyio.CancelScope(shield=True):
            await stop_process(process)
