"""The floor's wire format: 4-byte big-endian length prefix, one JSON message per frame.

Deliberately minimal (no size limit, no error state) so the floor measures only what any
length-prefixed JSON echo over pipes must pay for in Python.
"""

from __future__ import annotations

import struct
from typing import Any, Final

import msgspec

__all__ = ["READ_CHUNK", "Deframer", "Request", "Response", "encode_frame"]

READ_CHUNK: Final = 256 * 1024
_HEADER: Final = struct.Struct(">I")


class Request(msgspec.Struct, frozen=True):
    id: int
    method: str
    params: dict[str, Any]


class Response(msgspec.Struct, frozen=True):
    id: int
    result: dict[str, Any]


def encode_frame(payload: bytes) -> bytes:
    return _HEADER.pack(len(payload)) + payload


class Deframer:
    """Feed bytes as they arrive, get back the complete frames."""

    __slots__ = ("_buffer",)

    def __init__(self) -> None:
        self._buffer = bytearray()

    def feed(self, data: bytes) -> list[bytes]:
        buf = self._buffer
        buf += data
        frames: list[bytes] = []
        pos = 0
        while len(buf) - pos >= _HEADER.size:
            (size,) = _HEADER.unpack_from(buf, pos)
            start = pos + _HEADER.size
            if len(buf) - start < size:
                break
            frames.append(bytes(buf[start : start + size]))
            pos = start + size
        del buf[:pos]
        return frames
