"""SIGHUP reloads changed plugins: the operator's path when the file watcher is off.

Daemons conventionally re-read their configuration on SIGHUP (``kill -HUP <pid>``); every
``hydrogen serve`` front end runs this task. Without it, SIGHUP's default action would end the
server without stopping its workers cleanly.
"""

from __future__ import annotations

import logging
import signal

import anyio

from runtime.errors import HydrogenError
from runtime.host.supervisor import Supervisor

__all__ = ["reload_on_hangup"]

log = logging.getLogger("hydrogen.reload")


async def reload_on_hangup(supervisor: Supervisor) -> None:
    """SIGHUP reloads every changed plugin, as daemons conventionally re-read their config:
    ``kill -HUP <pid>`` is the operator's path when the file watcher is off."""
    with anyio.open_signal_receiver(signal.SIGHUP) as signals:
        async for _ in signals:
            log.info("received SIGHUP: reloading changed plugins")
            try:
                records = await supervisor.reload_all()
            except HydrogenError as exc:
                log.error("reload on SIGHUP failed: %s", exc)
                continue
            for record in records:
                log.info(
                    "plugin %r %s%s",
                    record.plugin,
                    record.outcome,
                    f": {record.reason}" if record.reason else "",
                )
