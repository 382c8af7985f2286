"""Length-prefixed framing: bytes in, whole frames out, with the size limit checked on the header.

A frame is a 4-byte unsigned big-endian length N followed by N bytes of payload. The decoder
never allocates for a frame before its header has been checked against ``max_frame_size``, so a
hostile peer announcing a 4 GiB frame costs nothing but the error.
"""

from __future__ import annotations

import struct

from runtime.errors import FrameTooLargeError, ProtocolError

__all__ = ["DEFAULT_MAX_FRAME_SIZE", "HEADER_SIZE", "FrameDecoder", "encode_frame"]

HEADER_SIZE = 4
# Large enough for a page of search results with embeddings, small enough that one bad peer
# cannot make the supervisor hold gigabytes.
DEFAULT_MAX_FRAME_SIZE = 16 * 1024 * 1024
_HEADER = struct.Struct(">I")


def encode_frame(payload: bytes, max_frame_size: int = DEFAULT_MAX_FRAME_SIZE) -> bytes:
    """Prefix ``payload`` with its length; refuse payloads the peer would reject."""
    if len(payload) > max_frame_size:
        raise FrameTooLargeError(len(payload), max_frame_size)
    return _HEADER.pack(len(payload)) + payload


class FrameDecoder:
    """Incremental decoder: ``feed()`` bytes as they arrive, get back the complete frames.

    After a ``ProtocolError`` the stream is out of sync for good: the decoder stays broken and
    every later ``feed()`` raises again, so a caller cannot accidentally resume mid-garbage.
    """

    __slots__ = ("_buffer", "_error", "_max", "_need")

    def __init__(self, max_frame_size: int = DEFAULT_MAX_FRAME_SIZE) -> None:
        if max_frame_size <= 0:
            raise ValueError("max_frame_size must be positive")
        self._max = max_frame_size
        self._buffer = bytearray()
        self._error: ProtocolError | None = None
        # Length of the frame whose header was already consumed, or -1 while awaiting a header.
        self._need = -1

    @property
    def buffered(self) -> int:
        """Bytes received but not yet returned as a frame, including a consumed header."""
        return len(self._buffer) + (HEADER_SIZE if self._need >= 0 else 0)

    def feed(self, data: bytes) -> list[bytes]:
        if self._error is not None:
            raise self._error
        self._buffer += data
        frames: list[bytes] = []
        buf = self._buffer
        pos = 0
        end = len(buf)
        while True:
            if self._need < 0:
                if end - pos < HEADER_SIZE:
                    break
                (size,) = _HEADER.unpack_from(buf, pos)
                if size > self._max:
                    self._error = FrameTooLargeError(size, self._max)
                    del buf[:]
                    raise self._error
                pos += HEADER_SIZE
                self._need = size
            if end - pos < self._need:
                break
            frames.append(bytes(buf[pos : pos + self._need]))
            pos += self._need
            self._need = -1
        if pos:
            del buf[:pos]
        return frames

    def eof(self) -> None:
        """Declare the end of the stream; raises if it cut a frame in half."""
        if self._error is not None:
            raise self._error
        if self._buffer or self._need >= 0:
            raise ProtocolError(
                f"stream ended inside a frame ({self.buffered} bytes of it received)"
            )
