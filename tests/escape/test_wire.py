"""Wire escapes: a plugin writing into its own protocol socket, and flooding the channels the
supervisor drains. Each ends (or slows) that plugin's worker only."""

from __future__ import annotations

from typing import Final

import anyio
import psutil
import pytest

from runtime import PluginCrashedError, Supervisor
from runtime.host.worker import STDERR_MAX_LINE
from runtime.protocol.framing import DEFAULT_MAX_FRAME_SIZE
from tests.escape.support import assert_survived, escape_supervisor
from tests.integration.support import assert_canary, plugin_status, wait_for_new_worker

pytestmark = [pytest.mark.escape, pytest.mark.anyio]

# tests/plugins/escape/wire_garbage: the length header it sends.
HUGE_FRAME: Final = 0xFFFFFFFF
FLOOD_MIB: Final = 64
LOG_RECORDS: Final = 20_000
# What the supervisor may grow by while draining a flood many times this size; the drain keeps
# no more than a few lines (runtime/host/worker.py STDERR_TAIL_LINES, STDERR_MAX_LINE).
RSS_GROWTH_LIMIT: Final = 16 * 1024 * 1024
# A crash report quotes at most three lines of the stderr tail, each cut at STDERR_MAX_LINE.
CRASH_DETAIL_LIMIT: Final = 3 * STDERR_MAX_LINE + 1024
# Canary calls made while a flood is under way.
CANARY_ROUNDS: Final = 20


async def crashes_with(sup: Supervisor, plugin: str, tool: str) -> str:
    """Call ``tool``, expect the plugin's worker to be ended for it, return the crash detail."""
    old_pid = plugin_status(sup, plugin)["pid"]
    with pytest.raises(PluginCrashedError) as caught:
        await sup.call(tool)
    assert caught.value.plugin == plugin
    new_pid = await wait_for_new_worker(sup, plugin, old_pid)
    await assert_survived(sup, plugin, new_pid)
    return caught.value.detail


async def test_garbage_frame_is_a_protocol_error_for_that_worker_only() -> None:
    async with escape_supervisor("wire_garbage") as sup:
        detail = await crashes_with(sup, "wire_garbage", "send_garbage_frame")

    assert detail.startswith("protocol error: frame is not a JSON-RPC object")


async def test_oversized_frame_header_is_refused_before_anything_is_allocated() -> None:
    async with escape_supervisor("wire_garbage") as sup:
        rss = psutil.Process().memory_info().rss
        detail = await crashes_with(sup, "wire_garbage", "send_oversized_header")

        assert psutil.Process().memory_info().rss - rss < RSS_GROWTH_LIMIT
    assert detail.startswith(
        f"protocol error: frame of {HUGE_FRAME} bytes exceeds "
        f"the {DEFAULT_MAX_FRAME_SIZE}-byte limit"
    )


async def test_forged_response_to_a_request_never_sent_is_a_protocol_error() -> None:
    async with escape_supervisor("wire_forger") as sup:
        detail = await crashes_with(sup, "wire_forger", "forge_response")

    assert detail.startswith("protocol error: response to unknown request id 987654321")


async def test_forged_request_from_the_worker_is_a_protocol_error_and_reaches_no_tool() -> None:
    async with escape_supervisor("wire_forger") as sup:
        before = plugin_status(sup, "echo")["tools"]["echo"]["calls"]
        detail = await crashes_with(sup, "wire_forger", "forge_request")

        # assert_survived called echo once; the forged request never did.
        assert plugin_status(sup, "echo")["tools"]["echo"]["calls"] == before + 1
    assert detail.startswith("protocol error: unexpected request 'tools/call'")


async def test_stdout_and_stderr_flood_keeps_the_supervisor_bounded_and_serving() -> None:
    async with escape_supervisor("flooder") as sup:
        pid = plugin_status(sup, "flooder")["pid"]
        rss = psutil.Process().memory_info().rss

        result = await sup.call("flood_stdio", {"mib": FLOOD_MIB})

        assert result == {"stdout_mib": FLOOD_MIB // 2, "stderr_mib": FLOOD_MIB}
        assert psutil.Process().memory_info().rss - rss < RSS_GROWTH_LIMIT
        await assert_survived(sup, "flooder", pid)


async def test_log_flood_does_not_starve_other_plugins() -> None:
    async with escape_supervisor("flooder") as sup:
        pid = plugin_status(sup, "flooder")["pid"]
        rss = psutil.Process().memory_info().rss
        result: dict[str, object] = {}

        async def flood() -> None:
            result.update(await sup.call("flood_logs", {"count": LOG_RECORDS}))

        async with anyio.create_task_group() as tg:
            tg.start_soon(flood)
            for _ in range(CANARY_ROUNDS):
                await assert_canary(sup)

        assert result == {"records": LOG_RECORDS}
        assert psutil.Process().memory_info().rss - rss < RSS_GROWTH_LIMIT
        await assert_survived(sup, "flooder", pid)


async def test_endless_stderr_line_before_a_crash_keeps_the_crash_report_small() -> None:
    async with escape_supervisor("flooder") as sup:
        old_pid = plugin_status(sup, "flooder")["pid"]
        rss = psutil.Process().memory_info().rss
        with pytest.raises(PluginCrashedError) as caught:
            await sup.call("flood_then_crash", {"mib": FLOOD_MIB})

        # Whether or not the unterminated line reached the stderr tail by now, the report
        # quotes at most a few capped lines of it.
        assert caught.value.detail.startswith("worker exited with status 9")
        assert len(caught.value.detail) < CRASH_DETAIL_LIMIT
        assert psutil.Process().memory_info().rss - rss < RSS_GROWTH_LIMIT
        new_pid = await wait_for_new_worker(sup, "flooder", old_pid)
        await assert_survived(sup, "flooder", new_pid)
