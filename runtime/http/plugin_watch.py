"""Follows the plugins through the Supervisor's change events, for ``/health`` and ``/metrics``.

It answers two questions: has start-up settled (every eager plugin active or failed: until
then ``/health`` says ``starting``), and how long did each plugin's last start take (seen
entering ``loading``, then ``active``).
"""

from __future__ import annotations

import time

import anyio

from runtime.host.events import wait_any
from runtime.host.lifecycle import State
from runtime.host.supervisor import Supervisor

__all__ = ["PluginWatch"]


class PluginWatch:
    def __init__(self) -> None:
        self.entered = anyio.Event()
        self.settled = False
        self.load_seconds: dict[str, float] = {}
        self._loading_since: dict[str, float] = {}

    async def run(self, supervisor: Supervisor) -> None:
        """Until cancelled; call once the supervisor has been entered."""
        async with anyio.create_task_group() as tg:
            tg.start_soon(self._wait_settled, supervisor)
            while True:
                events = supervisor.change_events()
                self._record(supervisor)
                await wait_any(events)

    async def _wait_settled(self, supervisor: Supervisor) -> None:
        await supervisor.wait_settled()
        self.settled = True

    def _record(self, supervisor: Supervisor) -> None:
        now = time.monotonic()
        for name, entry in supervisor.status()["plugins"].items():
            state = entry.get("state")
            if state == State.LOADING:
                self._loading_since.setdefault(name, now)
            elif state == State.ACTIVE and name in self._loading_since:
                self.load_seconds[name] = now - self._loading_since.pop(name)
            elif state != State.LOADED:
                self._loading_since.pop(name, None)
