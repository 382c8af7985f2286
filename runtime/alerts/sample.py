"""One reading of everything the rules look at, taken from ``Supervisor.status()``.

Reading the status dict happens here and nowhere else in the alerts package, with defaults
for every key, so a plugin that has not started (no worker, no resources) or a key the
supervisor does not report yet reads as "nothing to say" instead of an error.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

import msgspec

__all__ = [
    "CLIENT_ERROR_KINDS",
    "HostSample",
    "PluginSample",
    "Sample",
    "ToolSample",
    "take_sample",
]

# Error kinds that are the caller's doing; they do not count against a tool's error rate.
CLIENT_ERROR_KINDS: Final = frozenset({"invalid_params", "tool_not_found", "denied"})


class PluginSample(msgspec.Struct, frozen=True):
    name: str
    state: str
    reason: str
    restarts: int
    rss_bytes: int | None
    memory_limit_bytes: int | None


class ToolSample(msgspec.Struct, frozen=True):
    name: str
    plugin: str
    calls: int
    failures: int
    p99_ms: float | None


class HostSample(msgspec.Struct, frozen=True):
    """Percentages; ``disks`` by path. None where a reading failed."""

    cpu: float | None
    memory: float | None
    disks: dict[str, float]


class Sample(msgspec.Struct, frozen=True):
    at: float
    plugins: list[PluginSample]
    tools: list[ToolSample]
    denials: int
    host: HostSample | None = None


def take_sample(
    status: Mapping[str, Any], *, at: float, denials: int, host: HostSample | None = None
) -> Sample:
    plugins: list[PluginSample] = []
    tools: list[ToolSample] = []
    for name, entry in (status.get("plugins") or {}).items():
        resources = entry.get("resources") or {}
        profile = entry.get("profile") or {}
        plugins.append(
            PluginSample(
                name=name,
                state=str(entry.get("state", "")),
                reason=str(entry.get("reason") or ""),
                restarts=int(entry.get("restarts") or 0),
                rss_bytes=resources.get("rss_bytes"),
                memory_limit_bytes=profile.get("memory_bytes"),
            )
        )
        for tool, metrics in (entry.get("tools") or {}).items():
            by_kind: dict[str, int] = metrics.get("errors_by_kind") or {}
            tools.append(
                ToolSample(
                    name=tool,
                    plugin=name,
                    calls=int(metrics.get("calls") or 0),
                    failures=sum(n for k, n in by_kind.items() if k not in CLIENT_ERROR_KINDS),
                    p99_ms=(metrics.get("latency_ms") or {}).get("p99"),
                )
            )
    return Sample(at=at, plugins=plugins, tools=tools, denials=denials, host=host)
