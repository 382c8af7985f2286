"""The alert rules: a sample and the recent history in, findings out. No I/O, no clock.

Each rule is one function over the sample (and, for rates and repeated events, the growth of
counters in its window); a finding is what holds *now*. Turning findings into firing and
resolved events is the engine's job (``runtime.alerts.engine``).
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Iterator
from typing import Final

from runtime.alerts.config import AlertsConfig
from runtime.alerts.events import Finding, Severity
from runtime.alerts.host import HostWatch
from runtime.alerts.sample import Sample
from runtime.alerts.window import Counters

__all__ = ["DENIALS_KEY", "RULES", "evaluate", "observe"]

DENIALS_KEY: Final = ("denials",)
QUARANTINED: Final = "quarantined"
MIB: Final = 1024 * 1024

Rule = Callable[[AlertsConfig, Sample, Counters, HostWatch], Iterator[Finding]]


def observe(sample: Sample, counters: Counters) -> None:
    """Record the sample's cumulative counters; call once per sample, before ``evaluate``."""
    keep: set[Hashable] = {DENIALS_KEY}
    for plugin in sample.plugins:
        key = ("restarts", plugin.name)
        counters.observe(key, plugin.restarts, sample.at)
        keep.add(key)
    for tool in sample.tools:
        for key, value in (
            (("calls", tool.name), tool.calls),
            (("failures", tool.name), tool.failures),
        ):
            counters.observe(key, value, sample.at)
            keep.add(key)
    counters.observe(DENIALS_KEY, sample.denials, sample.at)
    counters.forget(keep)


def evaluate(
    config: AlertsConfig, sample: Sample, counters: Counters, host: HostWatch
) -> list[Finding]:
    return [finding for rule in RULES for finding in rule(config, sample, counters, host)]


def _crash_loop(
    config: AlertsConfig, sample: Sample, counters: Counters, host: HostWatch
) -> Iterator[Finding]:
    rule = config.crash_loop
    if not rule.enabled:
        return
    for plugin in sample.plugins:
        if plugin.state == QUARANTINED:
            yield Finding(
                "crash_loop",
                plugin.name,
                Severity.CRITICAL,
                f"plugin {plugin.name!r} is quarantined: {plugin.reason}; its tools answer "
                f"'unavailable' until the plugin is fixed and reloaded (or the server restarted)",
                value=float(plugin.restarts),
                threshold=float(rule.restarts),
            )
            continue
        restarts = counters.increase(("restarts", plugin.name), rule.window_seconds, sample.at)
        if restarts >= rule.restarts:
            yield Finding(
                "crash_loop",
                plugin.name,
                Severity.WARNING,
                f"plugin {plugin.name!r} restarted {restarts:g} times in the last "
                f"{rule.window_seconds:g}s (threshold {rule.restarts}); last reason: "
                f"{plugin.reason or 'none recorded'}; "
                f"its log lines are under hydrogen.plugin.{plugin.name}",
                value=restarts,
                threshold=float(rule.restarts),
            )


def _error_rate(
    config: AlertsConfig, sample: Sample, counters: Counters, host: HostWatch
) -> Iterator[Finding]:
    rule = config.error_rate
    if not rule.enabled:
        return
    for tool in sample.tools:
        calls = counters.increase(("calls", tool.name), rule.window_seconds, sample.at)
        if calls < rule.min_calls:
            continue
        failures = counters.increase(("failures", tool.name), rule.window_seconds, sample.at)
        ratio = failures / calls
        if ratio >= rule.ratio:
            yield Finding(
                "error_rate",
                tool.name,
                Severity.WARNING,
                f"tool {tool.name!r} of plugin {tool.plugin!r} failed {failures:g} of {calls:g} "
                f"calls ({ratio:.0%}) in the last {rule.window_seconds:g}s "
                f"(threshold {rule.ratio:.0%}); its errors by kind are in /metrics",
                value=ratio,
                threshold=rule.ratio,
            )


def _latency(
    config: AlertsConfig, sample: Sample, counters: Counters, host: HostWatch
) -> Iterator[Finding]:
    rule = config.latency
    if not rule.enabled:
        return
    for tool in sample.tools:
        if tool.p99_ms is None or tool.p99_ms <= rule.p99_ms:
            continue
        # The p99 is over the tool's most recent calls, however old: only a tool still in
        # use can be said to be slow now.
        calls = counters.increase(("calls", tool.name), rule.window_seconds, sample.at)
        if calls >= rule.min_calls:
            yield Finding(
                "latency",
                tool.name,
                Severity.WARNING,
                f"tool {tool.name!r} of plugin {tool.plugin!r} has a p99 latency of "
                f"{tool.p99_ms:.0f} ms (threshold {rule.p99_ms:g} ms)",
                value=tool.p99_ms,
                threshold=rule.p99_ms,
            )


def _worker_memory(
    config: AlertsConfig, sample: Sample, counters: Counters, host: HostWatch
) -> Iterator[Finding]:
    rule = config.worker_memory
    if not rule.enabled:
        return
    for plugin in sample.plugins:
        if not plugin.rss_bytes or not plugin.memory_limit_bytes:
            continue
        ratio = plugin.rss_bytes / plugin.memory_limit_bytes
        if ratio >= rule.ratio:
            yield Finding(
                "worker_memory",
                plugin.name,
                Severity.WARNING,
                f"the worker of plugin {plugin.name!r} uses {plugin.rss_bytes / MIB:.0f} MiB, "
                f"{ratio:.0%} of its {plugin.memory_limit_bytes / MIB:.0f} MiB limit "
                f"(threshold {rule.ratio:.0%}); raise memory_mb in its sandbox profile "
                f"or look for a leak",
                value=ratio,
                threshold=rule.ratio,
            )


def _host(
    config: AlertsConfig, sample: Sample, counters: Counters, host: HostWatch
) -> Iterator[Finding]:
    if not config.host.enabled or sample.host is None:
        return
    readings: list[tuple[str, str, float | None]] = [
        ("cpu", "host", sample.host.cpu),
        ("memory", "host", sample.host.memory),
        *(("disk", path, value) for path, value in sample.host.disks.items()),
    ]
    for metric, subject, value in readings:
        threshold = host.thresholds.get(metric)
        if value is None or threshold is None or value < threshold:
            continue
        where = "" if subject == "host" else f" ({subject})"
        yield Finding(
            f"host_{metric}",
            subject,
            Severity.CRITICAL,
            f"host {metric}{where} at {value:.0f}% (threshold {threshold:g}% from "
            f"{host.sources.get(metric, 'the configuration')})",
            value=value,
            threshold=threshold,
        )


def _denials(
    config: AlertsConfig, sample: Sample, counters: Counters, host: HostWatch
) -> Iterator[Finding]:
    rule = config.security_denials
    if not rule.enabled:
        return
    denials = counters.increase(DENIALS_KEY, rule.window_seconds, sample.at)
    if denials >= rule.count:
        yield Finding(
            "security_denials",
            "http",
            Severity.WARNING,
            f"{denials:g} security denials in the last {rule.window_seconds:g}s "
            f"(threshold {rule.count}): requests with a bad or missing token and calls the "
            f"caller policy refused; the audit log and the server log name them",
            value=denials,
            threshold=float(rule.count),
        )


RULES: Final[tuple[Rule, ...]] = (
    _crash_loop,
    _error_rate,
    _latency,
    _worker_memory,
    _host,
    _denials,
)
