"""The floor's child: answer each framed echo request on stdin with a framed response on stdout.

Answers are written in request order, once per read, so a burst of requests costs one write.
Exits on EOF. Run as ``python -m bench_support.floor_child`` from the scripts directory.
"""

from __future__ import annotations

import os
import sys

import anyio
import msgspec

from bench_support.floor_wire import READ_CHUNK, Deframer, Request, Response, encode_frame


async def serve(stdin: int, stdout: int) -> None:
    # Non-blocking stdin lets the event loop wait for it; stdout stays blocking because a
    # short write to a pipe the parent is draining only ever waits briefly.
    os.set_blocking(stdin, False)
    deframer = Deframer()
    decoder = msgspec.json.Decoder(Request)
    encoder = msgspec.json.Encoder()
    while True:
        await anyio.wait_readable(stdin)
        try:
            data = os.read(stdin, READ_CHUNK)
        except BlockingIOError:
            continue
        if not data:
            return
        out = bytearray()
        for frame in deframer.feed(data):
            request = decoder.decode(frame)
            out += encode_frame(encoder.encode(Response(request.id, {"echo": request.params})))
        _write_all(stdout, out)


def _write_all(fd: int, data: bytearray) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]


def main() -> None:
    anyio.run(serve, sys.stdin.fileno(), sys.stdout.fileno())


if __name__ == "__main__":
    main()
