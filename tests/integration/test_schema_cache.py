"""Tools are listed with their real schemas before their workers are up, from the last run."""

from __future__ import annotations

from pathlib import Path

import anyio
import pytest

from runtime import Supervisor
from tests.conftest import PROFILES_DIR, TEST_PLUGINS

pytestmark = [pytest.mark.integration, pytest.mark.anyio]


async def _schema_at_entry_then_active(
    plugins: Path,
) -> tuple[dict[str, object], dict[str, object]]:
    async with Supervisor([plugins], profiles_dir=PROFILES_DIR, wait_ready=False) as sup:
        at_entry = {t.name: t.input_schema for t in sup.tools()}["echo"]
        with anyio.fail_after(30):
            await sup.wait_settled()
        active = {t.name: t.input_schema for t in sup.tools()}["echo"]
    return at_entry, active


async def test_second_start_lists_the_schema_the_worker_reported_before_it_is_up(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HYDROGEN_GATE_CACHE", str(tmp_path / "cache" / "gate"))
    plugins = TEST_PLUGINS / "echo"

    first_entry, first_active = await _schema_at_entry_then_active(plugins)
    assert "properties" in first_active  # echo's get_schema() declares "text"
    assert first_entry != first_active  # nothing known yet: an open object schema

    second_entry, second_active = await _schema_at_entry_then_active(plugins)
    assert second_entry == first_active == second_active
    assert any((tmp_path / "cache" / "schemas").glob("*.json"))
