"""POST /execute and POST /execute/batch: bodies in, answers out, and the one hot route.

``Executor.answer`` turns a request body into status, headers and JSON bytes: a malformed
body is a 400 naming the field and the fix, anything else goes to the ``CallService``. A
failure of the server itself becomes a logged 500, never a broken connection.

``ExecuteRoute`` serves ``POST /execute`` as plain ASGI, ahead of FastAPI's router: the
busiest endpoint skips route matching, dependency solving and Response objects (about
150 µs a call on these machines; the target for the whole HTTP layer is 500 µs). FastAPI
still declares the route, whose handler calls the same ``answer``, so the OpenAPI document and
the behaviour cannot drift apart.
"""

from __future__ import annotations

import logging
import re
from typing import Final

import anyio
import msgspec
from starlette.types import ASGIApp, Receive, Scope, Send

from runtime.http.auth import Identity
from runtime.http.calls import CallOutcome, CallService
from runtime.http.gatekeeper import identity_of
from runtime.http.messages import (
    BatchItem,
    BatchRequest,
    BatchResponse,
    ErrorResponse,
    ExecuteCall,
    ExecuteResponse,
)

__all__ = ["Answer", "ExecuteRoute", "Executor", "explain"]

log = logging.getLogger("hydrogen.http")

USAGE: Final = 'send a JSON object such as {"tool": "NAME", "params": {...}}'
BATCH_USAGE: Final = 'send {"calls": [{"tool": "NAME", "params": {...}}, ...]}'
EXECUTE_PATH: Final = "/execute"
_AT_RE: Final = re.compile(r"^(?P<reason>.*) - at `\$(?P<path>[^`]*)`$")
_MISSING_RE: Final = re.compile(r"^Object missing required field `(?P<name>[^`]*)`$")
# What decoding untrusted bytes can raise: malformed JSON, a schema mismatch, invalid UTF-8
# (a ValueError), nesting deeper than the decoder's stack.
_PARSE_ERRORS: Final = (msgspec.DecodeError, ValueError, RecursionError)
_JSON: Final = (b"content-type", b"application/json")

Headers = list[tuple[bytes, bytes]]


class Answer(msgspec.Struct, frozen=True):
    status: int
    headers: Headers
    body: bytes


class _BadRequest(Exception):
    def __init__(self, message: str, field: str = "", tool: str | None = None) -> None:
        super().__init__(message)
        self.field = field
        self.tool = tool


class Executor:
    def __init__(
        self,
        calls: CallService,
        batch_type: type[BatchRequest],
        ready: anyio.Event,
    ) -> None:
        self._calls = calls
        self._call_decoder = msgspec.json.Decoder(ExecuteCall)
        self._batch_decoder = msgspec.json.Decoder(batch_type)
        self._ready = ready

    async def answer(self, body: bytes, identity: Identity) -> Answer:
        try:
            call = self._decode_call(body)
        except _BadRequest as exc:
            failure = ExecuteResponse(
                success=False,
                tool=exc.tool,
                error=f"{exc}; {USAGE}",
                code="bad_request",
                field=exc.field or msgspec.UNSET,
            )
            return Answer(400, [_JSON], msgspec.json.encode(failure))
        await self._wait_ready()
        outcome = await self._guarded(call, identity)
        return Answer(outcome.status, _headers(outcome), msgspec.json.encode(outcome.response))

    async def answer_batch(self, body: bytes, identity: Identity) -> Answer:
        try:
            batch = self._batch_decoder.decode(body)
        except _PARSE_ERRORS as exc:
            field, reason = explain(exc)
            detail = f"{field + ': ' if field else ''}{reason}; {BATCH_USAGE}"
            error = ErrorResponse(detail=detail, code="bad_request")
            return Answer(400, [_JSON], msgspec.json.encode(error))
        await self._wait_ready()
        outcomes: list[CallOutcome | None] = [None] * len(batch.calls)

        async def run(index: int, call: ExecuteCall) -> None:
            outcomes[index] = await self._guarded(call, identity)

        async with anyio.create_task_group() as tg:
            for index, call in enumerate(batch.calls):
                tg.start_soon(run, index, call)
        items = []
        for outcome in outcomes:
            assert outcome is not None
            fields = msgspec.structs.asdict(outcome.response)
            items.append(BatchItem(**fields, status=outcome.status))
        succeeded = sum(1 for item in items if item.success)
        report = BatchResponse(
            results=items, total=len(items), succeeded=succeeded, failed=len(items) - succeeded
        )
        return Answer(200, [_JSON], msgspec.json.encode(report))

    async def _wait_ready(self) -> None:
        # anyio's Event.wait() yields even when set: skip it on the hot path.
        if not self._ready.is_set():
            await self._ready.wait()

    def _decode_call(self, body: bytes) -> ExecuteCall:
        if not body.strip():
            raise _BadRequest("the request body is empty")
        try:
            return self._call_decoder.decode(body)
        except _PARSE_ERRORS as exc:
            field, reason = explain(exc)
            message = f"{field + ': ' if field else ''}{reason}"
            raise _BadRequest(message, field, _tool_in(body)) from None

    async def _guarded(self, call: ExecuteCall, identity: Identity) -> CallOutcome:
        try:
            return await self._calls.execute(call, identity.role)
        except Exception:
            log.exception("a call of tool %r failed inside the server", call.tool)
            return CallOutcome(
                500,
                ExecuteResponse(
                    success=False,
                    tool=call.tool,
                    error="internal error in the server (see its log); the call may not have run",
                    code="internal_error",
                ),
            )


class ExecuteRoute:
    """``POST /execute`` straight to ``Executor.answer``; everything else to ``app``."""

    def __init__(self, app: ASGIApp, executor: Executor) -> None:
        self._app = app
        self._executor = executor

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] != EXECUTE_PATH or scope["method"] != "POST":
            await self._app(scope, receive, send)
            return
        body = await _read_body(receive)
        answer = await self._executor.answer(body, identity_of(scope))
        await send(
            {
                "type": "http.response.start",
                "status": answer.status,
                "headers": [
                    *answer.headers,
                    (b"content-length", str(len(answer.body)).encode()),
                ],
            }
        )
        await send({"type": "http.response.body", "body": answer.body})


async def _read_body(receive: Receive) -> bytes:
    chunks = []
    while True:
        message = await receive()
        if message["type"] != "http.request":
            break
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            break
    return b"".join(chunks)


def _headers(outcome: CallOutcome) -> Headers:
    headers = [_JSON]
    if outcome.cache is not None:
        # RFC 9211: a hit, or a miss that went to the plugin.
        status = b"hydrogen; hit" if outcome.cache == "hit" else b"hydrogen; fwd=miss"
        headers.append((b"cache-status", status))
    if outcome.retry_after is not None:
        headers.append((b"retry-after", str(outcome.retry_after).encode()))
    return headers


def explain(exc: BaseException) -> tuple[str, str]:
    """A decode error as (field, reason): ``params``, "Expected `object`, got `array`"."""
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
