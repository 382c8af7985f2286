"""What plugin code may import from Hydrogen inside a worker: progress reporting.

``report_progress`` works from async tools and from sync tools running in the worker's thread
pool; outside a tool call it does nothing, so plugins stay importable and testable on their own.
"""

from __future__ import annotations

from collections.abc import Callable
from contextvars import ContextVar

__all__ = ["report_progress"]

ProgressSink = Callable[[float, float | None, str | None], None]

_sink: ContextVar[ProgressSink | None] = ContextVar("hydrogen_progress_sink", default=None)


def report_progress(
    progress: float, total: float | None = None, message: str | None = None
) -> None:
    """Tell the caller how far the current tool call has got."""
    sink = _sink.get()
    if sink is not None:
        sink(progress, total, message)


def bind_progress_sink(sink: ProgressSink | None) -> None:
    """Used by the worker for each call; not for plugins."""
    _sink.set(sink)
