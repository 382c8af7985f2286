"""Host CPU, memory and disk: which thresholds apply (and where each came from), and readings.

The thresholds are the ones the ``system`` plugin's ``health_check`` calls critical
(``configuration.thresholds`` in its plugin.yaml), so the server and the plugin agree on what
"too full" means; the server's own config can override each one.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping
from typing import Any, Final

import msgspec
import psutil

from runtime.alerts.config import HostRule
from runtime.alerts.sample import HostSample

__all__ = ["METRICS", "HostWatch", "read_host", "resolve_host"]

log = logging.getLogger("hydrogen.alerts")

METRICS: Final = ("cpu", "memory", "disk")
DEFAULT_DISK_PATHS: Final = ("/",)


class HostWatch(msgspec.Struct, frozen=True):
    """Thresholds in percent by metric, where each came from, and the disks to read."""

    thresholds: dict[str, float]
    sources: dict[str, str]
    disk_paths: tuple[str, ...] = DEFAULT_DISK_PATHS


def resolve_host(rule: HostRule, plugin_configuration: Mapping[str, Any] | None) -> HostWatch:
    """Merge the rule's own thresholds over the plugin's ``configuration``."""
    thresholds: dict[str, float] = {}
    sources: dict[str, str] = {}
    configured = plugin_configuration or {}
    from_plugin = configured.get("thresholds")
    if not isinstance(from_plugin, Mapping):
        from_plugin = {}
    for metric in METRICS:
        own = getattr(rule.thresholds, metric)
        if own is not None:
            thresholds[metric] = own
            sources[metric] = "alerts.host.thresholds"
            continue
        value = _percent(from_plugin.get(metric))
        if value is not None:
            thresholds[metric] = value
            sources[metric] = f"configuration.thresholds of plugin {rule.plugin!r}"
    paths = configured.get("disk_paths")
    disk_paths = (
        tuple(paths)
        if isinstance(paths, list) and paths and all(isinstance(p, str) and p for p in paths)
        else DEFAULT_DISK_PATHS
    )
    return HostWatch(thresholds=thresholds, sources=sources, disk_paths=disk_paths)


def _percent(value: object) -> float | None:
    # The plugin accepts numeric strings (${VAR} substitution yields strings), so this does too.
    if isinstance(value, bool):
        return None
    try:
        number = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) and 0 <= number <= 100 else None


def read_host(watch: HostWatch) -> HostSample:
    """Read only what has a threshold. CPU is the average since the previous reading."""
    cpu = memory = None
    disks: dict[str, float] = {}
    if "cpu" in watch.thresholds:
        cpu = psutil.cpu_percent(interval=None)
    if "memory" in watch.thresholds:
        memory = psutil.virtual_memory().percent
    if "disk" in watch.thresholds:
        for path in watch.disk_paths:
            try:
                disks[path] = psutil.disk_usage(path).percent
            except OSError as exc:
                log.debug("cannot read disk usage of %s: %s", path, exc)
    return HostSample(cpu=cpu, memory=memory, disks=disks)
