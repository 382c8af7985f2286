"""Waiting for any of several ``anyio.Event``s: how front ends follow plugin state changes.

``Supervisor.change_events()`` hands out one event per plugin (and one for routing changes);
a front end takes them, reads the state, then waits here for the next change.
"""

from __future__ import annotations

import anyio

__all__ = ["wait_any"]


async def wait_any(events: list[anyio.Event]) -> None:
    """Return when any of ``events`` is set (never, for none)."""
    if not events:
        await anyio.sleep_forever()
    async with anyio.create_task_group() as tg:

        async def wait(event: anyio.Event) -> None:
            await event.wait()
            tg.cancel_scope.cancel()

        for event in events:
            tg.start_soon(wait, event)
