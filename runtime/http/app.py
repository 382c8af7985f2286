"""The ASGI application: the platform's endpoints over one Supervisor.

    GET  /tools           the tools this caller may call, with schemas and availability
    POST /execute         one call: {"tool": NAME, "params": {...}, "timeout": s?}
    POST /execute/batch   {"calls": [...]}: run concurrently, one result (and status) each
    GET  /health          healthy / degraded / starting, per-plugin state, active alerts
    GET  /metrics         Prometheus text format
    GET  /openapi.json    this API's OpenAPI document (GET /docs renders it)

Bodies are decoded and encoded with msgspec (``runtime.http.messages``) and answered as raw
JSON bytes, so FastAPI serves routing and the document, and no model layer sits in the call
path. The Gatekeeper middleware has already checked the token and the body size.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from typing import Any, Final

import anyio
import msgspec
from fastapi import FastAPI, Request
from fastapi.responses import Response

from runtime.alerts.engine import AlertEngine
from runtime.host.supervisor import Supervisor
from runtime.http.auth import Identity, TokenTable
from runtime.http.calls import CallOutcome, CallService
from runtime.http.config import HttpConfig
from runtime.http.gatekeeper import Gatekeeper, identity_of
from runtime.http.health import STATUS_CODES, health_report, plugin_available
from runtime.http.messages import (
    BatchItem,
    BatchResponse,
    ErrorResponse,
    ExecuteCall,
    ExecuteResponse,
    ToolEntry,
    ToolsResponse,
    batch_request_type,
)
from runtime.http.metrics import CONTENT_TYPE, HttpMetrics
from runtime.http.openapi import install_openapi, json_body, ref
from runtime.http.plugin_watch import PluginWatch

__all__ = ["PUBLIC_PATHS", "AppParts", "create_app"]

log = logging.getLogger("hydrogen.http")

# Paths that never need a token: the API's own description.
PUBLIC_PATHS: Final = frozenset({"/openapi.json", "/docs", "/docs/oauth2-redirect"})
USAGE: Final = 'send a JSON object such as {"tool": "NAME", "params": {...}}'
BATCH_USAGE: Final = 'send {"calls": [{"tool": "NAME", "params": {...}}, ...]}'
DESCRIPTION: Final = (
    "Tools served by Hydrogen plugins, each in its own sandboxed worker process. "
    "Compatible with the platform's GET /tools, POST /execute and GET /health."
)
_AT_RE: Final = re.compile(r"^(?P<reason>.*) - at `\$(?P<path>[^`]*)`$")
_MISSING_RE: Final = re.compile(r"^Object missing required field `(?P<name>[^`]*)`$")
_PARSE_ERRORS: Final = (msgspec.DecodeError, ValueError, RecursionError)


class JsonBytes(Response):
    media_type = "application/json"


@dataclass(frozen=True)
class AppParts:
    supervisor: Supervisor
    calls: CallService
    metrics: HttpMetrics
    tokens: TokenTable
    anonymous: Identity
    config: HttpConfig
    watch: PluginWatch
    alerts: AlertEngine | None
    version: str


class _BadRequest(Exception):
    def __init__(self, message: str, field: str = "", tool: str | None = None) -> None:
        super().__init__(message)
        self.field = field
        self.tool = tool


def create_app(parts: AppParts) -> Gatekeeper:
    """The API wrapped in its Gatekeeper, ready for uvicorn."""
    config = parts.config
    public = PUBLIC_PATHS | ({"/health"} if config.public_health else set())
    app = FastAPI(
        title="Hydrogen",
        version=parts.version,
        docs_url="/docs",
        redoc_url=None,
        openapi_url="/openapi.json",
    )
    batch_type = batch_request_type(config.max_batch_calls)
    call_decoder = msgspec.json.Decoder(ExecuteCall)
    batch_decoder = msgspec.json.Decoder(batch_type)
    sup, calls, watch = parts.supervisor, parts.calls, parts.watch

    async def ready() -> None:
        # anyio's Event.wait() yields even when set: skip it on the hot path.
        if not watch.entered.is_set():
            await watch.entered.wait()

    @app.get(
        "/tools",
        response_class=JsonBytes,
        responses={200: json_body("ToolsResponse", "The tools this caller may call.")},
        summary="List the tools this caller may call",
    )
    async def list_tools(request: Request) -> Response:
        await ready()
        infos = sup.tools(caller=identity_of(request.scope).role)
        states = {name: e.get("state", "") for name, e in sup.status()["plugins"].items()}
        entries = [
            ToolEntry(
                name=info.name,
                type="plugin",
                plugin=info.plugin,
                available=plugin_available(states.get(info.plugin, "")),
                description=info.description,
                schema=info.input_schema,
                timeout=info.timeout,
                cache_ttl=calls.cache_ttl(info.name),
            )
            for info in infos
        ]
        return JsonBytes(msgspec.json.encode(ToolsResponse(tools=entries, total=len(entries))))

    @app.post(
        "/execute",
        response_class=JsonBytes,
        responses={
            200: {
                **json_body("ExecuteResponse", "The result, or the tool's own failure."),
                "headers": {"Cache-Status": {"schema": {"type": "string"}}},
            },
            **{
                status: json_body("ExecuteResponse", meaning)
                for status, meaning in _EXECUTE_FAILURES.items()
            },
        },
        openapi_extra={"requestBody": _body("ExecuteCall")},
        summary="Call one tool",
    )
    async def execute(request: Request) -> Response:
        try:
            call = _decode_call(call_decoder, await request.body())
        except _BadRequest as exc:
            failure = ExecuteResponse(
                success=False,
                tool=exc.tool,
                error=f"{exc}; {USAGE}",
                code="bad_request",
                field=exc.field or msgspec.UNSET,
            )
            return JsonBytes(msgspec.json.encode(failure), status_code=400)
        await ready()
        outcome = await _guarded(calls, call, identity_of(request.scope))
        return JsonBytes(
            msgspec.json.encode(outcome.response),
            status_code=outcome.status,
            headers=_headers(outcome),
        )

    @app.post(
        "/execute/batch",
        response_class=JsonBytes,
        responses={
            200: json_body("BatchResponse", "One result per call, in the order sent."),
            400: json_body("ErrorResponse", "The body is not a valid batch."),
        },
        openapi_extra={"requestBody": _body(batch_type.__name__)},
        summary="Call several tools concurrently",
    )
    async def execute_batch(request: Request) -> Response:
        try:
            batch = batch_decoder.decode(await request.body())
        except _PARSE_ERRORS as exc:
            field, reason = _explain(exc)
            detail = f"{field + ': ' if field else ''}{reason}; {BATCH_USAGE}"
            body = ErrorResponse(detail=detail, code="bad_request")
            return JsonBytes(msgspec.json.encode(body), status_code=400)
        await ready()
        identity = identity_of(request.scope)
        items = await _run_batch(calls, batch.calls, identity)
        succeeded = sum(1 for item in items if item.success)
        report = BatchResponse(
            results=items, total=len(items), succeeded=succeeded, failed=len(items) - succeeded
        )
        return JsonBytes(msgspec.json.encode(report))

    @app.get(
        "/health",
        response_class=JsonBytes,
        responses={
            200: json_body("HealthResponse", "healthy or degraded."),
            503: json_body("HealthResponse", "starting: plugins are still being started."),
        },
        summary="Overall status, plugin states and alerts",
    )
    async def health(request: Request) -> Response:
        entered = watch.entered.is_set()
        report = health_report(
            sup.status() if entered else None,
            settled=watch.settled,
            alerts=parts.alerts.active() if parts.alerts is not None else [],
        )
        return JsonBytes(msgspec.json.encode(report), status_code=STATUS_CODES[report.status])

    @app.get(
        "/metrics",
        response_class=Response,
        responses={
            200: {
                "description": "Prometheus text exposition format 0.0.4.",
                "content": {"text/plain": {"schema": {"type": "string"}}},
            }
        },
        summary="Prometheus metrics",
    )
    async def metrics(request: Request) -> Response:
        return Response(parts.metrics.render(), media_type=CONTENT_TYPE)

    install_openapi(
        app,
        batch_type=batch_type,
        secured=parts.tokens.required,
        public_paths=public,
        description=DESCRIPTION,
    )
    return Gatekeeper(
        app,
        tokens=parts.tokens,
        anonymous=parts.anonymous,
        public_paths=public,
        max_body_bytes=config.max_body_bytes,
        metrics=parts.metrics,
    )


_EXECUTE_FAILURES: Final = {
    400: "Malformed JSON, no tool name, or params the tool's schema refuses (see field).",
    403: "The caller policy does not let this token's role call this tool.",
    404: "No plugin serves this tool; available_tools lists what may be called.",
    500: "A failure of the server itself (reported in its log).",
    502: "The plugin's worker crashed during the call.",
    503: "The plugin is busy (see Retry-After) or unavailable (quarantined, disabled...).",
    504: "The tool did not answer before its timeout.",
}


def _body(name: str) -> dict[str, Any]:
    return {"required": True, "content": {"application/json": {"schema": ref(name)}}}


def _headers(outcome: CallOutcome) -> dict[str, str]:
    headers: dict[str, str] = {}
    if outcome.cache is not None:
        # RFC 9211: a hit, or a miss that went to the plugin.
        headers["Cache-Status"] = (
            "hydrogen; hit" if outcome.cache == "hit" else "hydrogen; fwd=miss"
        )
    if outcome.retry_after is not None:
        headers["Retry-After"] = str(outcome.retry_after)
    return headers


def _decode_call(decoder: msgspec.json.Decoder[ExecuteCall], body: bytes) -> ExecuteCall:
    if not body.strip():
        raise _BadRequest("the request body is empty")
    try:
        return decoder.decode(body)
    except _PARSE_ERRORS as exc:
        field, reason = _explain(exc)
        raise _BadRequest(
            f"{field + ': ' if field else ''}{reason}", field, _tool_in(body)
        ) from None


def _explain(exc: BaseException) -> tuple[str, str]:
    """A decode error as (field, reason): ``params``, "expected an object, got array"."""
    if isinstance(exc, RecursionError):
        return "", "the JSON is nested too deeply"
    message = str(exc)
    if not isinstance(exc, msgspec.ValidationError):
        return "", f"the request body is not valid JSON ({message})"
    match = _AT_RE.match(message)
    reason, field = (match["reason"], match["path"].lstrip(".")) if match else (message, "")
    if missing := _MISSING_RE.match(reason):
        name = missing["name"]
        return (f"{field}.{name}" if field else name), "is required"
    return field, reason


def _tool_in(body: bytes) -> str | None:
    """The tool a malformed request meant, if it can be read, to name it in the error."""
    try:
        data = msgspec.json.decode(body)
    except _PARSE_ERRORS:
        return None
    tool = data.get("tool") if isinstance(data, dict) else None
    return tool if isinstance(tool, str) else None


async def _guarded(calls: CallService, call: ExecuteCall, identity: Identity) -> CallOutcome:
    """A call whose failure of the server itself becomes a 500 answer, logged, not a crash."""
    try:
        return await calls.execute(call, identity.role)
    except Exception:
        log.exception("POST /execute of tool %r failed inside the server", call.tool)
        return CallOutcome(
            500,
            ExecuteResponse(
                success=False,
                tool=call.tool,
                error="internal error in the server (see its log); the call may not have run",
                code="internal_error",
            ),
        )


async def _run_batch(
    calls: CallService, batch: list[ExecuteCall], identity: Identity
) -> list[BatchItem]:
    outcomes: list[CallOutcome | None] = [None] * len(batch)

    async def run(index: int, call: ExecuteCall) -> None:
        outcomes[index] = await _guarded(calls, call, identity)

    async with anyio.create_task_group() as tg:
        for index, call in enumerate(batch):
            tg.start_soon(run, index, call)
    items = []
    for outcome in outcomes:
        assert outcome is not None
        fields = msgspec.structs.asdict(outcome.response)
        items.append(BatchItem(**fields, status=outcome.status))
    return items
