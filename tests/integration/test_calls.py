"""The call contract with real workers: busy, bad params, unknown tools, per-tool status."""

from __future__ import annotations

import json

import anyio
import psutil
import pytest

from runtime import (
    InvalidParamsError,
    PluginBusyError,
    ToolNotFoundError,
    ToolTimeoutError,
)
from tests.integration.support import (
    assert_canary,
    plugin_status,
    supervisor,
    wait_until,
)

pytestmark = [pytest.mark.integration, pytest.mark.anyio]


async def test_concurrency_cap_and_full_queue_answer_busy_at_once() -> None:
    # busy/plugin.yaml: max_in_flight 1, max_queued 1; `hold` waits until cancelled.
    async with supervisor("busy") as sup:
        async with anyio.create_task_group() as tg:
            tg.start_soon(sup.call, "hold")
            await wait_until(
                lambda: plugin_status(sup, "busy")["in_flight"] == 1, "first call in flight"
            )
            tg.start_soon(sup.call, "hold")
            await wait_until(lambda: plugin_status(sup, "busy")["queued"] == 1, "second queued")

            with anyio.fail_after(1), pytest.raises(PluginBusyError) as caught:
                await sup.call("hold")
            assert caught.value.plugin == "busy"
            assert "1 calls in flight, 1 queued" in str(caught.value)
            tg.cancel_scope.cancel()

        # Cancelled callers released their slots: the next call is admitted (and times out).
        with pytest.raises(ToolTimeoutError):
            await sup.call("hold", timeout=0.1)
        entry = plugin_status(sup, "busy")
        assert (entry["in_flight"], entry["queued"]) == (0, 0)
        await assert_canary(sup)


async def test_params_violating_the_schema_name_the_field() -> None:
    async with supervisor() as sup:
        with pytest.raises(InvalidParamsError) as wrong_type:
            await sup.call("echo_sync", {"text": 5})
        assert wrong_type.value.field == "params.text"
        assert "params.text" in str(wrong_type.value)
        assert wrong_type.value.plugin == "echo"

        with pytest.raises(InvalidParamsError) as missing:
            await sup.call("echo_sync", {})
        assert "'text' is a required property" in str(missing.value)

        with pytest.raises(InvalidParamsError) as bad_timeout:
            await sup.call("echo_sync", {"text": "x"}, timeout=0)
        assert bad_timeout.value.field == "timeout"
        await assert_canary(sup)


async def test_unknown_tool_is_tool_not_found_listing_known_tools() -> None:
    async with supervisor() as sup:
        with pytest.raises(ToolNotFoundError) as caught:
            await sup.call("no_such_tool", {})
        assert caught.value.tool == "no_such_tool"
        assert "echo, echo_sync" in str(caught.value)
        await assert_canary(sup)


async def test_status_reports_per_tool_metrics_and_worker_resources() -> None:
    async with supervisor() as sup:
        for text in ("a", "b", "c"):
            await sup.call("echo", {"text": text})
        await sup.call("echo_sync", {"text": "d"})
        with pytest.raises(InvalidParamsError):
            await sup.call("echo_sync", {"text": 1})

        status = sup.status()
        json.dumps(status)  # the report is plain JSON
        entry = status["plugins"]["echo"]
        assert entry["state"] == "active"
        assert entry["containment"] in (
            "cgroup-v1-pids+memory",
            "cgroup-v1-pids",
            "subreaper+psutil",
        )
        assert "runtime.worker" in " ".join(psutil.Process(entry["pid"]).cmdline())

        echo, echo_sync = entry["tools"]["echo"], entry["tools"]["echo_sync"]
        assert (echo["calls"], echo["errors"]) == (3, 0)
        assert (echo_sync["calls"], echo_sync["errors"]) == (2, 1)
        assert echo_sync["errors_by_kind"] == {"invalid_params": 1}
        assert echo["latency_ms"]["p50"] > 0
        assert echo["latency_ms"]["p99"] >= echo["latency_ms"]["p50"]

        resources = entry["resources"]
        assert resources["rss_bytes"] > 1024 * 1024
        assert resources["cpu_user_s"] + resources["cpu_system_s"] > 0
        assert resources["threads"] >= 1
        assert resources["descendants"] == 0
        assert status["supervisor"]["pid"] > 0
        assert status["problems"] == []
