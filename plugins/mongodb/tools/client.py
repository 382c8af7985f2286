"""One pooled ``MongoClient`` per worker, the deadline of each call, and the one place where
pymongo's exceptions become the plugin's (``server_errors``).

Every server round trip of a tool runs inside ``server_errors(settings, budget, action)``: a
``pymongo.timeout`` block, so connecting and every command share one deadline that ends before
the tool's own timeout, and the caller gets a message saying what failed instead of a
supervisor-side timeout. Under such a deadline pymongo waits for a server until the deadline,
not for ``serverSelectionTimeoutMS``; ``ClientPool.reachable`` restores the short wait when no
usable server is known yet, so an unreachable server is reported within that timeout.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, Final

import pymongo
from pymongo import MongoClient
from pymongo.errors import (
    ConnectionFailure,
    OperationFailure,
    PyMongoError,
    ServerSelectionTimeoutError,
)

from .errors import (
    MongoPluginError,
    OperationTimeoutError,
    ServerCommandError,
    ServerUnreachableError,
)
from .settings import Settings

__all__ = ["Client", "ClientPool", "server_errors", "translate"]

Client = MongoClient[dict[str, Any]]
# Server codes that mean the credentials in the URI are wrong or lack a role.
AUTH_CODES: Final = frozenset({13, 18})
MAX_REASON_CHARS: Final = 300


class ClientPool:
    """The worker's one client; pymongo pools connections inside it and is thread-safe."""

    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        self._client: Client | None = None
        self._lock = threading.Lock()

    def get(self) -> Client:
        """The client, created on first use. Creating one starts monitoring, never blocks."""
        with self._lock:
            if self._client is None:
                self._client = MongoClient(
                    self._settings.uri,
                    document_class=dict,
                    tz_aware=True,
                    **self._settings.client_kwargs,
                )
            return self._client

    def reachable(self) -> Client:
        """The client, once a server it can write to is known: a ping bounded by the server
        selection timeout when the monitors know none (at start, or after the server left)."""
        client = self.get()
        if not client.topology_description.has_writable_server():
            with pymongo.timeout(self._settings.server_selection_timeout_ms / 1000):
                client.admin.command("ping")
        return client

    def close(self) -> None:
        with self._lock:
            client, self._client = self._client, None
        if client is not None:
            client.close()

    def servers(self) -> list[dict[str, Any]]:
        """What the client's monitors know now, without a round trip."""
        with self._lock:
            client = self._client
        if client is None:
            return []
        descriptions = client.topology_description.server_descriptions()
        return [
            {"address": f"{host}:{port}", "type": description.server_type_name}
            for (host, port), description in descriptions.items()
        ]


@contextmanager
def server_errors(settings: Settings, budget: float, action: str) -> Iterator[None]:
    """Run server calls under a ``budget``-second deadline; translate what pymongo raises."""
    started = time.monotonic()
    try:
        with pymongo.timeout(budget):
            yield
    except PyMongoError as exc:
        waited_ms = (time.monotonic() - started) * 1000
        raise translate(exc, settings, budget, action, waited_ms) from exc


def translate(
    exc: PyMongoError, settings: Settings, budget: float, action: str, waited_ms: float
) -> MongoPluginError:
    where = settings.shown_uri
    if isinstance(exc, ServerSelectionTimeoutError):
        return ServerUnreachableError(
            f"cannot reach MongoDB at {where}: no usable server answered within "
            f"{waited_ms:.0f} ms "
            f"({_reason(exc)}); check that mongod is running there and that configuration.uri "
            "(MONGODB_URI) names the right host and port"
        )
    if exc.timeout:
        return OperationTimeoutError(
            f"{action} did not finish within the call's budget of {budget:g} s (the tool's "
            "timeout minus call_margin_seconds); narrow the query, or raise the tool's timeout "
            "in plugin.yaml"
        )
    if isinstance(exc, ConnectionFailure):
        return ServerUnreachableError(
            f"lost the connection to MongoDB at {where} during {action} ({_reason(exc)}); "
            "check the server's log and retry"
        )
    if isinstance(exc, OperationFailure):
        code, code_name = exc.code, (exc.details or {}).get("codeName")
        message = f"{action} failed on {where}: {code_name or 'error'} ({code}): {_reason(exc)}"
        if code in AUTH_CODES:
            message += "; check the user, password and roles in configuration.uri (MONGODB_URI)"
        return ServerCommandError(message, code=code, code_name=code_name)
    return ServerCommandError(f"{action} failed: {_reason(exc)}", code=None, code_name=None)


def _reason(exc: PyMongoError) -> str:
    """pymongo's own words, first part only: the topology dump that follows is noise here."""
    details = getattr(exc, "details", None)
    text = (
        str(details.get("errmsg"))
        if isinstance(details, dict) and details.get("errmsg")
        else str(exc)
    )
    text = text.split(", Timeout:", 1)[0].split(" (configured timeouts", 1)[0]
    return text if len(text) <= MAX_REASON_CHARS else text[: MAX_REASON_CHARS - 3] + "..."
