"""Slow start-up work done on a thread, and the values it produces handed to calls as they wait.

Importing torch and loading the model takes seconds, so the worker answers its handshake at once
and does this in the background; the supervisor and an MCP client are never held up. A call
that needs a value not produced yet waits for it, up to a bound, then gets ``NotReadyError``
saying what is still loading; a value that failed raises the failure to every caller.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence
from typing import Any, Generic, TypeVar, cast

from .errors import NotReadyError, RagError

__all__ = ["Pending", "start_in_background"]

T = TypeVar("T")
log = logging.getLogger(__name__)


class Pending(Generic[T]):
    """A value some start-up step will produce (or fail to)."""

    def __init__(self, what: str, wait_setting: str) -> None:
        self.what = what
        self._wait_setting = wait_setting
        self._done = threading.Event()
        self._value: T | None = None
        self._error: BaseException | None = None
        self._started = time.monotonic()

    def resolve(self, value: T) -> None:
        self._value, self._error = value, None
        self._done.set()

    def reject(self, error: BaseException) -> None:
        self._value, self._error = None, error
        self._done.set()

    @property
    def state(self) -> str:
        if not self._done.is_set():
            return "loading"
        return "failed" if self._error is not None else "ready"

    @property
    def error(self) -> BaseException | None:
        return self._error

    def peek(self) -> T | None:
        """The value if it is ready, without waiting."""
        return self._value if self._done.is_set() else None

    def wait(self, timeout: float) -> T:
        if not self._done.wait(timeout):
            elapsed = time.monotonic() - self._started
            raise NotReadyError(
                f"the {self.what} is still loading ({elapsed:.0f}s since the worker started; "
                f"calls wait {timeout:g}s, {self._wait_setting}); retry in a few seconds"
            )
        if self._error is not None:
            if isinstance(self._error, RagError):
                # The same failure goes to every caller; each raise starts a fresh traceback.
                raise self._error.with_traceback(None)
            raise NotReadyError(f"the {self.what} failed to load: {self._error}") from self._error
        return cast(T, self._value)


def start_in_background(
    steps: Sequence[tuple[Pending[Any], Callable[[], Any]]],
) -> threading.Thread:
    """Run each step in order on one daemon thread, resolving or rejecting its ``Pending``.

    Daemon, so a worker told to stop exits even while torch is still importing.
    """

    def run() -> None:
        for pending, step in steps:
            started = time.perf_counter()
            try:
                pending.resolve(step())
            except BaseException as exc:  # handed to every caller, never lost on this thread
                log.error("%s failed to load: %s", pending.what, exc)
                pending.reject(exc)
            else:
                log.info("%s ready in %.2fs", pending.what, time.perf_counter() - started)

    thread = threading.Thread(target=run, name="rag-startup", daemon=True)
    thread.start()
    return thread
