"""``GET /metrics``: the Prometheus text format, from one registry per server.

Two kinds of figures:

* observed here, as requests pass: HTTP requests by route, method and status, their latency,
  tool-call latency histograms (calls served over HTTP that reached a worker) and security
  denials (bad or missing tokens, policy refusals);
* read at scrape time from ``Supervisor.status()`` and the server's parts: per-tool calls and
  errors by kind (every front end), latency quantiles over each tool's recent calls, plugin
  states, restarts, reloads, load time, in-flight and queued calls, worker RSS, CPU and memory
  limit, gate verdicts and findings, result-cache use, alerts and webhook deliveries.
"""

from __future__ import annotations

from collections import Counter as Tally
from collections.abc import Callable, Iterator, Mapping
from typing import Any, Final

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Histogram,
    disable_created_metrics,
    generate_latest,
)
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from runtime.alerts.engine import AlertEngine
from runtime.alerts.webhook import WebhookSender
from runtime.host.lifecycle import State
from runtime.host.result_cache import ResultCache

__all__ = ["CONTENT_TYPE", "ROUTES", "HttpMetrics"]

CONTENT_TYPE: Final = "text/plain; version=0.0.4; charset=utf-8"
# Route labels are this fixed set, so a scanner probing random paths cannot grow the series.
ROUTES: Final = frozenset(
    {"/tools", "/execute", "/execute/batch", "/health", "/metrics", "/openapi.json", "/docs"}
)
OTHER_ROUTE: Final = "other"
METHODS: Final = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
OTHER_METHOD: Final = "OTHER"
# Seconds. Tool calls run from under a millisecond (echo) to minutes (the timeout's ceiling).
CALL_BUCKETS: Final = (
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
    60.0, 300.0,
)  # fmt: skip
REQUEST_BUCKETS: Final = CALL_BUCKETS[:-2]
# The supervisor's latency percentiles, as Prometheus quantile labels.
QUANTILES: Final = {"p50": "0.5", "p95": "0.95", "p99": "0.99"}

StatusSource = Callable[[], Mapping[str, Any] | None]


class HttpMetrics:
    def __init__(self) -> None:
        # Every counter would otherwise get a *_created twin: noise for a server that keeps
        # its counters for its whole life (process-wide in prometheus-client, and harmless).
        disable_created_metrics()  # type: ignore[no-untyped-call]
        self.registry = CollectorRegistry(auto_describe=False)
        self.requests = Counter(
            "hydrogen_http_requests",
            "HTTP requests answered, by route, method and status.",
            ("route", "method", "status"),
            registry=self.registry,
        )
        self.request_seconds = Histogram(
            "hydrogen_http_request_duration_seconds",
            "Time to answer an HTTP request, by route.",
            ("route",),
            buckets=REQUEST_BUCKETS,
            registry=self.registry,
        )
        self.call_seconds = Histogram(
            "hydrogen_tool_call_duration_seconds",
            "Latency of tool calls served over HTTP, failed ones included; cache hits, unknown "
            "tools, policy refusals and busy refusals excluded.",
            ("plugin", "tool"),
            buckets=CALL_BUCKETS,
            registry=self.registry,
        )
        self.denied = Counter(
            "hydrogen_security_denials",
            "Requests refused for security: missing_token, invalid_token, policy.",
            ("reason",),
            registry=self.registry,
        )
        self.denials = 0
        # Label lookups cost a lock and a validation each; the children are kept instead.
        self._calls: dict[tuple[str, str], Any] = {}
        self._requests: dict[tuple[str, str, int], tuple[Any, Any]] = {}

    def observe_call(self, tool: str, plugin: str, seconds: float) -> None:
        key = (plugin, tool)
        child = self._calls.get(key)
        if child is None:
            child = self._calls[key] = self.call_seconds.labels(plugin, tool)
        child.observe(seconds)

    def observe_request(self, path: str, method: str, status: int, seconds: float) -> None:
        # Only known routes and methods become label values, so a client sending random
        # paths or methods cannot grow the number of series.
        route = path if path in ROUTES else OTHER_ROUTE
        key = (route, method if method in METHODS else OTHER_METHOD, status)
        children = self._requests.get(key)
        if children is None:
            children = self._requests[key] = (
                self.requests.labels(key[0], key[1], str(status)),
                self.request_seconds.labels(route),
            )
        children[0].inc()
        children[1].observe(seconds)

    def deny(self, reason: str) -> None:
        self.denials += 1
        self.denied.labels(reason).inc()

    def watch(
        self,
        status: StatusSource,
        *,
        cache: ResultCache,
        alerts: AlertEngine | None,
        webhook: WebhookSender | None,
        load_seconds: Callable[[], Mapping[str, float]],
    ) -> None:
        """Register the scrape-time collector over the server's parts."""
        self.registry.register(_ServerCollector(status, cache, alerts, webhook, load_seconds))

    def render(self) -> bytes:
        return generate_latest(self.registry)


class _ServerCollector(Collector):
    def __init__(
        self,
        status: StatusSource,
        cache: ResultCache,
        alerts: AlertEngine | None,
        webhook: WebhookSender | None,
        load_seconds: Callable[[], Mapping[str, float]],
    ) -> None:
        self._status = status
        self._cache = cache
        self._alerts = alerts
        self._webhook = webhook
        self._load_seconds = load_seconds

    def collect(self) -> Iterator[Metric]:
        status = self._status()
        if status is not None:
            yield from _supervisor_metrics(status, self._load_seconds())
        yield from _cache_metrics(self._cache)
        if self._alerts is not None:
            yield from _alert_metrics(self._alerts, self._webhook)


def _supervisor_metrics(status: Mapping[str, Any], loads: Mapping[str, float]) -> Iterator[Metric]:
    calls = CounterMetricFamily(
        "hydrogen_tool_calls", "Tool calls, from every front end.", labels=("plugin", "tool")
    )
    errors = CounterMetricFamily(
        "hydrogen_tool_errors",
        "Failed tool calls by kind (the CallError code), from every front end.",
        labels=("plugin", "tool", "kind"),
    )
    latency = GaugeMetricFamily(
        "hydrogen_tool_latency_seconds",
        "Latency quantiles over each tool's most recent calls (up to 2048), every front end.",
        labels=("plugin", "tool", "quantile"),
    )
    state = GaugeMetricFamily(
        "hydrogen_plugin_state", "1 for the state each plugin is in.", labels=("plugin", "state")
    )
    restarts = CounterMetricFamily(
        "hydrogen_plugin_restarts", "Worker restarts (crashes and kills).", labels=("plugin",)
    )
    reloads = CounterMetricFamily(
        "hydrogen_plugin_reloads", "Hot reloads of the plugin.", labels=("plugin",)
    )
    load = GaugeMetricFamily(
        "hydrogen_plugin_load_seconds",
        "How long the plugin's last start took, from spawn to serving.",
        labels=("plugin",),
    )
    in_flight = GaugeMetricFamily(
        "hydrogen_plugin_in_flight_calls", "Calls running in the worker.", labels=("plugin",)
    )
    queued = GaugeMetricFamily(
        "hydrogen_plugin_queued_calls", "Calls waiting for a slot.", labels=("plugin",)
    )
    rss = GaugeMetricFamily(
        "hydrogen_worker_rss_bytes", "Resident memory of the worker.", labels=("plugin",)
    )
    memory_limit = GaugeMetricFamily(
        "hydrogen_worker_memory_limit_bytes",
        "The worker's memory limit (memory_mb of its sandbox profile).",
        labels=("plugin",),
    )
    cpu = CounterMetricFamily(
        "hydrogen_worker_cpu_seconds",
        "CPU time of the current worker process.",
        labels=("plugin", "mode"),
    )
    threads = GaugeMetricFamily("hydrogen_worker_threads", "Worker threads.", labels=("plugin",))
    verdict = GaugeMetricFamily(
        "hydrogen_gate_verdict",
        "1 for the security gate's decision on each plugin.",
        labels=("plugin", "decision"),
    )
    findings = GaugeMetricFamily(
        "hydrogen_gate_findings",
        "Open security gate findings (notes excluded), by severity.",
        labels=("plugin", "severity"),
    )
    for name, entry in (status.get("plugins") or {}).items():
        current = str(entry.get("state", ""))
        for known in State:
            state.add_metric((name, str(known)), 1.0 if current == known else 0.0)
        restarts.add_metric((name,), float(entry.get("restarts") or 0))
        reloads.add_metric((name,), float(entry.get("reloads") or 0))
        if name in loads:
            load.add_metric((name,), loads[name])
        in_flight.add_metric((name,), float(entry.get("in_flight") or 0))
        queued.add_metric((name,), float(entry.get("queued") or 0))
        profile = entry.get("profile") or {}
        if profile.get("memory_bytes"):
            memory_limit.add_metric((name,), float(profile["memory_bytes"]))
        resources = entry.get("resources") or {}
        if resources:
            rss.add_metric((name,), float(resources.get("rss_bytes", 0)))
            cpu.add_metric((name, "user"), float(resources.get("cpu_user_s", 0.0)))
            cpu.add_metric((name, "system"), float(resources.get("cpu_system_s", 0.0)))
            threads.add_metric((name,), float(resources.get("threads", 0)))
        gate = entry.get("gate") or {}
        if gate.get("decision"):
            verdict.add_metric((name, str(gate["decision"])), 1.0)
            severities = Tally(str(f.get("severity")) for f in gate.get("findings") or [])
            for severity, count in severities.items():
                findings.add_metric((name, severity), float(count))
        for tool, metrics in (entry.get("tools") or {}).items():
            calls.add_metric((name, tool), float(metrics.get("calls") or 0))
            for kind, count in (metrics.get("errors_by_kind") or {}).items():
                errors.add_metric((name, tool, kind), float(count))
            for key, quantile in QUANTILES.items():
                value = (metrics.get("latency_ms") or {}).get(key)
                if value is not None:
                    latency.add_metric((name, tool, quantile), value / 1000)
    uptime = GaugeMetricFamily(
        "hydrogen_supervisor_uptime_seconds", "Seconds since the supervisor started."
    )
    uptime.add_metric((), float(status.get("uptime_s") or 0.0))
    supervisor_rss = GaugeMetricFamily(
        "hydrogen_supervisor_rss_bytes", "Resident memory of the supervisor process."
    )
    supervisor_rss.add_metric((), float((status.get("supervisor") or {}).get("rss_bytes", 0)))
    yield from (calls, errors, latency, state, restarts, reloads, load, in_flight, queued)
    yield from (rss, memory_limit, cpu, threads, verdict, findings, uptime, supervisor_rss)


def _cache_metrics(cache: ResultCache) -> Iterator[Metric]:
    stats = cache.statistics()
    hits = CounterMetricFamily(
        "hydrogen_result_cache_hits", "Calls answered from the result cache.", labels=("tool",)
    )
    misses = CounterMetricFamily(
        "hydrogen_result_cache_misses",
        "Calls of cacheable tools the cache could not answer.",
        labels=("tool",),
    )
    for tool, count in stats.hits.items():
        hits.add_metric((tool,), float(count))
    for tool, count in stats.misses.items():
        misses.add_metric((tool,), float(count))
    entries = GaugeMetricFamily("hydrogen_result_cache_entries", "Results held.")
    entries.add_metric((), float(stats.entries))
    size = GaugeMetricFamily(
        "hydrogen_result_cache_bytes", "Bytes held (results plus per-entry overhead)."
    )
    size.add_metric((), float(stats.bytes))
    evictions = CounterMetricFamily(
        "hydrogen_result_cache_evictions", "Results dropped to stay within the cache's bounds."
    )
    evictions.add_metric((), float(stats.evictions))
    yield from (hits, misses, entries, size, evictions)


def _alert_metrics(alerts: AlertEngine, webhook: WebhookSender | None) -> Iterator[Metric]:
    firing = GaugeMetricFamily(
        "hydrogen_alert_firing",
        "1 for each alert firing now.",
        labels=("rule", "subject", "severity"),
    )
    for alert in alerts.active():
        firing.add_metric((alert.rule, alert.subject, str(alert.severity)), 1.0)
    fired = CounterMetricFamily(
        "hydrogen_alerts_fired", "Alerts that started firing, by rule.", labels=("rule",)
    )
    for rule, count in alerts.fired.items():
        fired.add_metric((rule,), float(count))
    yield from (firing, fired)
    if webhook is not None:
        deliveries = CounterMetricFamily(
            "hydrogen_alert_webhook_events",
            "Alert events by webhook outcome: delivered, failed (after retries), dropped.",
            labels=("outcome",),
        )
        deliveries.add_metric(("delivered",), float(webhook.delivered))
        deliveries.add_metric(("failed",), float(webhook.failed))
        deliveries.add_metric(("dropped",), float(webhook.dropped))
        yield deliveries
