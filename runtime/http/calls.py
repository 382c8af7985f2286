"""One tool call over HTTP: the result cache, the Supervisor, and the answer's status and body.

Failures keep the platform's shape (``success: false``, ``tool``, ``error``) and add ``code``,
the ``CallError`` kind; the status says who should act, as MCP's ``isError`` split does:

    tool_failed     200  the tool ran and raised: that is its answer (as the platform sent it)
    invalid_params  400  fix the params (``field`` names the one that failed)
    denied          403  the caller policy refuses this role this tool
    tool_not_found  404  ``available_tools`` lists what this caller may call
    plugin_crashed  502  the worker died mid-call; it is being restarted
    busy            503  the plugin's queue is full; retry after ``Retry-After`` seconds
    unavailable     503  the plugin is quarantined, disabled, refused or not started
    timeout         504  the tool did not answer in time

A call the cache can answer is checked against the policy and written to the audit log as the
Supervisor would (``runtime.http.view``), then answered without reaching a worker.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any, Final

import msgspec
from msgspec import UNSET

from runtime.errors import CallError, InvalidParamsError, ToolNotFoundError
from runtime.host.result_cache import ResultCache, call_key
from runtime.host.supervisor import Supervisor
from runtime.http.messages import ExecuteCall, ExecuteResponse
from runtime.http.view import Route, SupervisorView

__all__ = ["RETRY_AFTER_SECONDS", "STATUS_BY_CODE", "CallOutcome", "CallService"]

STATUS_BY_CODE: Final = {
    "tool_failed": 200,
    "invalid_params": 400,
    "denied": 403,
    "tool_not_found": 404,
    "plugin_crashed": 502,
    "busy": 503,
    "unavailable": 503,
    "timeout": 504,
}
# Failures decided before any worker saw the call: they would only blur the latency histogram.
NOT_DISPATCHED: Final = frozenset({"tool_not_found", "denied", "busy"})
# A CallError kind this module does not know yet: the server cannot say whose fault it was.
UNKNOWN_KIND_STATUS: Final = 500
# Seconds a client should wait after "busy": a queue drains in about that long at the default
# concurrency limits of a plugin serving calls of tens of milliseconds.
RETRY_AFTER_SECONDS: Final = 1

Observe = Callable[[str, str, float], None]


class CallOutcome(msgspec.Struct, frozen=True):
    status: int
    response: ExecuteResponse
    # "hit" or "miss" for a tool with a cache_ttl (the Cache-Status header), else None.
    cache: str | None = None
    retry_after: int | None = None


class CallService:
    def __init__(
        self,
        supervisor: Supervisor,
        view: SupervisorView,
        cache: ResultCache,
        *,
        observe: Observe,
        on_denied: Callable[[], None],
    ) -> None:
        self._sup = supervisor
        self._view = view
        self._cache = cache
        self._observe = observe
        self._on_denied = on_denied

    def cache_ttl(self, tool: str) -> float:
        route = self._view.route(tool)
        return route.cache_ttl if route is not None else 0.0

    async def execute(self, call: ExecuteCall, caller: str | None) -> CallOutcome:
        tool = call.tool
        params: dict[str, Any] = call.params or {}
        route = self._view.route(tool)
        key: bytes | None = None
        if route is not None and route.cache_ttl > 0:
            role = self._view.role_of(caller)
            key = call_key(tool, route.revision, role, params)
            hit = self._answer_from_cache(key, route, tool, role, params)
            if hit is not None:
                return hit
        started = time.perf_counter()
        try:
            result = await self._sup.call(tool, params, timeout=call.timeout, caller=caller)
        except CallError as exc:
            if route is not None and exc.code not in NOT_DISPATCHED:
                self._observe(tool, route.plugin, time.perf_counter() - started)
            return self._failure(exc, caller, "miss" if key is not None else None)
        elapsed = time.perf_counter() - started
        plugin = route.plugin if route is not None else UNSET
        if route is not None:
            self._observe(tool, route.plugin, elapsed)
            if key is not None:
                self._cache.put(key, tool, msgspec.json.encode(result), route.cache_ttl)
        return CallOutcome(
            200,
            ExecuteResponse(
                success=True,
                tool=tool,
                plugin=plugin,
                result=result,
                cached=False,
                duration_ms=round(elapsed * 1000, 3),
            ),
            cache="miss" if key is not None else None,
        )

    def _answer_from_cache(
        self, key: bytes, route: Route, tool: str, role: str | None, params: dict[str, Any]
    ) -> CallOutcome | None:
        started_at, started = time.time(), time.perf_counter()
        encoded = self._cache.get(key, tool)
        # Entries are per role, so a hit was allowed once; the policy is asked again anyway,
        # and a refusal falls through to the Supervisor, which refuses and audits it.
        if encoded is None or not self._view.permits(role, tool, route.plugin):
            return None
        result: dict[str, Any] = msgspec.json.decode(encoded)
        elapsed = time.perf_counter() - started
        self._view.audit_cache_hit(
            started_at=started_at,
            duration=elapsed,
            role=role,
            tool=tool,
            plugin=route.plugin,
            params=params,
        )
        return CallOutcome(
            200,
            ExecuteResponse(
                success=True,
                tool=tool,
                plugin=route.plugin,
                result=result,
                cached=True,
                duration_ms=round(elapsed * 1000, 3),
            ),
            cache="hit",
        )

    def _failure(self, exc: CallError, caller: str | None, cache: str | None) -> CallOutcome:
        status = STATUS_BY_CODE.get(exc.code, UNKNOWN_KIND_STATUS)
        if exc.code == "denied":
            self._on_denied()
        available = (
            [info.name for info in self._sup.tools(caller=caller)]
            if isinstance(exc, ToolNotFoundError)
            else UNSET
        )
        return CallOutcome(
            status,
            ExecuteResponse(
                success=False,
                tool=exc.tool,
                plugin=exc.plugin if exc.plugin is not None else UNSET,
                error=str(exc),
                code=exc.code,
                field=exc.field if isinstance(exc, InvalidParamsError) else UNSET,
                available_tools=available,
            ),
            cache=cache,
            retry_after=RETRY_AFTER_SECONDS if exc.code == "busy" else None,
        )
