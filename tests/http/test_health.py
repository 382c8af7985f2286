"""The /health verdict from a status report: starting, degraded, healthy, and what counts."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from runtime.alerts.events import Alert, Severity
from runtime.http.health import STATUS_CODES, health_report


def status(**states: str) -> dict[str, Any]:
    return {
        "uptime_s": 12.5,
        "problems": ["manifest x: name: is required"],
        "plugins": {
            name: {"state": state, "reason": "", "restarts": 1, "tools": {"a": {}, "b": {}}}
            for name, state in states.items()
        },
    }


ALERT = Alert(
    rule="latency",
    subject="a",
    severity=Severity.WARNING,
    message="slow",
    value=9.0,
    threshold=1.0,
    since=datetime.now(UTC),
)


def test_before_the_supervisor_is_up_the_server_is_starting_with_503() -> None:
    report = health_report(None, settled=False, alerts=[])

    assert report.status == "starting"
    assert STATUS_CODES[report.status] == 503
    assert report.plugins == {}


def test_until_start_up_settles_the_server_is_starting() -> None:
    assert health_report(status(a="loading"), settled=False, alerts=[]).status == "starting"


def test_every_plugin_serving_is_healthy_and_counts_its_tools() -> None:
    report = health_report(status(a="active", lazy="discovered"), settled=True, alerts=[])

    assert report.status == "healthy"
    assert STATUS_CODES[report.status] == 200
    assert (report.tools.total, report.tools.available) == (4, 4)
    assert report.plugins["lazy"].available
    assert report.plugins["a"].restarts == 1
    assert report.uptime_s == 12.5
    assert report.problems == ["manifest x: name: is required"]


def test_a_plugin_that_should_serve_and_does_not_degrades_the_server() -> None:
    for state in ("quarantined", "error", "refused", "loading"):
        report = health_report(status(a="active", b=state), settled=True, alerts=[])
        assert report.status == "degraded", state
        assert STATUS_CODES[report.status] == 200
        assert (report.tools.total, report.tools.available) == (4, 2)
        assert not report.plugins["b"].available


def test_a_disabled_plugin_does_not_degrade_the_server() -> None:
    report = health_report(status(a="active", off="disabled"), settled=True, alerts=[])

    assert report.status == "healthy"
    assert report.tools.total == 2
    assert report.plugins["off"].state == "disabled"


def test_an_alert_firing_degrades_the_server_and_is_listed() -> None:
    report = health_report(status(a="active"), settled=True, alerts=[ALERT])

    assert report.status == "degraded"
    assert report.alerts == [ALERT]
