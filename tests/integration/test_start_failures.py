"""Plugins that cannot start, clash or start lazily: each is reported, the others serve."""

from __future__ import annotations

import logging

import pytest

from runtime import PluginUnavailableError
from tests.integration.support import assert_canary, plugin_status, supervisor

pytestmark = [pytest.mark.integration, pytest.mark.anyio]


@pytest.mark.parametrize(
    ("plugin", "tool", "reason_parts"),
    [
        pytest.param(
            "broken_import",
            "broken_tool",
            ["ModuleNotFoundError", "hydrogen_test_module_that_does_not_exist"],
            id="import-fails",
        ),
        pytest.param(
            "raises_in_init",
            "raising_tool",
            ["ValueError", "configuration key 'api_url' is missing"],
            id="constructor-raises",
        ),
        pytest.param(
            "missing_tool",
            "ghost_tool",
            ["create_tool('ghost_tool') returned None"],
            id="declared-tool-not-created",
        ),
    ],
)
async def test_plugin_that_fails_to_load_is_in_error_with_its_reason_and_others_serve(
    plugin: str, tool: str, reason_parts: list[str], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.ERROR, logger=f"hydrogen.plugin.{plugin}")
    async with supervisor(plugin) as sup:
        entry = plugin_status(sup, plugin)
        assert entry["state"] == "error"
        assert entry["pid"] is None
        for part in reason_parts:
            assert part in entry["reason"]
        # A load failure is not retried: the same code would fail the same way.
        assert entry["restarts"] == 0

        with pytest.raises(PluginUnavailableError) as caught:
            await sup.call(tool)
        assert caught.value.plugin == plugin
        assert f"plugin {plugin!r} is error" in str(caught.value)
        assert reason_parts[-1] in str(caught.value)

        # The worker's traceback goes to the plugin's own logger.
        assert any(
            r.name == f"hydrogen.plugin.{plugin}" and "load failed" in r.getMessage()
            for r in caplog.records
        )
        await assert_canary(sup)


async def test_duplicate_tool_name_is_a_problem_naming_both_plugins() -> None:
    async with supervisor("echo_twin") as sup:
        clashes = [p for p in sup.problems if "tool 'echo'" in p]
        assert len(clashes) == 1
        assert "plugin 'echo'" in clashes[0]
        assert "plugin 'echo_twin'" in clashes[0]

        entry = plugin_status(sup, "echo_twin")
        assert entry["state"] == "error"
        assert "echo_twin" in entry["reason"]
        # The first claimant keeps the name and serves it.
        assert {t.name: t.plugin for t in sup.tools()}["echo"] == "echo"
        await assert_canary(sup)


async def test_auto_start_false_starts_the_worker_on_the_first_call() -> None:
    async with supervisor("lazy") as sup:
        entry = plugin_status(sup, "lazy")
        assert entry["state"] == "discovered"
        assert entry["pid"] is None
        # Routable before it runs: its tools come from plugin.yaml.
        assert {t.name: t.plugin for t in sup.tools()}["lazy_ping"] == "lazy"

        result = await sup.call("lazy_ping")

        entry = plugin_status(sup, "lazy")
        assert entry["state"] == "active"
        assert result == {"pid": entry["pid"]}
        await assert_canary(sup)
