"""The MCP wire format, sans I/O: one stdin line in, one typed message out; messages to bytes.

Theory of operation. MCP over stdio is newline-delimited JSON-RPC 2.0. ``parse_line`` turns one
line into exactly one of:

    Request        has a method and an id (str or int): must be answered, once
    Notification   has a method and no id: never answered
    Response       a reply to a request of ours (we send none, so it is ignored)
    Invalid        not a usable message: answered with ``Invalid.error`` when the id is known,
                   else with id null (parse errors always get id null)

Nothing here imports anyio or touches a pipe; the server (``runtime.mcp.server``) owns the
I/O and concurrency, and this module is tested with plain bytes.
"""

from __future__ import annotations

from typing import Any, Final

import msgspec

__all__ = [
    "INTERNAL_ERROR",
    "INVALID_PARAMS",
    "INVALID_REQUEST",
    "LATEST_VERSION",
    "LOG_LEVELS",
    "METHOD_NOT_FOUND",
    "PARSE_ERROR",
    "SUPPORTED_VERSIONS",
    "ErrorObject",
    "ErrorResponse",
    "Invalid",
    "Notification",
    "OutgoingNotification",
    "Request",
    "Response",
    "Result",
    "encode",
    "mcp_level",
    "negotiate_version",
    "parse_line",
    "python_level",
]

PARSE_ERROR: Final = -32700
INVALID_REQUEST: Final = -32600
METHOD_NOT_FOUND: Final = -32601
INVALID_PARAMS: Final = -32602
INTERNAL_ERROR: Final = -32603

# Newest first: an unknown (newer or older) version is answered with the first.
SUPPORTED_VERSIONS: Final = ("2025-11-25", "2025-06-18", "2025-03-26")
LATEST_VERSION: Final = SUPPORTED_VERSIONS[0]

# MCP's syslog levels and the Python logging level each one starts at.
LOG_LEVELS: Final[dict[str, int]] = {
    "debug": 10,
    "info": 20,
    "notice": 25,
    "warning": 30,
    "error": 40,
    "critical": 50,
    "alert": 60,
    "emergency": 70,
}
_LEVELS_DESCENDING: Final = sorted(LOG_LEVELS.items(), key=lambda item: -item[1])

RequestId = int | str


class Request(msgspec.Struct, frozen=True):
    id: RequestId
    method: str
    params: dict[str, Any]


class Notification(msgspec.Struct, frozen=True):
    method: str
    params: dict[str, Any]


class Response(msgspec.Struct, frozen=True):
    id: RequestId | None


class ErrorObject(msgspec.Struct, frozen=True, omit_defaults=True):
    code: int
    message: str
    data: Any = None


class Invalid(msgspec.Struct, frozen=True):
    """A line that is not a usable message; ``id`` is None when it could not be trusted."""

    id: RequestId | None
    error: ErrorObject


Incoming = Request | Notification | Response | Invalid


class _Envelope(msgspec.Struct):
    """Any JSON-RPC object; which fields are present decides what it is."""

    jsonrpc: str | msgspec.UnsetType = msgspec.UNSET
    id: Any = msgspec.UNSET
    method: Any = msgspec.UNSET
    params: Any = msgspec.UNSET
    result: Any = msgspec.UNSET
    error: Any = msgspec.UNSET


_decoder: Final = msgspec.json.Decoder(_Envelope)


# A client could send a line without end; past this it is dropped with an error, never buffered.
MAX_LINE_BYTES: Final = 16 * 1024 * 1024
# What the splitter yields in place of a line it dropped for size.
OVERSIZED_LINE: Final = b"\x00oversized"


class LineSplitter:
    """Bytes in, complete lines out, with ``MAX_LINE_BYTES`` enforced while a line is still
    arriving (the rest of an oversized line is skipped up to its newline)."""

    def __init__(self, max_line: int = MAX_LINE_BYTES) -> None:
        self._max = max_line
        self._pending = b""
        self._skipping = False

    def feed(self, chunk: bytes) -> list[bytes]:
        lines: list[bytes] = []
        data = self._pending + chunk if self._pending else chunk
        self._pending = b""
        start = 0
        while (end := data.find(b"\n", start)) >= 0:
            if self._skipping:
                self._skipping = False
            else:
                lines.append(data[start:end] if end - start <= self._max else OVERSIZED_LINE)
            start = end + 1
        if self._skipping:
            return lines
        if len(data) - start > self._max:
            lines.append(OVERSIZED_LINE)
            self._skipping = True
        else:
            self._pending = data[start:]
        return lines

    def close(self) -> list[bytes]:
        """At EOF: a last line without newline, if any."""
        rest, self._pending = self._pending, b""
        return [rest] if rest and not self._skipping else []


def parse_line(line: bytes) -> Incoming | None:
    """Classify one line; None for a blank line (tolerated between messages)."""
    if line is OVERSIZED_LINE:
        return Invalid(
            None,
            ErrorObject(INVALID_REQUEST, f"message over {MAX_LINE_BYTES} bytes: dropped"),
        )
    if not line.strip():
        return None
    try:
        env = _decoder.decode(line)
    except msgspec.ValidationError:
        # Valid JSON, but not an object (a batch, a number...) or jsonrpc not a string.
        return Invalid(None, ErrorObject(INVALID_REQUEST, "expected a JSON-RPC 2.0 object"))
    except msgspec.DecodeError as exc:
        return Invalid(None, ErrorObject(PARSE_ERROR, f"parse error: {exc}"))
    has_id = env.id is not msgspec.UNSET
    if has_id and (not isinstance(env.id, int | str) or isinstance(env.id, bool)):
        return Invalid(None, ErrorObject(INVALID_REQUEST, "id must be a string or an integer"))
    msg_id: RequestId | None = env.id if has_id else None
    if env.jsonrpc != "2.0":
        return Invalid(msg_id, ErrorObject(INVALID_REQUEST, 'jsonrpc must be "2.0"'))
    if env.method is msgspec.UNSET:
        if has_id and (env.result is not msgspec.UNSET or env.error is not msgspec.UNSET):
            return Response(msg_id)
        return Invalid(msg_id, ErrorObject(INVALID_REQUEST, "a request needs a method"))
    if not isinstance(env.method, str):
        return Invalid(msg_id, ErrorObject(INVALID_REQUEST, "method must be a string"))
    params = {} if env.params is msgspec.UNSET or env.params is None else env.params
    if not isinstance(params, dict):
        if not has_id:
            return Invalid(None, ErrorObject(INVALID_PARAMS, "params must be an object"))
        return Invalid(msg_id, ErrorObject(INVALID_PARAMS, "params must be an object"))
    if msg_id is None:
        return Notification(env.method, params)
    return Request(msg_id, env.method, params)


# ---- outgoing --------------------------------------------------------------------------------


class Result(msgspec.Struct, frozen=True, tag_field="jsonrpc", tag="2.0"):
    id: RequestId
    result: Any


class ErrorResponse(msgspec.Struct, frozen=True, tag_field="jsonrpc", tag="2.0"):
    id: RequestId | None
    error: ErrorObject


class OutgoingNotification(msgspec.Struct, frozen=True, tag_field="jsonrpc", tag="2.0"):
    method: str
    params: Any


Outgoing = Result | ErrorResponse | OutgoingNotification

_encoder: Final = msgspec.json.Encoder()


def encode(message: Outgoing) -> bytes:
    """One message as one line; JSON never contains a raw newline, so framing is safe."""
    return _encoder.encode(message) + b"\n"


def negotiate_version(requested: object) -> str:
    """The client's version when we speak it, else our latest (never an error)."""
    return (
        requested
        if isinstance(requested, str) and requested in SUPPORTED_VERSIONS
        else (LATEST_VERSION)
    )


def mcp_level(python: int) -> str:
    """The MCP level of a Python log record (DEBUG..CRITICAL map onto debug..critical)."""
    for name, start in _LEVELS_DESCENDING:
        if python >= start and start <= LOG_LEVELS["critical"]:
            return name
    return "debug"


def python_level(level: str) -> int | None:
    return LOG_LEVELS.get(level)
