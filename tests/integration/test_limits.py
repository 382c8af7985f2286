"""Frame, memory and CPU limits end in a clear error for one call or one worker, never more."""

from __future__ import annotations

import time

import pytest

from runtime import CallError, PluginCrashedError, ToolFailedError
from runtime.protocol.framing import DEFAULT_MAX_FRAME_SIZE
from tests.integration.support import (
    assert_canary,
    plugin_status,
    supervisor,
    wait_for_new_worker,
)

pytestmark = [pytest.mark.integration, pytest.mark.anyio]

MIB = 1024 * 1024
OVER_FRAME_LIMIT_MIB = DEFAULT_MAX_FRAME_SIZE // MIB + 1
UNDER_FRAME_LIMIT_MIB = DEFAULT_MAX_FRAME_SIZE // MIB - 1
# tests/profiles/tiny-memory.yaml
TINY_MEMORY_BYTES = 128 * MIB


async def test_result_over_the_frame_limit_is_a_clear_error_and_the_worker_lives() -> None:
    async with supervisor("bigresult") as sup:
        pid = plugin_status(sup, "bigresult")["pid"]
        with pytest.raises(ToolFailedError) as caught:
            await sup.call("blob", {"mib": OVER_FRAME_LIMIT_MIB})

        assert caught.value.plugin == "bigresult"
        assert caught.value.error_type == "ResultTooLarge"
        assert "frame limit" in str(caught.value)

        # Just under the limit still travels, intact, on the same worker.
        result = await sup.call("blob", {"mib": UNDER_FRAME_LIMIT_MIB})
        assert len(result["blob"]) == UNDER_FRAME_LIMIT_MIB * MIB
        assert plugin_status(sup, "bigresult")["pid"] == pid
        await assert_canary(sup)


async def test_params_over_the_frame_limit_are_a_call_error_naming_tool_and_plugin() -> None:
    async with supervisor() as sup:
        with pytest.raises(CallError) as caught:
            await sup.call("echo", {"text": "x" * (OVER_FRAME_LIMIT_MIB * MIB)})

        assert caught.value.tool == "echo"
        assert caught.value.plugin == "echo"
        assert plugin_status(sup, "echo")["tools"]["echo"]["errors"] == 1
        await assert_canary(sup)


@pytest.mark.parametrize(
    ("tool", "params"),
    [
        pytest.param("allocate", {"mib": 1024}, id="one-huge-block"),
        pytest.param("hoard", {}, id="many-small-blocks"),
    ],
)
async def test_memory_bomb_hits_the_profile_limit_as_memory_error(
    tool: str, params: dict[str, int]
) -> None:
    async with supervisor("memhog") as sup:
        entry = plugin_status(sup, "memhog")
        assert entry["profile"]["memory_bytes"] == TINY_MEMORY_BYTES
        # Within the limit, allocation works: the limit is what stops the bomb.
        assert await sup.call("allocate", {"mib": 16}) == {"allocated": 16 * MIB}

        with pytest.raises(ToolFailedError) as caught:
            await sup.call(tool, params)

        assert caught.value.plugin == "memhog"
        assert caught.value.error_type == "MemoryError"
        # The failed allocation is freed; the same worker keeps serving.
        assert await sup.call("memhog_ping") == {"pid": entry["pid"]}
        await assert_canary(sup)


async def test_cpu_spin_is_killed_by_the_profile_cpu_limit_then_restarts() -> None:
    # tests/profiles/tiny-cpu.yaml grants one CPU second; the spin tool's timeout is 20 s.
    async with supervisor("cpuspin") as sup:
        old_pid = plugin_status(sup, "cpuspin")["pid"]
        started = time.monotonic()
        with pytest.raises(PluginCrashedError) as caught:
            await sup.call("spin")

        assert time.monotonic() - started < 5.0
        assert caught.value.plugin == "cpuspin"
        assert "SIGXCPU" in caught.value.detail
        assert "CPU time limit" in caught.value.detail

        new_pid = await wait_for_new_worker(sup, "cpuspin", old_pid)
        assert await sup.call("cpuspin_ping") == {"pid": new_pid}
        await assert_canary(sup)
