"""Plugin states and every legal transition between them, in one table.

discovered -> loading -> loaded -> active
active -> loading            (restart after a crash or a kill)
loading/loaded/active -> error -> loading (retry) | quarantined (crash loop)
any running state -> stopping -> stopped
disabled and refused are terminal until the plugin is reloaded.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Final

from runtime.errors import HydrogenError

__all__ = ["TRANSITIONS", "State", "check_transition"]


class State(StrEnum):
    DISCOVERED = "discovered"
    LOADING = "loading"  # worker spawned, handshake in progress
    LOADED = "loaded"  # handshake done, tools checked, not yet routed
    ACTIVE = "active"  # serving calls
    ERROR = "error"  # failed to start or crashed; see the reason
    DISABLED = "disabled"  # enabled: false
    REFUSED = "refused"  # the admission gate said no
    QUARANTINED = "quarantined"  # crash loop; serves nothing until reloaded
    STOPPING = "stopping"
    STOPPED = "stopped"


_S = State
TRANSITIONS: Final[dict[State, frozenset[State]]] = {
    _S.DISCOVERED: frozenset({_S.LOADING, _S.DISABLED, _S.REFUSED, _S.ERROR, _S.STOPPED}),
    _S.LOADING: frozenset({_S.LOADED, _S.ERROR, _S.STOPPING}),
    _S.LOADED: frozenset({_S.ACTIVE, _S.ERROR, _S.STOPPING}),
    _S.ACTIVE: frozenset({_S.LOADING, _S.ERROR, _S.STOPPING}),
    _S.ERROR: frozenset({_S.LOADING, _S.QUARANTINED, _S.STOPPING}),
    _S.QUARANTINED: frozenset({_S.STOPPING}),
    _S.DISABLED: frozenset({_S.STOPPED}),
    _S.REFUSED: frozenset({_S.STOPPED}),
    _S.STOPPING: frozenset({_S.STOPPED}),
    _S.STOPPED: frozenset(),
}


class IllegalTransition(HydrogenError):
    pass


def check_transition(plugin: str, current: State, new: State) -> None:
    if new not in TRANSITIONS[current]:
        raise IllegalTransition(f"plugin {plugin!r}: illegal state change {current} -> {new}")
