"""The MCP session over a Supervisor: lifecycle, tools, progress, logging, cancellation.

``McpServer.run(lines)`` consumes batches of input lines and writes every outgoing message
through ``send`` (thread-safe, one complete line per call, in order). When ``lines`` ends,
open requests get ``EOF_DRAIN_SECONDS`` to answer, then the plugins are stopped. Each request
that can wait runs in its own task of one task group, so a slow tool never delays a ping or
another call; ``notifications/cancelled`` cancels that task, and a cancelled request gets no
response.

The Supervisor is entered in the background: ``initialize`` and ``ping`` are answered at once,
``tools/*`` wait until the plugins have been admitted and the eager ones started.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable
from typing import Any, Final

import anyio
import msgspec
from anyio.abc import TaskGroup
from anyio.streams.memory import MemoryObjectReceiveStream

from runtime.errors import CallError, HydrogenError, ToolNotFoundError
from runtime.host.events import wait_any
from runtime.host.supervisor import Supervisor, ToolInfo
from runtime.mcp.logging_bridge import PLUGIN_LOGGER, McpLogHandler
from runtime.mcp.protocol import (
    INTERNAL_ERROR,
    INVALID_PARAMS,
    INVALID_REQUEST,
    LOG_LEVELS,
    METHOD_NOT_FOUND,
    ErrorObject,
    ErrorResponse,
    Invalid,
    Notification,
    OutgoingNotification,
    Request,
    RequestId,
    Result,
    encode,
    negotiate_version,
    parse_line,
)

__all__ = ["PAGE_SIZE", "McpServer"]

log = logging.getLogger("hydrogen.mcp")

SERVER_NAME: Final = "hydrogen"
# After stdin EOF, seconds open requests have to answer before they are cancelled; short
# enough that the workers still stop inside a client's 2 s grace before it kills the tree.
EOF_DRAIN_SECONDS: Final = 1.0
# Tools per tools/list page; the cursor is the index of the next tool.
PAGE_SIZE: Final = 100
INSTRUCTIONS: Final = (
    "Tools served by Hydrogen plugins, each in its own sandboxed worker process. "
    "A failed call returns isError with the reason and what to change."
)

Send = Callable[[bytes], None]
Lines = MemoryObjectReceiveStream[list[bytes]]


class _RpcError(Exception):
    def __init__(self, code: int, message: str) -> None:
        super().__init__(message)
        self.error = ErrorObject(code, message)


class _ProgressRelay:
    """Plugin progress -> notifications/progress: strictly increasing, silent once closed."""

    def __init__(self, server: McpServer, token: RequestId) -> None:
        self._server = server
        self._token = token
        self._last = -math.inf
        self.closed = False

    def __call__(self, progress: float, total: float | None, message: str | None) -> None:
        if self.closed or not progress > self._last:
            return
        self._last = progress
        params: dict[str, Any] = {"progressToken": self._token, "progress": progress}
        if total is not None:
            params["total"] = total
        if message is not None:
            params["message"] = message
        self._server.notify("notifications/progress", params)


class McpServer:
    def __init__(
        self, supervisor: Supervisor, send: Send, *, role: str | None = None, version: str = ""
    ) -> None:
        self._sup = supervisor
        self._send = send
        self._role = role
        self._version = version
        self._ready = anyio.Event()
        self._stop = anyio.Event()
        self._startup_error: str | None = None
        self._in_flight: dict[RequestId, anyio.CancelScope] = {}
        self._initialized = False
        self._announced = b""
        self._log_handler = McpLogHandler(send)
        self._requests: anyio.CancelScope | None = None

    # ---- the session ------------------------------------------------------------------------

    async def run(self, lines: Lines) -> None:
        """Serve until ``lines`` ends (stdin EOF); then cancel open requests, stop the plugins."""
        plugin_logger = logging.getLogger(PLUGIN_LOGGER)
        plugin_logger.addHandler(self._log_handler)
        try:
            async with anyio.create_task_group() as tg:
                tg.start_soon(self._own_supervisor)
                async with anyio.create_task_group() as requests:
                    self._requests = requests.cancel_scope
                    async with lines:
                        async for batch in lines:
                            for line in batch:
                                self._on_line(line, requests)
                    # EOF: requests already read get a short grace to answer (a client that
                    # pipes a script and closes stdin still sees its replies), then are cancelled.
                    requests.cancel_scope.deadline = min(
                        requests.cancel_scope.deadline, anyio.current_time() + EOF_DRAIN_SECONDS
                    )
                self._stop.set()
        finally:
            plugin_logger.removeHandler(self._log_handler)

    def cancel_requests(self) -> None:
        """Cancel every open request now (a signal); they get no response."""
        if self._requests is not None:
            self._requests.cancel()

    async def _own_supervisor(self) -> None:
        try:
            async with self._sup:
                for problem in self._sup.problems:
                    log.warning("problem: %s", problem)
                self._announced = _fingerprint(self._sup.tools(caller=self._role))
                self._ready.set()
                async with anyio.create_task_group() as tg:
                    tg.start_soon(self._watch_tools)
                    await self._stop.wait()
                    tg.cancel_scope.cancel()
        except HydrogenError as exc:
            log.error("hydrogen could not start its plugins: %s", exc)
            self._startup_error = str(exc)
            self._ready.set()

    async def _watch_tools(self) -> None:
        """Send tools/list_changed whenever the callable tools (or their schemas) change."""
        while True:
            events = _change_events(self._sup)
            current = _fingerprint(self._sup.tools(caller=self._role))
            if current != self._announced:
                self._announced = current
                if self._initialized:
                    self.notify("notifications/tools/list_changed", {})
            await wait_any(events)

    def notify(self, method: str, params: dict[str, Any]) -> None:
        self._send(encode(OutgoingNotification(method, params)))

    # ---- dispatch ---------------------------------------------------------------------------

    def _on_line(self, line: bytes, tg: TaskGroup) -> None:
        message = parse_line(line)
        if isinstance(message, Request):
            self._on_request(message, tg)
        elif isinstance(message, Notification):
            self._on_notification(message)
        elif isinstance(message, Invalid):
            self._send(encode(ErrorResponse(message.id, message.error)))
        # A Response answers nothing of ours (we send no requests): ignored.

    def _on_request(self, req: Request, tg: TaskGroup) -> None:
        handler = self._immediate.get(req.method)
        if handler is not None:
            try:
                reply: Result | ErrorResponse = Result(req.id, handler(self, req.params))
            except _RpcError as exc:
                reply = ErrorResponse(req.id, exc.error)
            self._send(encode(reply))
            return
        waiting = self._waiting.get(req.method)
        if waiting is None:
            error = ErrorObject(METHOD_NOT_FOUND, f"method {req.method!r} is not supported")
            self._send(encode(ErrorResponse(req.id, error)))
        elif req.id in self._in_flight:
            error = ErrorObject(INVALID_REQUEST, f"request id {req.id!r} is already in flight")
            self._send(encode(ErrorResponse(req.id, error)))
        else:
            scope = self._in_flight[req.id] = anyio.CancelScope()
            tg.start_soon(self._serve, req, waiting, scope)

    async def _serve(
        self,
        req: Request,
        handler: Callable[[McpServer, Request], Any],
        scope: anyio.CancelScope,
    ) -> None:
        try:
            with scope:
                try:
                    reply: Result | ErrorResponse = await handler(self, req)
                except _RpcError as exc:
                    reply = ErrorResponse(req.id, exc.error)
                except Exception as exc:
                    log.exception("request %r (%s) failed", req.id, req.method)
                    error = ErrorObject(INTERNAL_ERROR, f"internal error: {exc}")
                    reply = ErrorResponse(req.id, error)
                # No checkpoint since the handler returned: a cancel cannot slip in between.
                self._send(encode(reply))
        finally:
            self._in_flight.pop(req.id, None)

    def _on_notification(self, note: Notification) -> None:
        if note.method == "notifications/initialized":
            self._initialized = True
            self._log_handler.enabled = True
        elif note.method == "notifications/cancelled":
            request_id = note.params.get("requestId")
            scope = self._in_flight.get(request_id) if isinstance(request_id, int | str) else None
            if scope is not None:
                scope.cancel()
        # Other notifications (roots/list_changed, progress...) need nothing from us.

    # ---- methods answered at once -----------------------------------------------------------

    def _initialize(self, params: dict[str, Any]) -> dict[str, Any]:
        return {
            "protocolVersion": negotiate_version(params.get("protocolVersion")),
            "capabilities": {"tools": {"listChanged": True}, "logging": {}},
            "serverInfo": {"name": SERVER_NAME, "version": self._version},
            "instructions": INSTRUCTIONS,
        }

    def _ping(self, params: dict[str, Any]) -> dict[str, Any]:
        return {}

    def _set_level(self, params: dict[str, Any]) -> dict[str, Any]:
        level = params.get("level")
        threshold = LOG_LEVELS.get(level) if isinstance(level, str) else None
        if threshold is None:
            raise _RpcError(
                INVALID_PARAMS, f"level must be one of {', '.join(LOG_LEVELS)}; got {level!r}"
            )
        self._log_handler.set_threshold(threshold)
        return {}

    _immediate: Final[dict[str, Callable[[McpServer, dict[str, Any]], dict[str, Any]]]] = {
        "initialize": _initialize,
        "ping": _ping,
        "logging/setLevel": _set_level,
    }

    # ---- methods that wait ------------------------------------------------------------------

    async def _wait_ready(self) -> None:
        # anyio's Event.wait() yields to the loop even when set: skip it on the hot path.
        if not self._ready.is_set():
            await self._ready.wait()
        if self._startup_error is not None:
            raise _RpcError(INTERNAL_ERROR, f"plugins unavailable: {self._startup_error}")

    async def _list_tools(self, req: Request) -> Result:
        await self._wait_ready()
        cursor = req.params.get("cursor")
        start = 0
        if cursor is not None:
            if not isinstance(cursor, str) or not cursor.isdigit():
                raise _RpcError(INVALID_PARAMS, f"invalid cursor {cursor!r}")
            start = int(cursor)
        infos = self._sup.tools(caller=self._role)
        page = [_describe(info) for info in infos[start : start + PAGE_SIZE]]
        result: dict[str, Any] = {"tools": page}
        if start + PAGE_SIZE < len(infos):
            result["nextCursor"] = str(start + PAGE_SIZE)
        return Result(req.id, result)

    async def _call_tool(self, req: Request) -> Result:
        name = req.params.get("name")
        if not isinstance(name, str):
            raise _RpcError(INVALID_PARAMS, "tools/call needs params.name, a string")
        arguments = req.params.get("arguments")
        if arguments is None:
            arguments = {}
        elif not isinstance(arguments, dict):
            raise _RpcError(INVALID_PARAMS, "tools/call params.arguments must be an object")
        meta = req.params.get("_meta")
        token = meta.get("progressToken") if isinstance(meta, dict) else None
        relay = (
            _ProgressRelay(self, token)
            if isinstance(token, int | str) and not isinstance(token, bool)
            else None
        )
        await self._wait_ready()
        try:
            result = await self._sup.call(name, arguments, on_progress=relay, caller=self._role)
        except ToolNotFoundError as exc:
            # MCP 2025-11-25: an unknown tool is a protocol error (-32602); everything that
            # happens to a known tool, bad arguments included, is a tool result (SEP-1303).
            raise _RpcError(INVALID_PARAMS, str(exc)) from None
        except CallError as exc:
            return Result(req.id, _error_result(exc))
        finally:
            if relay is not None:
                relay.closed = True
        encoded = msgspec.json.encode(result)
        return Result(
            req.id,
            {
                "content": [{"type": "text", "text": encoded.decode()}],
                "structuredContent": msgspec.Raw(encoded),
                "isError": False,
            },
        )

    _waiting: Final[dict[str, Callable[[McpServer, Request], Any]]] = {
        "tools/list": _list_tools,
        "tools/call": _call_tool,
    }


def _describe(info: ToolInfo) -> dict[str, Any]:
    schema = info.input_schema
    if schema.get("type") is None:
        schema = {"type": "object", **schema}
    entry: dict[str, Any] = {"name": info.name, "inputSchema": schema}
    if info.description:
        entry["description"] = info.description
    return entry


def _error_result(exc: CallError) -> dict[str, Any]:
    return {"content": [{"type": "text", "text": f"{exc} [{exc.code}]"}], "isError": True}


def _fingerprint(infos: list[ToolInfo]) -> bytes:
    return msgspec.json.encode([(i.name, i.description, i.input_schema) for i in infos])


def _change_events(supervisor: Supervisor) -> list[anyio.Event]:
    return supervisor.change_events()
