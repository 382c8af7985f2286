"""POST alert events to the configured webhook, in order, with retries, never blocking the server.

``submit`` only queues (a full queue drops the oldest event, logged); ``run`` is the one task
that delivers, owned by the server's task group. A delivery is retried on connection errors,
timeouts, 429 and 5xx answers, with backoff; any other 4xx is a configuration problem and is
logged once per event. The POST runs in a worker thread (urllib: standard library, https
included) and is abandoned, not waited for, when the server stops.

The body is one JSON object per event::

    {"source": "hydrogen", "host": "web-1", "state": "firing", "at": "...Z",
     "alert": {"rule": "crash_loop", "subject": "rag", "severity": "critical",
               "message": "...", "value": 5, "threshold": 3, "since": "...Z"}}
"""

from __future__ import annotations

import logging
import math
import socket
import urllib.error
import urllib.request
from collections import deque
from typing import Final

import anyio
import msgspec

from runtime.alerts.config import Webhook
from runtime.alerts.events import Alert, AlertEvent

__all__ = ["MAX_QUEUED_EVENTS", "WebhookSender"]

log = logging.getLogger("hydrogen.alerts")

# Events waiting for delivery; past this, the oldest are dropped (an outage of the receiver
# must not grow the server's memory).
MAX_QUEUED_EVENTS: Final = 256
ATTEMPTS: Final = 4
# Seconds before retry n (1-based): 1, 2, 4...
RETRY_BACKOFF_BASE: Final = 1.0
RETRY_BACKOFF_MAX: Final = 30.0


class _Payload(msgspec.Struct, frozen=True):
    source: str
    host: str
    state: str
    at: str
    alert: Alert


class _Rejected(Exception):
    """The receiver answered with a status that retrying cannot fix."""


class WebhookSender:
    def __init__(
        self,
        webhook: Webhook,
        *,
        user_agent: str = "hydrogen",
        backoff_base: float = RETRY_BACKOFF_BASE,
    ) -> None:
        self.webhook = webhook
        self._user_agent = user_agent
        self._backoff_base = backoff_base
        self._queue: deque[AlertEvent] = deque(maxlen=MAX_QUEUED_EVENTS)
        self._wakeup = anyio.Event()
        self._hostname = socket.gethostname()
        self.delivered = 0
        self.failed = 0
        self.dropped = 0

    def submit(self, event: AlertEvent) -> None:
        if len(self._queue) == self._queue.maxlen:
            self.dropped += 1
            log.warning("alert webhook queue full: dropping the oldest event")
        self._queue.append(event)
        self._wakeup.set()

    async def run(self) -> None:
        while True:
            while self._queue:
                await self._deliver(self._queue.popleft())
            self._wakeup = anyio.Event()
            await self._wakeup.wait()

    async def _deliver(self, event: AlertEvent) -> None:
        body = msgspec.json.encode(
            _Payload(
                source="hydrogen",
                host=self._hostname,
                state=event.state,
                at=event.at.isoformat(),
                alert=event.alert,
            )
        )
        for attempt in range(1, ATTEMPTS + 1):
            try:
                await anyio.to_thread.run_sync(self._post, body, abandon_on_cancel=True)
            except _Rejected as exc:
                self.failed += 1
                log.error("alert webhook %s refused an event: %s", self.webhook.url, exc)
                return
            except OSError as exc:  # URLError, HTTPError 429/5xx, timeouts
                if attempt == ATTEMPTS:
                    self.failed += 1
                    log.error(
                        "alert webhook %s failed %d times, event dropped: %s",
                        self.webhook.url,
                        ATTEMPTS,
                        exc,
                    )
                    return
                delay = min(self._backoff_base * math.pow(2, attempt - 1), RETRY_BACKOFF_MAX)
                log.warning("alert webhook %s: %s; retrying in %gs", self.webhook.url, exc, delay)
                await anyio.sleep(delay)
            else:
                self.delivered += 1
                return

    def _post(self, body: bytes) -> None:
        # The scheme was checked when the config was read (Webhook): http or https only.
        request = urllib.request.Request(
            self.webhook.url,
            data=body,
            method="POST",
            headers={
                "Content-Type": "application/json",
                "User-Agent": self._user_agent,
                **self.webhook.headers,
            },
        )
        try:
            timeout = self.webhook.timeout_seconds
            with urllib.request.urlopen(request, timeout=timeout) as reply:
                reply.read()
        except urllib.error.HTTPError as exc:
            exc.close()  # it holds the answer's socket
            if exc.code == 429 or exc.code >= 500:
                raise
            raise _Rejected(f"HTTP {exc.code} {exc.reason}") from None
