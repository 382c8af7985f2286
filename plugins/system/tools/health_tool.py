"""``health_check``: live CPU, memory, disk and network figures with a verdict.

Status rules, applied to each percentage against its threshold ``t``:

* ``value >= t``        -> critical
* ``value >= 0.9 * t``  -> warning (an early signal proportional to the threshold, so a low
  threshold does not get a warning band wider than itself)
* an unreachable network target, or a disk path that cannot be read -> warning

The overall ``status`` is the worst of these; ``reasons`` lists every one that fired.
"""

from __future__ import annotations

import socket
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from typing import Any, Final

import psutil

from .config import (
    METRICS,
    Target,
    parse_number,
    parse_targets,
    parse_thresholds,
)

__all__ = ["HealthCheckTool"]

WARNING_RATIO: Final = 0.9
DEFAULT_CPU_INTERVAL: Final = 0.2
DEFAULT_NETWORK_TIMEOUT: Final = 1.0
# Bounds the probe pool so a long target list cannot open an unbounded number of sockets.
MAX_PROBE_THREADS: Final = 8
MAX_TARGETS: Final = 64
_SEVERITY: Final = {"ok": 0, "warning": 1, "critical": 2}


class HealthCheckTool:
    name: Final = "health_check"
    description: Final = (
        "CPU, memory, disk and network reachability figures with an overall status "
        "(ok, warning or critical) and the reasons for it."
    )

    def __init__(
        self,
        thresholds: dict[str, float],
        disk_paths: tuple[str, ...],
        network_targets: tuple[Target, ...],
    ) -> None:
        self._thresholds = dict(thresholds)
        self._disk_paths = disk_paths
        self._targets = network_targets

    def get_schema(self) -> dict[str, Any]:
        percent = {"type": "number", "minimum": 0, "maximum": 100}
        return {
            "type": "object",
            "properties": {
                "cpu_interval": {
                    "type": "number", "minimum": 0, "maximum": 5,
                    "default": DEFAULT_CPU_INTERVAL,
                    "description": "Seconds to sample CPU usage over; 0 compares with the "
                    "previous call, which is meaningless on the first one.",
                },
                "thresholds": {
                    "type": "object",
                    "properties": dict.fromkeys(METRICS, percent),
                    "additionalProperties": False,
                    "description": "Critical percentages overriding the configured ones.",
                },
                "network_targets": {
                    "type": "array", "items": {"type": "string"}, "maxItems": MAX_TARGETS,
                    "description": "'host:port' endpoints to TCP-probe instead of the "
                    "configured ones.",
                },
                "network_timeout": {
                    "type": "number", "minimum": 0.1, "maximum": 10,
                    "default": DEFAULT_NETWORK_TIMEOUT,
                    "description": "Seconds to wait for each TCP connection.",
                },
            },
            "additionalProperties": False,
        }  # fmt: skip

    def execute(self, params: dict[str, Any]) -> dict[str, Any]:
        """Sync on purpose: cpu_percent(interval) and TCP probes block, so the worker's thread
        pool runs this rather than the event loop."""
        params = params or {}
        unknown = set(params) - set(self.get_schema()["properties"])
        if unknown:
            raise ValueError(f"unknown parameter(s): {', '.join(sorted(unknown))}")
        interval = parse_number(
            params.get("cpu_interval", DEFAULT_CPU_INTERVAL), "cpu_interval", 0.0, 5.0
        )
        timeout = parse_number(
            params.get("network_timeout", DEFAULT_NETWORK_TIMEOUT), "network_timeout", 0.1, 10.0
        )
        thresholds = parse_thresholds(params.get("thresholds"), "thresholds", self._thresholds)
        targets = self._targets
        if "network_targets" in params:
            targets = parse_targets(params["network_targets"], "network_targets")
        if len(targets) > MAX_TARGETS:
            raise ValueError(f"network_targets has {len(targets)} entries; at most {MAX_TARGETS}")

        cpu = _cpu(interval)
        memory = _memory()
        disks = [_disk(path) for path in self._disk_paths]
        network = {"targets": _probe_all(targets, timeout)}

        findings: list[tuple[str, str]] = []
        findings += _grade("cpu", cpu["percent"], thresholds["cpu"])
        findings += _grade("memory", memory["percent"], thresholds["memory"])
        for disk in disks:
            if disk["percent"] is None:
                findings.append(("warning", f"disk {disk['path']} unreadable: {disk['error']}"))
            else:
                findings += _grade(f"disk {disk['path']}", disk["percent"], thresholds["disk"])
        for result in network["targets"]:
            if not result["reachable"]:
                findings.append(("warning", f"network {result['target']} unreachable: "
                                            f"{result['error']}"))  # fmt: skip
        status = max((level for level, _ in findings), key=_SEVERITY.__getitem__, default="ok")
        return {
            "status": status,
            "reasons": [reason for _, reason in findings],
            "thresholds": thresholds,
            "cpu": cpu,
            "memory": memory,
            "disks": disks,
            "network": network,
            "checked_at": datetime.now(UTC).isoformat(),
        }


def _grade(label: str, value: float, threshold: float) -> list[tuple[str, str]]:
    if value >= threshold:
        return [("critical", f"{label} {value:.1f}% >= critical {threshold:g}%")]
    warning = threshold * WARNING_RATIO
    if value >= warning:
        return [("warning", f"{label} {value:.1f}% >= warning {warning:g}% "
                            f"(90% of {threshold:g}%)")]  # fmt: skip
    return []


def _cpu(interval: float) -> dict[str, Any]:
    percent = psutil.cpu_percent(interval=interval)
    try:
        load: tuple[float | None, ...] = psutil.getloadavg()
    except (AttributeError, OSError):
        # Some platforms and restricted containers have no load average; report it as unknown.
        load = (None, None, None)
    return {
        "percent": float(percent),
        "count_logical": psutil.cpu_count(logical=True),
        "count_physical": psutil.cpu_count(logical=False),
        "load_avg_1": load[0],
        "load_avg_5": load[1],
        "load_avg_15": load[2],
    }


def _memory() -> dict[str, Any]:
    virtual = psutil.virtual_memory()
    return {
        "total": virtual.total,
        "available": virtual.available,
        "used": virtual.used,
        "percent": float(virtual.percent),
        "swap_percent": float(psutil.swap_memory().percent),
    }


def _disk(path: str) -> dict[str, Any]:
    try:
        usage = psutil.disk_usage(path)
    except OSError as exc:
        # One bad mount should degrade the report, not fail the whole health check.
        return {"path": path, "total": None, "used": None, "free": None, "percent": None,
                "error": f"{type(exc).__name__}: {exc.strerror or exc}"}  # fmt: skip
    return {"path": path, "total": usage.total, "used": usage.used, "free": usage.free,
            "percent": float(usage.percent), "error": None}  # fmt: skip


def _probe(target: Target, timeout: float) -> dict[str, Any]:
    started = time.perf_counter()
    try:
        with socket.create_connection((target.host, target.port), timeout=timeout):
            latency = (time.perf_counter() - started) * 1000.0
    except OSError as exc:
        reason = exc.strerror or str(exc) or type(exc).__name__
        return {"target": target.text, "reachable": False, "latency_ms": None,
                "error": f"{type(exc).__name__}: {reason}"}  # fmt: skip
    return {"target": target.text, "reachable": True, "latency_ms": round(latency, 3),
            "error": None}  # fmt: skip


def _probe_all(targets: tuple[Target, ...], timeout: float) -> list[dict[str, Any]]:
    if not targets:
        return []
    # In parallel so the call costs about one timeout, not one per unreachable target.
    with ThreadPoolExecutor(max_workers=min(MAX_PROBE_THREADS, len(targets))) as pool:
        return list(pool.map(lambda target: _probe(target, timeout), targets))
