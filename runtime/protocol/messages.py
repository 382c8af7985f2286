"""Typed JSON-RPC 2.0 messages of the supervisor <-> worker protocol, and their codec.

Theory of operation: one frame carries one JSON-RPC message. JSON-RPC has no tag field, so an
incoming payload is first decoded into an ``Envelope`` whose ``params``/``result`` stay raw JSON;
``decode_message`` classifies it by which members are present (request, notification, response)
and the receiver then decodes ``params`` with the typed decoder registered for the method. Raw
members mean a tool's result is parsed exactly once, by whoever finally needs it.

See docs/protocol.md for the methods, their direction and their error codes.
"""

from __future__ import annotations

from typing import Any, Final, TypeVar

import msgspec
from msgspec import Raw, Struct

from runtime.errors import ProtocolError

__all__ = [
    "CALL",
    "CANCEL",
    "HEALTH",
    "INITIALIZE",
    "LOG",
    "PROGRESS",
    "PROTOCOL_VERSION",
    "SHUTDOWN",
    "SUPPORTED_VERSIONS",
    "CallParams",
    "CancelParams",
    "Confinement",
    "ErrorCode",
    "ErrorObject",
    "HealthResult",
    "InitializeParams",
    "InitializeResult",
    "Limits",
    "LogParams",
    "Message",
    "Notification",
    "ProgressParams",
    "Request",
    "Response",
    "ToolSpec",
    "decode_message",
    "decode_params",
    "encode_error",
    "encode_notification",
    "encode_request",
    "encode_result",
]

PROTOCOL_VERSION: Final = 1
SUPPORTED_VERSIONS: Final = (1,)

# Methods. Requests expect a response; notifications never get one.
INITIALIZE: Final = "initialize"  # supervisor -> worker request, always first
CALL: Final = "tools/call"  # supervisor -> worker request
HEALTH: Final = "health"  # supervisor -> worker request
SHUTDOWN: Final = "shutdown"  # supervisor -> worker request; worker runs cleanup hooks
CANCEL: Final = "cancel"  # supervisor -> worker notification
LOG: Final = "log"  # worker -> supervisor notification
PROGRESS: Final = "progress"  # worker -> supervisor notification


class ErrorCode:
    """JSON-RPC error codes; the -320xx range is Hydrogen's own."""

    PARSE_ERROR: Final = -32700
    INVALID_REQUEST: Final = -32600
    METHOD_NOT_FOUND: Final = -32601
    INVALID_PARAMS: Final = -32602
    INTERNAL_ERROR: Final = -32603
    TOOL_FAILED: Final = -32000
    TOOL_NOT_FOUND: Final = -32001
    CANCELLED: Final = -32002
    LOAD_FAILED: Final = -32003
    VERSION_MISMATCH: Final = -32004
    RESULT_TOO_LARGE: Final = -32005
    NOT_INITIALIZED: Final = -32006


# ---- method payloads ---------------------------------------------------------------------


class Limits(Struct, frozen=True, forbid_unknown_fields=True):
    """Resource limits the worker applies to itself before importing plugin code."""

    cpu_seconds: int | None = None
    memory_bytes: int | None = None
    address_space_bytes: int | None = None
    open_files: int | None = None
    file_size_bytes: int | None = None
    sync_threads: int = 4


class Confinement(Struct, frozen=True, forbid_unknown_fields=True):
    """What the worker locks itself into before importing plugin code.

    Built by the supervisor from the plugin's declared permissions (already checked against its
    profile's grants). The interpreter, the runtime and the plugin's own folder are always
    readable and the private work dir writable; the worker adds those itself.
    """

    fs_read: tuple[str, ...] = ()
    fs_write: tuple[str, ...] = ()
    # None: no network at all (a new network namespace). Otherwise allowed "host:port" targets;
    # the kernel layer enforces their ports.
    network: tuple[str, ...] | None = None
    subprocess: bool = False
    unix_sockets: tuple[str, ...] = ()
    # False only when the operator allows degraded mode: apply what the kernel offers, report
    # the rest. True: a layer that cannot be applied fails the start.
    required: bool = True
    # Named in denial messages so the operator knows which file to edit.
    profile_path: str = ""
    # The private work dir, and the size of the tmpfs mounted over it (None: no quota).
    workdir: str = ""
    disk_bytes: int | None = None


class ToolSpec(Struct, frozen=True):
    name: str
    description: str = ""
    input_schema: dict[str, Any] = msgspec.field(default_factory=dict)


class InitializeParams(Struct, frozen=True):
    protocol_versions: list[int]
    plugin: str
    root: str
    class_name: str
    manifest: dict[str, Any]
    tools: list[str]
    limits: Limits
    max_frame_size: int
    supervisor_pid: int
    confinement: Confinement | None = None


class InitializeResult(Struct, frozen=True):
    protocol_version: int
    plugin: str
    version: str
    pid: int
    tools: list[ToolSpec]
    # Layer name -> what the worker actually put in force ("off" when not applied).
    layers: dict[str, str] = msgspec.field(default_factory=dict)
    # The worker's guardian process (runtime/worker/guardian.py), not a plugin descendant.
    guardian_pid: int | None = None


class CallParams(Struct, frozen=True):
    tool: str
    arguments: dict[str, Any]


class CancelParams(Struct, frozen=True):
    id: int


class HealthResult(Struct, frozen=True):
    ok: bool
    detail: dict[str, Any] = msgspec.field(default_factory=dict)


class LogParams(Struct, frozen=True):
    level: str
    message: str
    logger: str = ""
    request_id: int | None = None


class ProgressParams(Struct, frozen=True):
    request_id: int
    progress: float
    total: float | None = None
    message: str | None = None


class ErrorObject(Struct, frozen=True, omit_defaults=True):
    code: int
    message: str
    data: Any = None


# ---- envelopes -----------------------------------------------------------------------------

_ABSENT = Raw()


class _Envelope(Struct):
    jsonrpc: str = ""
    id: int | str | None = None
    method: str | None = None
    params: Raw = _ABSENT
    result: Raw = _ABSENT
    error: ErrorObject | None = None


class Request(Struct, frozen=True):
    id: int | str
    method: str
    params: Raw


class Notification(Struct, frozen=True):
    method: str
    params: Raw


class Response(Struct, frozen=True):
    id: int | str | None
    result: Raw | None
    error: ErrorObject | None


Message = Request | Notification | Response

_envelope_decoder = msgspec.json.Decoder(_Envelope)
_encoder = msgspec.json.Encoder()


def decode_message(payload: bytes) -> Message:
    """Classify one frame's payload; anything that is not JSON-RPC 2.0 is a ``ProtocolError``."""
    try:
        env = _envelope_decoder.decode(payload)
    except (msgspec.DecodeError, UnicodeDecodeError, RecursionError) as exc:
        raise ProtocolError(f"frame is not a JSON-RPC object: {exc}") from exc
    if env.jsonrpc != "2.0":
        raise ProtocolError(f"'jsonrpc' must be \"2.0\", got {env.jsonrpc!r}")
    if env.method is not None:
        if env.result is not _ABSENT or env.error is not None:
            raise ProtocolError(f"message for method {env.method!r} also has result or error")
        params = env.params if env.params is not _ABSENT else Raw(b"{}")
        if env.id is None:
            return Notification(env.method, params)
        return Request(env.id, env.method, params)
    has_result = env.result is not _ABSENT
    if has_result == (env.error is not None):
        raise ProtocolError("a response needs exactly one of 'result' and 'error'")
    return Response(env.id, env.result if has_result else None, env.error)


_param_decoders: dict[type[Any], msgspec.json.Decoder[Any]] = {}


T = TypeVar("T")


def decode_params(raw: Raw | bytes, kind: type[T]) -> T:
    """Decode a request's params (or a result) into its typed struct."""
    decoder = _param_decoders.get(kind)
    if decoder is None:
        decoder = _param_decoders[kind] = msgspec.json.Decoder(kind)
    # msgspec reports invalid UTF-8 inside strings and nesting deeper than the interpreter's
    # recursion limit with these, not with DecodeError; both come from the peer's bytes.
    try:
        return decoder.decode(raw)  # type: ignore[no-any-return]
    except (msgspec.DecodeError, UnicodeDecodeError, RecursionError) as exc:
        raise ProtocolError(f"bad {kind.__name__}: {exc}") from exc


class _OutRequest(Struct):
    jsonrpc: str
    id: int | str
    method: str
    params: Any


class _OutNotification(Struct):
    jsonrpc: str
    method: str
    params: Any


class _OutResult(Struct):
    jsonrpc: str
    id: int | str | None
    result: Any


class _OutError(Struct):
    jsonrpc: str
    id: int | str | None
    error: ErrorObject


def encode_request(request_id: int | str, method: str, params: Any) -> bytes:
    return _encoder.encode(_OutRequest("2.0", request_id, method, params))


def encode_notification(method: str, params: Any) -> bytes:
    return _encoder.encode(_OutNotification("2.0", method, params))


def encode_result(request_id: int | str | None, result: Any) -> bytes:
    """Encode a success response. Raises ``TypeError`` for values JSON cannot carry."""
    return _encoder.encode(_OutResult("2.0", request_id, result))


def encode_error(request_id: int | str | None, code: int, message: str, data: Any = None) -> bytes:
    return _encoder.encode(_OutError("2.0", request_id, ErrorObject(code, message, data)))
