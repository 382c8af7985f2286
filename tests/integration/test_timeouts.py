"""Deadlines: the caller hears at the deadline; ignoring cancellation costs the worker its life."""

from __future__ import annotations

import time

import pytest

from runtime import ToolTimeoutError
from tests.integration.support import (
    assert_canary,
    plugin_status,
    supervisor,
    wait_for_new_worker,
)

pytestmark = [pytest.mark.integration, pytest.mark.anyio]

# The sleepy plugin's manifest: sleep_async has timeout 1, the blocking tools 0.5.
SLEEP_ASYNC_TIMEOUT = 1.0
BLOCKING_TIMEOUT = 0.5
# Far longer than any deadline here: an answer that waited for the tool would be obvious.
LONG_SLEEP = 30.0
# How late after its deadline a timeout may arrive (scheduling, a loaded CI machine).
LATENESS = 0.5


async def test_timeout_arrives_at_the_deadline_and_the_same_worker_serves_on() -> None:
    async with supervisor("sleepy") as sup:
        pid = plugin_status(sup, "sleepy")["pid"]
        started = time.monotonic()
        with pytest.raises(ToolTimeoutError) as caught:
            await sup.call("sleep_async", {"seconds": LONG_SLEEP})
        elapsed = time.monotonic() - started

        assert SLEEP_ASYNC_TIMEOUT <= elapsed < SLEEP_ASYNC_TIMEOUT + LATENESS
        assert caught.value.timeout == SLEEP_ASYNC_TIMEOUT
        assert caught.value.plugin == "sleepy"
        assert "sleep_async" in str(caught.value)
        # A cancellable tool is cancelled in place: the same worker answers the next call.
        assert await sup.call("sleepy_ping") == {"pid": pid}
        assert plugin_status(sup, "sleepy")["restarts"] == 0
        await assert_canary(sup)


@pytest.mark.parametrize(
    ("caller_timeout", "effective"),
    [
        pytest.param(0.2, 0.2, id="shorter-caller-timeout-wins"),
        pytest.param(LONG_SLEEP, SLEEP_ASYNC_TIMEOUT, id="longer-caller-timeout-is-capped"),
    ],
)
async def test_caller_timeout_may_shorten_but_never_extend_the_manifest_timeout(
    caller_timeout: float, effective: float
) -> None:
    async with supervisor("sleepy") as sup:
        started = time.monotonic()
        with pytest.raises(ToolTimeoutError) as caught:
            await sup.call("sleep_async", {"seconds": LONG_SLEEP}, timeout=caller_timeout)
        elapsed = time.monotonic() - started

        assert caught.value.timeout == effective
        assert effective <= elapsed < effective + LATENESS
        assert (await sup.call("sleep_async", {"seconds": 0}))["slept"] == 0
        await assert_canary(sup)


@pytest.mark.parametrize(
    "tool",
    [
        pytest.param("block_sync", id="sync-tool-blocking-its-thread"),
        pytest.param("block_async", id="async-tool-blocking-the-event-loop"),
    ],
)
async def test_uncancellable_tool_times_out_then_worker_is_killed_and_restarted(tool: str) -> None:
    async with supervisor("sleepy") as sup:
        old_pid = plugin_status(sup, "sleepy")["pid"]
        started = time.monotonic()
        with pytest.raises(ToolTimeoutError) as caught:
            await sup.call(tool, {"seconds": LONG_SLEEP})
        elapsed = time.monotonic() - started

        # At the deadline, not after the cancel grace and the kill that follow it.
        assert BLOCKING_TIMEOUT <= elapsed < BLOCKING_TIMEOUT + LATENESS
        assert caught.value.plugin == "sleepy"

        new_pid = await wait_for_new_worker(sup, "sleepy", old_pid)
        assert await sup.call("sleepy_ping") == {"pid": new_pid}
        assert plugin_status(sup, "sleepy")["restarts"] == 1
        await assert_canary(sup)
