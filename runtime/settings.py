"""Operator switches read from the environment, parsed one way everywhere.

A switch that is unset or empty takes its default; ``1/true/yes/on`` and ``0/false/no/off``
(any case) set it; anything else is a ``ConfigError`` naming the variable, so a typo such as
``HYDROGEN_GATE=of`` is reported instead of silently meaning one or the other.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Final

from runtime.errors import ConfigError

__all__ = ["ALLOW_DEGRADED", "GATE", "OSV_LIVE", "WATCH", "env_flag"]

GATE: Final = "HYDROGEN_GATE"
ALLOW_DEGRADED: Final = "HYDROGEN_ALLOW_DEGRADED"
# Watch the plugin directories and hot-reload changed plugins (default off).
WATCH: Final = "HYDROGEN_WATCH"
# Off: never try the live OSV API (air-gapped sites, reproducible CI).
OSV_LIVE: Final = "HYDROGEN_OSV_LIVE"

_TRUE: Final = frozenset({"1", "true", "yes", "on"})
_FALSE: Final = frozenset({"0", "false", "no", "off"})


def env_flag(name: str, default: bool, environ: Mapping[str, str] | None = None) -> bool:
    raw = (os.environ if environ is None else environ).get(name, "").strip().lower()
    if not raw:
        return default
    if raw in _TRUE:
        return True
    if raw in _FALSE:
        return False
    raise ConfigError(
        f"environment variable {name}={raw!r} is not a switch: use one of "
        f"{', '.join(sorted(_TRUE))} or {', '.join(sorted(_FALSE))}"
    )
