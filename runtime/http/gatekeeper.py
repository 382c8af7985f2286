"""Pure ASGI middleware in front of the API: bearer tokens, the body size limit, request metrics.

It runs before FastAPI parses anything, so a request without a valid token never has its body
read, and a body over the limit is refused as soon as its ``Content-Length`` (or, for a
chunked upload, its running size) says so, never buffered whole. The caller's ``Identity`` is
left in the scope under ``IDENTITY_KEY`` for the routes.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from typing import Any, Final

import msgspec
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from runtime.http.auth import Identity, TokenTable
from runtime.http.messages import ErrorResponse
from runtime.http.metrics import HttpMetrics

__all__ = ["IDENTITY_KEY", "Gatekeeper", "identity_of"]

IDENTITY_KEY: Final = "hydrogen.identity"
_BODY_METHODS: Final = frozenset({"POST", "PUT", "PATCH"})
_JSON_HEADERS: Final = ((b"content-type", b"application/json"),)
_CHALLENGE: Final = b'Bearer realm="hydrogen"'
_DENIALS: Final = {
    "missing_token": (
        "this server needs a bearer token: send 'Authorization: Bearer <token>'; "
        "the operator of this server issues tokens"
    ),
    "invalid_token": (
        "the bearer token is not valid here; check for a typo or ask the operator of this "
        "server for a current one"
    ),
}


def identity_of(scope: Scope) -> Identity:
    identity: Identity = scope[IDENTITY_KEY]
    return identity


class Gatekeeper:
    def __init__(
        self,
        app: ASGIApp,
        *,
        tokens: TokenTable,
        anonymous: Identity,
        public_paths: Iterable[str],
        max_body_bytes: int,
        metrics: HttpMetrics,
    ) -> None:
        self._app = app
        self._tokens = tokens
        self._anonymous = anonymous
        self._public = frozenset(public_paths)
        self._max_body = max_body_bytes
        self._metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self._app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500

        async def send_counted(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self._admit(scope, receive, send_counted)
        finally:
            self._metrics.observe_request(
                scope["path"], scope["method"], status, time.perf_counter() - started
            )

    async def _admit(self, scope: Scope, receive: Receive, send: Send) -> None:
        identity = self._anonymous
        if self._tokens.required and scope["path"] not in self._public:
            found = self._tokens.identify(_header(scope, b"authorization"))
            if isinstance(found, str):
                self._metrics.deny(found)
                await _refuse(
                    send, 401, _DENIALS[found], found, ((b"www-authenticate", _CHALLENGE),)
                )
                return
            identity = found
        scope[IDENTITY_KEY] = identity
        if scope["method"] not in _BODY_METHODS:
            await self._app(scope, receive, send)
            return
        declared = _header(scope, b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self._max_body:
            await self._too_large(send, int(declared))
            return
        body = await self._read_body(receive)
        if body is None:
            await self._too_large(send, None)
            return
        await self._app(scope, _replay(body, receive), send)

    async def _read_body(self, receive: Receive) -> bytes | None:
        """The whole body, or None as soon as it passes the limit."""
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] != "http.request":
                break  # the client went away; the route will see the disconnect
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self._max_body:
                return None
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        return b"".join(chunks)

    async def _too_large(self, send: Send, size: int | None) -> None:
        what = f"is {size} bytes" if size is not None else "is too large"
        await _refuse(
            send,
            413,
            f"the request body {what}; this server accepts at most {self._max_body} bytes "
            f"(max_body_bytes in its HTTP config); split the work into smaller calls",
            "body_too_large",
        )


def _header(scope: Scope, name: bytes) -> bytes | None:
    for key, value in scope["headers"]:
        if key == name:
            result: bytes = value
            return result
    return None


def _replay(body: bytes, receive: Receive) -> Receive:
    sent = False

    async def replay() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replay


async def _refuse(
    send: Send,
    status: int,
    detail: str,
    code: str,
    headers: tuple[tuple[bytes, bytes], ...] = (),
) -> None:
    body = msgspec.json.encode(ErrorResponse(detail=detail, code=code))
    start: dict[str, Any] = {
        "type": "http.response.start",
        "status": status,
        "headers": [*_JSON_HEADERS, (b"content-length", str(len(body)).encode()), *headers],
    }
    await send(start)
    await send({"type": "http.response.body", "body": body})
