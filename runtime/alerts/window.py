"""Counters remembered over a sliding window, so a rule can ask how much one grew lately.

The values observed are cumulative counters owned by someone else (restarts, calls, errors).
One that goes down was reset (a reloaded plugin starts counting again), and, as Prometheus
does for ``increase()``, the drop is read as a reset, never as negative growth. A counter seen
for the first time is taken to have been zero just before, since every counter the supervisor
keeps starts at zero with the process.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Hashable

__all__ = ["Counters"]


class _Series:
    __slots__ = ("last_raw", "offset", "points")

    def __init__(self) -> None:
        self.points: deque[tuple[float, float]] = deque()
        self.last_raw = 0.0
        self.offset = 0.0


class Counters:
    def __init__(self, horizon: float) -> None:
        """``horizon``: the longest window any caller asks about; older points are dropped."""
        self._horizon = horizon
        self._series: dict[Hashable, _Series] = {}

    def observe(self, key: Hashable, value: float, now: float) -> None:
        series = self._series.get(key)
        if series is None:
            series = self._series[key] = _Series()
        if value < series.last_raw:
            series.offset += series.last_raw
        series.last_raw = value
        series.points.append((now, series.offset + value))
        # Keep the newest point at or before the horizon's edge: it is the baseline there.
        edge = now - self._horizon
        while len(series.points) > 1 and series.points[1][0] <= edge:
            series.points.popleft()

    def increase(self, key: Hashable, window: float, now: float) -> float:
        """How much ``key`` grew in the last ``window`` seconds (0 if never observed)."""
        series = self._series.get(key)
        if series is None or not series.points:
            return 0.0
        edge = now - window
        baseline = 0.0
        for at, value in series.points:
            if at > edge:
                break
            baseline = value
        return series.points[-1][1] - baseline

    def forget(self, keep: set[Hashable]) -> None:
        """Drop series not in ``keep`` (plugins and tools that no longer exist)."""
        for key in [k for k in self._series if k not in keep]:
            del self._series[key]
