"""The alert engine: evaluates the rules on each sample and turns findings into events.

An alert is identified by ``(rule, subject)``. A finding that was not there before fires it; a
finding with another severity fires it again (escalation or de-escalation, ``since`` kept);
the same finding with new figures only refreshes what ``/health`` shows, so a webhook is not
sent one message per evaluation; a finding that is gone resolves it. Every event is logged
(warning when firing, info when resolved) and handed to the listeners (the webhook sender).
"""

from __future__ import annotations

import logging
import time
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Final

import anyio

from runtime.alerts.config import AlertsConfig
from runtime.alerts.events import Alert, AlertEvent, Finding
from runtime.alerts.host import HostWatch
from runtime.alerts.rules import evaluate, observe
from runtime.alerts.sample import Sample
from runtime.alerts.window import Counters

__all__ = ["AlertEngine", "Listener", "evaluate_once"]

log = logging.getLogger("hydrogen.alerts")

Listener = Callable[[AlertEvent], None]
Key = tuple[str, str]
_NO_HOST: Final = HostWatch(thresholds={}, sources={})


class AlertEngine:
    def __init__(self, config: AlertsConfig, host: HostWatch | None = None) -> None:
        self.config = config
        # Replaced once the plugin whose thresholds apply has been read (the server's start).
        self.host = host or _NO_HOST
        horizon = max(
            config.crash_loop.window_seconds,
            config.error_rate.window_seconds,
            config.latency.window_seconds,
            config.security_denials.window_seconds,
        )
        self._counters = Counters(horizon)
        self._active: dict[Key, Alert] = {}
        self._listeners: list[Listener] = []
        self.fired: Counter[str] = Counter()

    def add_listener(self, listener: Listener) -> None:
        self._listeners.append(listener)

    def active(self) -> list[Alert]:
        """Alerts firing now, the most severe first, then the oldest."""
        return sorted(
            self._active.values(), key=lambda a: (a.severity != "critical", a.since, a.rule)
        )

    def evaluate(self, sample: Sample) -> list[AlertEvent]:
        """Feed one sample; returns (and announces) the events it caused."""
        observe(sample, self._counters)
        findings = {
            (f.rule, f.subject): f for f in evaluate(self.config, sample, self._counters, self.host)
        }
        now = datetime.now(UTC)
        events: list[AlertEvent] = []
        for key, finding in findings.items():
            previous = self._active.get(key)
            alert = _alert(finding, previous.since if previous else now)
            self._active[key] = alert
            if previous is None or previous.severity != alert.severity:
                events.append(AlertEvent("firing", alert, now))
        for key in [k for k in self._active if k not in findings]:
            events.append(AlertEvent("resolved", self._active.pop(key), now))
        for event in events:
            self._announce(event)
        return events

    async def run(self, take_sample: Callable[[], Sample]) -> None:
        """Evaluate every ``interval_seconds`` until cancelled (owned by the server's group)."""
        while True:
            started = time.monotonic()
            try:
                self.evaluate(take_sample())
            except Exception:
                # A rule or a reading that breaks must not end alerting for the server's life.
                log.exception("alert evaluation failed; trying again next interval")
            elapsed = time.monotonic() - started
            await anyio.sleep(max(self.config.interval_seconds - elapsed, 0.0))

    def _announce(self, event: AlertEvent) -> None:
        alert = event.alert
        if event.state == "firing":
            self.fired[alert.rule] += 1
            log.warning("ALERT %s [%s] %s", alert.rule, alert.severity, alert.message)
        else:
            log.info("resolved: alert %s on %s", alert.rule, alert.subject)
        for listener in self._listeners:
            try:
                listener(event)
            except Exception:
                log.exception("alert listener %r failed", listener)


def evaluate_once(
    config: AlertsConfig, sample: Sample, host: HostWatch | None = None
) -> list[Alert]:
    """The alerts one sample raises on its own, without history or announcements.

    For ``hydrogen status``: rates and repeated events count from the supervisor's start.
    """
    engine = AlertEngine(config, host)
    observe(sample, engine._counters)
    now = datetime.now(UTC)
    findings = evaluate(config, sample, engine._counters, engine.host)
    return sorted(
        (_alert(finding, now) for finding in findings),
        key=lambda a: (a.severity != "critical", a.rule, a.subject),
    )


def _alert(finding: Finding, since: datetime) -> Alert:
    return Alert(
        rule=finding.rule,
        subject=finding.subject,
        severity=finding.severity,
        message=finding.message,
        value=finding.value,
        threshold=finding.threshold,
        since=since,
    )
