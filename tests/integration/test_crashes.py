"""Crashes and wire garbage fail only that plugin's calls; it restarts, or is quarantined."""

from __future__ import annotations

import logging

import pytest

from runtime import PluginCrashedError, PluginUnavailableError
from tests.integration.support import (
    assert_canary,
    plugin_status,
    supervisor,
    wait_for_new_worker,
)

pytestmark = [pytest.mark.integration, pytest.mark.anyio]


@pytest.mark.parametrize(
    ("tool", "exit_text"),
    [
        pytest.param("exit_now", "worker exited with status 3", id="os-exit"),
        pytest.param("sigkill_self", "worker exited on SIGKILL", id="sigkill"),
        pytest.param("segfault", "worker exited on SIGSEGV", id="segfault"),
    ],
)
async def test_worker_crash_mid_call_names_plugin_and_exit_then_restart_serves(
    tool: str, exit_text: str
) -> None:
    async with supervisor("crashy") as sup:
        old_pid = plugin_status(sup, "crashy")["pid"]
        with pytest.raises(PluginCrashedError) as caught:
            await sup.call(tool)

        assert caught.value.plugin == "crashy"
        assert caught.value.tool == tool
        assert exit_text in caught.value.detail
        assert "plugin 'crashy'" in str(caught.value)

        new_pid = await wait_for_new_worker(sup, "crashy", old_pid)
        assert await sup.call("crashy_ping") == {"pid": new_pid}
        assert plugin_status(sup, "crashy")["restarts"] == 1
        await assert_canary(sup)


async def test_call_right_after_a_crash_waits_for_the_restart() -> None:
    """A call made after the crash was reported was never in flight on the dead worker."""
    async with supervisor("crashy") as sup:
        old_pid = plugin_status(sup, "crashy")["pid"]
        with pytest.raises(PluginCrashedError):
            await sup.call("exit_now")

        result = await sup.call("crashy_ping")

        assert result["pid"] != old_pid
        await assert_canary(sup)


async def test_crash_loop_on_start_quarantines_plugin_and_others_keep_serving() -> None:
    async with supervisor("crashloop") as sup:
        entry = plugin_status(sup, "crashloop")
        assert entry["state"] == "quarantined"
        assert "5 crashes" in entry["reason"]
        assert "worker exited with status 7" in entry["reason"]
        assert entry["pid"] is None

        with pytest.raises(PluginUnavailableError) as caught:
            await sup.call("never_served")
        assert caught.value.plugin == "crashloop"
        assert caught.value.state == "quarantined"
        # Quarantined tools are not advertised.
        assert "never_served" not in {t.name for t in sup.tools()}
        await assert_canary(sup)


async def test_garbage_on_the_protocol_socket_fails_that_plugin_only_then_it_restarts(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.WARNING, logger="hydrogen.worker")
    async with supervisor("wirebreaker") as sup:
        old_pid = plugin_status(sup, "wirebreaker")["pid"]
        with pytest.raises(PluginCrashedError) as caught:
            await sup.call("break_wire")

        assert caught.value.plugin == "wirebreaker"
        assert "protocol error" in caught.value.detail
        assert any(
            r.name == "hydrogen.worker" and "'wirebreaker' broke the protocol" in r.getMessage()
            for r in caplog.records
        )
        await assert_canary(sup)
        new_pid = await wait_for_new_worker(sup, "wirebreaker", old_pid)
        assert await sup.call("wirebreaker_ping") == {"pid": new_pid}
