"""The ``alerts:`` section of the server's configuration: every rule, its thresholds, the webhook.

Each rule is on by default with the thresholds below and can be switched off with
``enabled: false``. Types and ranges are enforced by msgspec when the file is read
(``runtime.http.config``), so a rule here never sees a threshold it cannot use.
"""

from __future__ import annotations

from typing import Annotated, Final
from urllib.parse import urlsplit

import msgspec

__all__ = [
    "AlertsConfig",
    "CrashLoopRule",
    "DenialsRule",
    "ErrorRateRule",
    "HostRule",
    "HostThresholds",
    "LatencyRule",
    "Webhook",
    "WorkerMemoryRule",
]

# Seconds between evaluations: often enough that a crash loop is reported while it happens,
# rarely enough that sampling every worker costs nothing measurable.
DEFAULT_INTERVAL: Final = 5.0
# Five minutes: the window most alerting set-ups use for rates and repeated events.
DEFAULT_WINDOW: Final = 300.0
MIN_INTERVAL: Final = 0.05
MAX_WINDOW: Final = 86_400.0
MAX_WEBHOOK_TIMEOUT: Final = 60.0

Seconds = Annotated[float, msgspec.Meta(gt=0, le=MAX_WINDOW)]
Ratio = Annotated[float, msgspec.Meta(gt=0, le=1)]
Percent = Annotated[float, msgspec.Meta(ge=0, le=100)]
Count = Annotated[int, msgspec.Meta(ge=1)]


class _Rule(msgspec.Struct, frozen=True, forbid_unknown_fields=True, kw_only=True):
    enabled: bool = True


class CrashLoopRule(_Rule, frozen=True):
    """A plugin restarted ``restarts`` times within the window (warning); quarantined (critical)."""

    restarts: Count = 3
    window_seconds: Seconds = DEFAULT_WINDOW


class ErrorRateRule(_Rule, frozen=True):
    """A tool's failed calls over its calls in the window, once it had ``min_calls``.

    Failures are what the caller could not have avoided: the tool raised, timed out, crashed,
    was busy or unavailable. Bad params, unknown tools and permission denials are the caller's.
    """

    ratio: Ratio = 0.2
    min_calls: Count = 20
    window_seconds: Seconds = DEFAULT_WINDOW


class LatencyRule(_Rule, frozen=True):
    """A tool's p99 latency (over its most recent calls) above ``p99_ms``, while it is in use."""

    p99_ms: Annotated[float, msgspec.Meta(gt=0)] = 5000.0
    min_calls: Count = 20
    window_seconds: Seconds = DEFAULT_WINDOW


class WorkerMemoryRule(_Rule, frozen=True):
    """A worker's RSS at ``ratio`` of its profile's ``memory_mb`` or more."""

    ratio: Ratio = 0.9


class HostThresholds(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    cpu: Percent | None = None
    memory: Percent | None = None
    disk: Percent | None = None


class HostRule(_Rule, frozen=True):
    """Host CPU, memory and disk at or above their thresholds.

    Thresholds given here win; any left out come from ``configuration.thresholds`` of the
    plugin named by ``plugin`` (the bundled ``system`` plugin), so the server alerts on what
    that plugin's ``health_check`` calls critical. With neither, that metric is not watched.
    """

    plugin: str = "system"
    thresholds: HostThresholds = HostThresholds()


class DenialsRule(_Rule, frozen=True):
    """``count`` security denials in the window: bad or missing tokens, policy refusals."""

    count: Count = 10
    window_seconds: Seconds = DEFAULT_WINDOW


class Webhook(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """Where alert events are POSTed as JSON, with optional extra headers (such as a token)."""

    url: str
    headers: dict[str, str] = {}
    timeout_seconds: Annotated[float, msgspec.Meta(gt=0, le=MAX_WEBHOOK_TIMEOUT)] = 5.0

    def __post_init__(self) -> None:
        parts = urlsplit(self.url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(
                f"url must be an http:// or https:// URL with a host, got {self.url!r}"
            )


class AlertsConfig(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    interval_seconds: Annotated[float, msgspec.Meta(ge=MIN_INTERVAL, le=MAX_WINDOW)] = (
        DEFAULT_INTERVAL
    )
    webhook: Webhook | None = None
    crash_loop: CrashLoopRule = CrashLoopRule()
    error_rate: ErrorRateRule = ErrorRateRule()
    latency: LatencyRule = LatencyRule()
    worker_memory: WorkerMemoryRule = WorkerMemoryRule()
    host: HostRule = HostRule()
    security_denials: DenialsRule = DenialsRule()
