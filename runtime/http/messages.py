"""Request and response bodies of the HTTP API, as the msgspec types that decode and encode them.

The OpenAPI document's schemas are generated from these same types (``runtime.http.openapi``),
so what the document promises is what the server parses and sends. Optional response fields
are left out when they do not apply (``UNSET``), never sent as null.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal, cast

import msgspec
from msgspec import UNSET, UnsetType

from runtime.alerts.events import Alert

__all__ = [
    "BatchItem",
    "BatchRequest",
    "BatchResponse",
    "ErrorResponse",
    "ExecuteCall",
    "ExecuteResponse",
    "HealthResponse",
    "PluginHealth",
    "ToolCounts",
    "ToolEntry",
    "ToolsResponse",
    "batch_request_type",
]

ToolName = Annotated[str, msgspec.Meta(min_length=1, description="A tool name from GET /tools.")]


class ExecuteCall(msgspec.Struct, frozen=True):
    """One call. Keys other than these are ignored, as the platform's API did."""

    tool: ToolName
    params: (
        Annotated[dict[str, Any], msgspec.Meta(description="The tool's params (its schema).")]
        | None
    ) = None
    timeout: (
        Annotated[
            float,
            msgspec.Meta(gt=0, description="Seconds; at most the tool's own timeout."),
        ]
        | None
    ) = None


class BatchRequest(msgspec.Struct, frozen=True):
    calls: list[ExecuteCall]


def batch_request_type(max_calls: int) -> type[BatchRequest]:
    """``BatchRequest`` with the configured maximum number of calls, in its schema too."""
    calls = Annotated[
        list[ExecuteCall],
        msgspec.Meta(max_length=max_calls, description="Run concurrently; at most max_calls."),
    ]
    kind = msgspec.defstruct("BatchRequest", [("calls", calls)], bases=(BatchRequest,), frozen=True)
    return cast(type[BatchRequest], kind)


class ExecuteResponse(msgspec.Struct, frozen=True, omit_defaults=True):
    """The platform's shape: ``success``, ``tool``, then ``result`` or ``error``.

    ``code`` names the kind of failure (``tool_failed``, ``timeout``, ``invalid_params``...);
    ``field`` the failing param; ``available_tools`` what may be called instead.
    """

    success: bool
    tool: str | None
    plugin: str | UnsetType = UNSET
    result: dict[str, Any] | UnsetType = UNSET
    cached: bool | UnsetType = UNSET
    duration_ms: float | UnsetType = UNSET
    error: str | UnsetType = UNSET
    code: str | UnsetType = UNSET
    field: str | UnsetType = UNSET
    available_tools: list[str] | UnsetType = UNSET


class BatchItem(ExecuteResponse, frozen=True, omit_defaults=True, kw_only=True):
    """One call's outcome in a batch; ``status`` is what POST /execute would have answered."""

    status: int


class BatchResponse(msgspec.Struct, frozen=True):
    results: list[BatchItem]
    total: int
    succeeded: int
    failed: int


class ToolEntry(msgspec.Struct, frozen=True):
    name: str
    type: Literal["plugin"]
    plugin: str
    available: bool
    description: str
    schema: dict[str, Any]
    timeout: float
    cache_ttl: float


class ToolsResponse(msgspec.Struct, frozen=True):
    tools: list[ToolEntry]
    total: int


class PluginHealth(msgspec.Struct, frozen=True):
    state: str
    available: bool
    tools: int
    restarts: int
    reloads: int
    reason: str
    last_reload: dict[str, Any] | None = None


class ToolCounts(msgspec.Struct, frozen=True):
    total: int
    available: int


class HealthResponse(msgspec.Struct, frozen=True):
    """``healthy``; ``degraded`` (a plugin is not serving, or an alert fires); ``starting``."""

    status: Literal["healthy", "degraded", "starting"]
    uptime_s: float
    plugins: dict[str, PluginHealth]
    tools: ToolCounts
    alerts: list[Alert]
    problems: list[str]


class ErrorResponse(msgspec.Struct, frozen=True):
    """Errors that are not about one call: authentication, body size, a bad batch."""

    detail: str
    code: str
