"""What a hot reload reports, and the bounds it works within.

A reload stages the plugin's folder as a new version (snapshot, manifest, admission, gate),
starts its worker beside the running one, checks its handshake and health, and only then swaps
routing to it in one step; the old version drains its calls and is stopped. Any failure before
the swap rolls back: the old version never stopped serving. ``Supervisor.reload`` and
``reload_all`` (runtime/host/supervisor.py) do the work; the watcher calls them on changes.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any, Final

import msgspec

__all__ = [
    "HEALTH_TIMEOUT",
    "MAX_HISTORY",
    "READY_POLL",
    "RETIRE_GRACE",
    "Outcome",
    "ReloadRecord",
]

# Seconds a new version's health hook has to answer before the reload is rolled back.
HEALTH_TIMEOUT: Final = 10.0
# Seconds between health checks of a new version that says it is not ready yet.
READY_POLL: Final = 0.1
# Seconds an old version's calls get, beyond their own tool timeout, to finish after a swap;
# then its worker is stopped (and killed if it does not exit).
RETIRE_GRACE: Final = 5.0
# Reload records kept for status(), newest last.
MAX_HISTORY: Final = 20


class Outcome(StrEnum):
    RELOADED = "reloaded"  # the new version serves; the old one drains and stops
    ROLLED_BACK = "rolled back"  # the new version failed; the old one kept serving
    ADDED = "added"  # a plugin folder appeared and was admitted (see its state)
    REMOVED = "removed"  # a plugin folder disappeared; its version drained and stopped
    UNCHANGED = "unchanged"  # reload_all found the same files as the running version


class ReloadRecord(msgspec.Struct, frozen=True):
    plugin: str
    outcome: Outcome
    version_before: str | None
    version_after: str | None
    # From the start of the reload to the new version serving (or the rollback).
    duration_ms: float
    at: float  # Unix time the reload finished
    reason: str = ""

    def describe(self) -> dict[str, Any]:
        return msgspec.to_builtins(self)  # type: ignore[no-any-return]
