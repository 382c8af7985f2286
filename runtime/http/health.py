"""``GET /health``: one word for the whole server, then each plugin's state and tool count.

    starting   start-up has not settled: some eager plugin is neither serving nor failed (503)
    degraded   a plugin that should serve does not (error, quarantined, refused...), or an
               alert is firing (200: the other plugins still serve)
    healthy    everything that should serve does, and no alert fires (200)

A plugin serves when it is active, or lazy and not started yet (its first call starts it).
Disabled and stopped plugins are listed but do not make the server degraded.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Final, Literal

from runtime.alerts.events import Alert
from runtime.host.lifecycle import State
from runtime.http.messages import HealthResponse, PluginHealth, ToolCounts

__all__ = ["STATUS_CODES", "health_report", "plugin_available"]

STATUS_CODES: Final = {"healthy": 200, "degraded": 200, "starting": 503}
# States in which a plugin is not meant to serve, so it cannot degrade the server.
_AT_REST: Final = frozenset({State.DISABLED, State.STOPPING, State.STOPPED})


def plugin_available(state: str) -> bool:
    """Calls to its tools can be served now (a lazy plugin starts on its first call)."""
    return state in (State.ACTIVE, State.DISCOVERED)


def health_report(
    status: Mapping[str, Any] | None,
    *,
    settled: bool,
    alerts: Sequence[Alert],
) -> HealthResponse:
    plugins: dict[str, PluginHealth] = {}
    total = available = 0
    degraded = bool(alerts)
    for name, entry in ((status or {}).get("plugins") or {}).items():
        state = str(entry.get("state", ""))
        serving = plugin_available(state)
        tools = len(entry.get("tools") or {})
        last_reload = entry.get("last_reload")
        plugins[name] = PluginHealth(
            state=state,
            available=serving,
            tools=tools,
            restarts=int(entry.get("restarts") or 0),
            reloads=int(entry.get("reloads") or 0),
            reason=str(entry.get("reason") or ""),
            last_reload=last_reload if isinstance(last_reload, dict) else None,
        )
        if state in _AT_REST:
            continue
        total += tools
        if serving:
            available += tools
        else:
            degraded = True
    word: Literal["healthy", "degraded", "starting"] = "healthy"
    if status is None or not settled:
        word = "starting"
    elif degraded:
        word = "degraded"
    return HealthResponse(
        status=word,
        uptime_s=float((status or {}).get("uptime_s") or 0.0),
        plugins=plugins,
        tools=ToolCounts(total=total, available=available),
        alerts=list(alerts),
        problems=list((status or {}).get("problems") or []),
    )
