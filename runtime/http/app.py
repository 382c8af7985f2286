"""The ASGI application: the platform's endpoints over one Supervisor.

    GET  /tools           the tools this caller may call, with schemas and availability
    POST /execute         one call: {"tool": NAME, "params": {...}, "timeout": s?}
    POST /execute/batch   {"calls": [...]}: run concurrently, one result (and status) each
    GET  /health          healthy / degraded / starting, per-plugin state, active alerts
    GET  /metrics         Prometheus text format
    GET  /openapi.json    this API's OpenAPI document (GET /docs renders it)

Bodies are decoded and encoded with msgspec (``runtime.http.messages``) and answered as raw
JSON bytes: FastAPI routes and writes the OpenAPI document, and no model layer sits in the call
path (``POST /execute`` does not even pass FastAPI's router: ``runtime.http.execute``). In
front of everything, the Gatekeeper checks the token and the body size.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any, Final

import msgspec
from fastapi import FastAPI, Request
from fastapi.responses import Response

from runtime.alerts.engine import AlertEngine
from runtime.host.supervisor import Supervisor
from runtime.http.auth import Identity, TokenTable
from runtime.http.calls import CallService
from runtime.http.config import HttpConfig
from runtime.http.execute import Answer, ExecuteRoute, Executor
from runtime.http.gatekeeper import Gatekeeper, identity_of
from runtime.http.health import STATUS_CODES, health_report, plugin_available
from runtime.http.messages import (
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
# FastAPI needs a version for the document; a checkout that is not installed has none.
UNKNOWN_VERSION: Final = "0"
DESCRIPTION: Final = (
    "Tools served by Hydrogen plugins, each in its own sandboxed worker process. "
    "Compatible with the platform's GET /tools, POST /execute and GET /health."
)


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


def create_app(parts: AppParts) -> Gatekeeper:
    """The API wrapped in its Gatekeeper, ready for uvicorn."""
    config = parts.config
    public = PUBLIC_PATHS | ({"/health"} if config.public_health else set())
    app = FastAPI(
        title="Hydrogen",
        version=parts.version or UNKNOWN_VERSION,
        docs_url="/docs",
        redoc_url=None,
        openapi_url="/openapi.json",
    )
    batch_type = batch_request_type(config.max_batch_calls)
    sup, calls, watch = parts.supervisor, parts.calls, parts.watch
    executor = Executor(calls, batch_type, watch.entered)

    @app.get(
        "/tools",
        response_class=JsonBytes,
        responses={200: json_body("ToolsResponse", "The tools this caller may call.")},
        summary="List the tools this caller may call",
    )
    async def list_tools(request: Request) -> Response:
        if not watch.entered.is_set():
            await watch.entered.wait()
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
        # ExecuteRoute answers before the router is reached; this is the same answer for any
        # stack that mounts the FastAPI app without it.
        answer = await executor.answer(await request.body(), identity_of(request.scope))
        return _response(answer)

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
        answer = await executor.answer_batch(await request.body(), identity_of(request.scope))
        return _response(answer)

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
        ExecuteRoute(app, executor),
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


def _response(answer: Answer) -> Response:
    response = Response(answer.body, status_code=answer.status)
    response.raw_headers = [*answer.headers, *response.raw_headers]
    return response
