"""Alert rules, the engine's event logic and the webhook sender, without a Supervisor.

Samples are built by hand (``take_sample`` over a status dict shaped like the Supervisor's),
and time is the sample's own ``at``, so windows are crossed without waiting.
"""

from __future__ import annotations

from typing import Any

import anyio
import msgspec
import pytest

from runtime.alerts.config import (
    AlertsConfig,
    CrashLoopRule,
    DenialsRule,
    ErrorRateRule,
    HostRule,
    HostThresholds,
    LatencyRule,
    Webhook,
    WorkerMemoryRule,
)
from runtime.alerts.engine import AlertEngine, evaluate_once
from runtime.alerts.events import AlertEvent, Severity
from runtime.alerts.host import resolve_host
from runtime.alerts.sample import HostSample, Sample, take_sample
from runtime.alerts.webhook import WebhookSender
from runtime.alerts.window import Counters
from tests.http.support import WebhookReceiver

MIB = 1024 * 1024


def status(**plugins: dict[str, Any]) -> dict[str, Any]:
    """A status dict with the keys the Supervisor reports, for the named plugins."""
    return {
        "plugins": {
            name: {
                "state": "active",
                "reason": "",
                "restarts": 0,
                "resources": None,
                "profile": {"memory_bytes": 512 * MIB},
                "tools": {},
                **entry,
            }
            for name, entry in plugins.items()
        }
    }


def tool(calls: int, p99_ms: float | None = None, **errors: int) -> dict[str, Any]:
    return {"calls": calls, "errors_by_kind": errors, "latency_ms": {"p99": p99_ms}}


def sample(at: float, denials: int = 0, host: HostSample | None = None, **plugins: Any) -> Sample:
    return take_sample(status(**plugins), at=at, denials=denials, host=host)


def only_rules(**rules: Any) -> AlertsConfig:
    """A config with every rule off except those given."""
    base = {
        "crash_loop": CrashLoopRule(enabled=False),
        "error_rate": ErrorRateRule(enabled=False),
        "latency": LatencyRule(enabled=False),
        "worker_memory": WorkerMemoryRule(enabled=False),
        "host": HostRule(enabled=False),
        "security_denials": DenialsRule(enabled=False),
    }
    return AlertsConfig(**{**base, **rules})


# ---- counters over a window ------------------------------------------------------------------


def test_counter_growth_is_measured_over_the_window_only() -> None:
    counters = Counters(horizon=100)
    for at, value in ((0, 0), (10, 3), (50, 5), (70, 9)):
        counters.observe("k", value, at)

    # The baseline is the last value known when the window opened.
    assert counters.increase("k", window=20, now=70) == 4
    assert counters.increase("k", window=30, now=70) == 6
    assert counters.increase("k", window=100, now=70) == 9
    assert counters.increase("missing", window=10, now=70) == 0


def test_a_counter_first_seen_counts_from_zero() -> None:
    counters = Counters(horizon=60)
    counters.observe("k", 4, 100)

    assert counters.increase("k", window=60, now=100) == 4


def test_a_counter_that_goes_down_was_reset_not_negative() -> None:
    counters = Counters(horizon=60)
    for at, value in ((0, 5), (10, 7), (20, 1), (30, 3)):
        counters.observe("k", value, at)

    assert counters.increase("k", window=60, now=30) == 10  # 7 before the reset, 3 after


# ---- rules -----------------------------------------------------------------------------------


def test_crash_loop_fires_on_restarts_in_the_window_and_resolves_when_they_age_out() -> None:
    engine = AlertEngine(only_rules(crash_loop=CrashLoopRule(restarts=3, window_seconds=60)))

    assert engine.evaluate(sample(0, rag={"restarts": 1})) == []
    [fired] = engine.evaluate(sample(10, rag={"restarts": 3, "reason": "restarting after crash"}))
    assert (fired.state, fired.alert.rule, fired.alert.subject) == ("firing", "crash_loop", "rag")
    assert fired.alert.severity == Severity.WARNING
    assert "restarted 3 times" in fired.alert.message
    assert "restarting after crash" in fired.alert.message
    assert engine.evaluate(sample(20, rag={"restarts": 3})) == []  # still firing: no event
    [resolved] = engine.evaluate(sample(75, rag={"restarts": 3}))
    assert resolved.state == "resolved"
    assert engine.active() == []


def test_a_quarantined_plugin_escalates_the_crash_loop_to_critical() -> None:
    engine = AlertEngine(only_rules(crash_loop=CrashLoopRule(restarts=2)))
    engine.evaluate(sample(0, rag={"restarts": 2}))

    [escalated] = engine.evaluate(
        sample(1, rag={"restarts": 4, "state": "quarantined", "reason": "5 crashes within 60s"})
    )

    assert escalated.state == "firing"
    assert escalated.alert.severity == Severity.CRITICAL
    assert "quarantined: 5 crashes within 60s" in escalated.alert.message
    assert engine.active()[0].since < escalated.at
    assert engine.fired["crash_loop"] == 2


def test_error_rate_counts_only_failures_the_caller_could_not_avoid() -> None:
    engine = AlertEngine(only_rules(error_rate=ErrorRateRule(ratio=0.25, min_calls=4)))
    engine.evaluate(sample(0, p={"tools": {"t": tool(0)}}))

    caller_faults = tool(10, invalid_params=4, denied=3, tool_not_found=3)
    assert engine.evaluate(sample(10, p={"tools": {"t": caller_faults}})) == []
    [fired] = engine.evaluate(
        sample(20, p={"tools": {"t": tool(20, invalid_params=10, timeout=4, tool_failed=1)}})
    )

    assert fired.alert.rule == "error_rate"
    assert fired.alert.value == pytest.approx(0.25)
    assert "failed 5 of 20 calls (25%)" in fired.alert.message


def test_error_rate_waits_for_enough_calls() -> None:
    engine = AlertEngine(only_rules(error_rate=ErrorRateRule(ratio=0.1, min_calls=20)))

    assert engine.evaluate(sample(0, p={"tools": {"t": tool(19, tool_failed=19)}})) == []


def test_latency_fires_on_a_slow_p99_only_while_the_tool_is_in_use() -> None:
    rule = LatencyRule(p99_ms=100, min_calls=5, window_seconds=60)
    engine = AlertEngine(only_rules(latency=rule))

    [fired] = engine.evaluate(sample(0, p={"tools": {"t": tool(10, p99_ms=250.0)}}))
    assert (fired.alert.rule, fired.alert.value, fired.alert.threshold) == ("latency", 250, 100)
    [resolved] = engine.evaluate(sample(100, p={"tools": {"t": tool(10, p99_ms=250.0)}}))
    assert resolved.state == "resolved"


def test_worker_memory_near_its_limit_fires() -> None:
    engine = AlertEngine(only_rules(worker_memory=WorkerMemoryRule(ratio=0.9)))
    near = {"resources": {"rss_bytes": 470 * MIB}}

    assert engine.evaluate(sample(0, p={"resources": {"rss_bytes": 400 * MIB}})) == []
    [fired] = engine.evaluate(sample(1, p=near))
    assert "470 MiB, 92% of its 512 MiB limit" in fired.alert.message
    assert "memory_mb" in fired.alert.message


def test_host_thresholds_come_from_the_system_plugin_unless_overridden() -> None:
    rule = HostRule(thresholds=HostThresholds(memory=50))
    watch = resolve_host(rule, {"thresholds": {"cpu": 80, "memory": 85, "disk": "90"}})

    assert watch.thresholds == {"cpu": 80, "memory": 50, "disk": 90}
    assert watch.sources["memory"] == "alerts.host.thresholds"
    assert watch.sources["cpu"] == "configuration.thresholds of plugin 'system'"
    assert resolve_host(HostRule(), None).thresholds == {}


def test_host_readings_at_or_over_a_threshold_fire_per_metric_and_disk() -> None:
    watch = resolve_host(HostRule(), {"thresholds": {"cpu": 80, "memory": 85, "disk": 90}})
    engine = AlertEngine(only_rules(host=HostRule()), watch)
    reading = HostSample(cpu=80.0, memory=20.0, disks={"/": 95.0, "/data": 10.0})

    events = engine.evaluate(sample(0, host=reading))

    assert {(e.alert.rule, e.alert.subject) for e in events} == {
        ("host_cpu", "host"),
        ("host_disk", "/"),
    }
    assert all(e.alert.severity == Severity.CRITICAL for e in events)
    assert "from configuration.thresholds of plugin 'system'" in events[0].alert.message


def test_security_denials_in_the_window_fire() -> None:
    engine = AlertEngine(only_rules(security_denials=DenialsRule(count=3, window_seconds=60)))

    assert engine.evaluate(sample(0, denials=2)) == []
    [fired] = engine.evaluate(sample(1, denials=5))
    assert fired.alert.rule == "security_denials"
    assert fired.alert.value == 5


def test_disabled_rules_never_fire() -> None:
    engine = AlertEngine(only_rules())

    assert engine.evaluate(sample(0, denials=99, p={"state": "quarantined"})) == []


# ---- the engine ------------------------------------------------------------------------------


def test_listeners_get_every_event_and_a_broken_one_does_not_stop_the_rest() -> None:
    engine = AlertEngine(only_rules(security_denials=DenialsRule(count=1)))
    seen: list[AlertEvent] = []

    def broken(event: AlertEvent) -> None:
        raise RuntimeError("listener bug")

    engine.add_listener(broken)
    engine.add_listener(seen.append)
    engine.evaluate(sample(0, denials=1))

    assert [e.state for e in seen] == ["firing"]


def test_active_alerts_list_critical_first() -> None:
    engine = AlertEngine(
        only_rules(
            crash_loop=CrashLoopRule(restarts=1),
            security_denials=DenialsRule(count=1),
        )
    )
    engine.evaluate(sample(0, denials=1))
    engine.evaluate(sample(1, denials=1, a={"state": "quarantined"}))

    assert [a.rule for a in engine.active()] == ["crash_loop", "security_denials"]


def test_one_look_reports_what_a_single_sample_shows() -> None:
    alerts = evaluate_once(
        AlertsConfig(), sample(0, a={"state": "quarantined", "reason": "crash loop"})
    )

    assert [(a.rule, a.subject, a.severity) for a in alerts] == [
        ("crash_loop", "a", Severity.CRITICAL)
    ]


# ---- the webhook -----------------------------------------------------------------------------


def an_event() -> AlertEvent:
    engine = AlertEngine(only_rules(security_denials=DenialsRule(count=1)))
    [event] = engine.evaluate(sample(0, denials=1))
    return event


async def deliver(sender: WebhookSender, event: AlertEvent, until: int) -> None:
    """Run the sender until ``until`` events were delivered or failed (bounded)."""
    with anyio.fail_after(10):
        async with anyio.create_task_group() as tg:
            tg.start_soon(sender.run)
            sender.submit(event)
            while sender.delivered + sender.failed < until:  # noqa: ASYNC110
                await anyio.sleep(0.01)
            tg.cancel_scope.cancel()


@pytest.mark.anyio
async def test_the_webhook_receives_the_event_as_json_with_the_configured_headers() -> None:
    with WebhookReceiver() as receiver:
        webhook = Webhook(url=receiver.url, headers={"X-Hook-Key": "k1"})
        sender = WebhookSender(webhook, user_agent="hydrogen/test")
        event = an_event()

        await deliver(sender, event, until=1)

    [body] = receiver.events
    assert body["source"] == "hydrogen"
    assert body["state"] == "firing"
    assert body["alert"] == msgspec.to_builtins(event.alert)
    assert receiver.headers[0]["X-Hook-Key"] == "k1"
    assert receiver.headers[0]["User-Agent"] == "hydrogen/test"
    assert sender.delivered == 1


@pytest.mark.anyio
async def test_the_webhook_retries_server_errors_and_gives_up_on_client_errors() -> None:
    with WebhookReceiver(iter([503, 500, 200, 400])) as receiver:
        sender = WebhookSender(Webhook(url=receiver.url), backoff_base=0.01)

        await deliver(sender, an_event(), until=1)
        assert (sender.delivered, sender.failed, len(receiver.events)) == (1, 0, 1)
        await deliver(sender, an_event(), until=2)

    assert (sender.delivered, sender.failed, len(receiver.events)) == (1, 1, 1)


def test_a_full_webhook_queue_drops_the_oldest_event() -> None:
    sender = WebhookSender(Webhook(url="http://127.0.0.1:9/hook"))
    event = an_event()
    for _ in range(300):
        sender.submit(event)

    assert sender.dropped == 300 - 256
