"""Per-tool call metrics: counts, errors by kind, latency percentiles over a bounded window."""

from __future__ import annotations

from collections import Counter, deque
from typing import Any, Final

__all__ = ["ToolMetrics"]

# Latencies kept for percentiles; recent behaviour matters more than all-time history.
LATENCY_WINDOW: Final = 2048


class ToolMetrics:
    __slots__ = ("calls", "errors", "latencies")

    def __init__(self) -> None:
        self.calls = 0
        self.errors: Counter[str] = Counter()
        self.latencies: deque[float] = deque(maxlen=LATENCY_WINDOW)

    def record(self, seconds: float, error_code: str | None) -> None:
        self.calls += 1
        self.latencies.append(seconds)
        if error_code is not None:
            self.errors[error_code] += 1

    def snapshot(self) -> dict[str, Any]:
        ordered = sorted(self.latencies)

        def pct(q: float) -> float | None:
            if not ordered:
                return None
            return round(ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000, 3)

        return {
            "calls": self.calls,
            "errors": sum(self.errors.values()),
            "errors_by_kind": dict(self.errors),
            "latency_ms": {"p50": pct(0.50), "p95": pct(0.95), "p99": pct(0.99)},
        }
