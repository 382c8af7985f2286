"""The plugin state table: exactly the documented transitions are legal."""

from __future__ import annotations

import itertools

import pytest

from runtime.errors import HydrogenError
from runtime.host.lifecycle import TRANSITIONS, IllegalTransition, State, check_transition

S = State

# The lifecycle as the module docstring and the architecture describe it, written out edge by
# edge so a change to the table has to be a deliberate change here too.
DOCUMENTED: frozenset[tuple[State, State]] = frozenset(
    {
        # discovered -> loading -> loaded -> active
        (S.DISCOVERED, S.LOADING),
        (S.LOADING, S.LOADED),
        (S.LOADED, S.ACTIVE),
        # active -> loading: restart after a crash or a kill
        (S.ACTIVE, S.LOADING),
        # loading/loaded/active -> error -> loading (retry) | quarantined (crash loop)
        (S.LOADING, S.ERROR),
        (S.LOADED, S.ERROR),
        (S.ACTIVE, S.ERROR),
        (S.ERROR, S.LOADING),
        (S.ERROR, S.QUARANTINED),
        # a plugin can be refused or disabled, or fail validation, before it ever runs
        (S.DISCOVERED, S.DISABLED),
        (S.DISCOVERED, S.REFUSED),
        (S.DISCOVERED, S.ERROR),
        # any running state -> stopping -> stopped
        (S.LOADING, S.STOPPING),
        (S.LOADED, S.STOPPING),
        (S.ACTIVE, S.STOPPING),
        (S.ERROR, S.STOPPING),
        (S.QUARANTINED, S.STOPPING),
        (S.STOPPING, S.STOPPED),
        # states with no worker stop directly
        (S.DISCOVERED, S.STOPPED),
        (S.DISABLED, S.STOPPED),
        (S.REFUSED, S.STOPPED),
    }
)
ALL_PAIRS = list(itertools.product(State, State))
ILLEGAL = [pair for pair in ALL_PAIRS if pair not in DOCUMENTED]


def reachable_from(start: State) -> set[State]:
    seen = {start}
    frontier = [start]
    while frontier:
        for nxt in TRANSITIONS[frontier.pop()]:
            if nxt not in seen:
                seen.add(nxt)
                frontier.append(nxt)
    return seen


@pytest.mark.parametrize(("current", "new"), sorted(DOCUMENTED), ids=lambda s: str(s))
def test_documented_transition_is_allowed(current: State, new: State) -> None:
    check_transition("demo", current, new)


@pytest.mark.parametrize(("current", "new"), ILLEGAL, ids=lambda s: str(s))
def test_undocumented_transition_is_refused_naming_plugin_and_states(
    current: State, new: State
) -> None:
    with pytest.raises(IllegalTransition) as caught:
        check_transition("demo", current, new)

    assert str(caught.value) == f"plugin 'demo': illegal state change {current} -> {new}"
    assert isinstance(caught.value, HydrogenError)


def test_table_has_an_entry_for_every_state() -> None:
    assert set(TRANSITIONS) == set(State)


def test_no_state_transitions_to_itself() -> None:
    for state in State:
        with pytest.raises(IllegalTransition):
            check_transition("demo", state, state)


def test_every_state_is_reachable_from_discovered() -> None:
    assert reachable_from(S.DISCOVERED) == set(State)


@pytest.mark.parametrize("state", list(State), ids=str)
def test_every_state_can_reach_stopped(state: State) -> None:
    assert S.STOPPED in reachable_from(state)


def test_stopped_is_final() -> None:
    assert reachable_from(S.STOPPED) == {S.STOPPED}


@pytest.mark.parametrize("state", [S.QUARANTINED, S.DISABLED, S.REFUSED], ids=str)
def test_parked_states_never_serve_again_without_a_reload(state: State) -> None:
    assert S.ACTIVE not in reachable_from(state)
    assert S.LOADING not in reachable_from(state)


def test_states_spell_their_names_in_lowercase() -> None:
    assert [str(s) for s in State] == [s.name.lower() for s in State]
