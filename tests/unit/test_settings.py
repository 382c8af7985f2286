"""Environment switches: one parser, defaults when unset, a clear error for anything else."""

from __future__ import annotations

import pytest

from runtime.errors import ConfigError
from runtime.settings import GATE, env_flag


@pytest.mark.parametrize("raw", ["1", "true", "YES", " on "])
def test_truthy_values_set_the_switch(raw: str) -> None:
    assert env_flag(GATE, default=False, environ={GATE: raw}) is True


@pytest.mark.parametrize("raw", ["0", "false", "No", "OFF"])
def test_falsy_values_clear_the_switch(raw: str) -> None:
    assert env_flag(GATE, default=True, environ={GATE: raw}) is False


def test_unset_or_empty_takes_the_default() -> None:
    assert env_flag(GATE, default=True, environ={}) is True
    assert env_flag(GATE, default=False, environ={GATE: ""}) is False


def test_a_typo_is_an_error_naming_the_variable() -> None:
    with pytest.raises(ConfigError, match="HYDROGEN_GATE='of' is not a switch"):
        env_flag(GATE, default=True, environ={GATE: "of"})
