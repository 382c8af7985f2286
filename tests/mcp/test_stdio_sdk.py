"""``hydrogen serve --stdio`` driven by the official MCP SDK client, as a real subprocess."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import anyio
import pytest
from mcp import ClientSession, StdioServerParameters, types
from mcp.client.stdio import stdio_client
from mcp.shared.exceptions import MCPError

from runtime.devservices import ensure_demo_collection, mongodb_server
from runtime.manifest.discovery import discover
from tests.mcp.support import (
    BUNDLED_PLUGINS,
    EXCHANGE_TIMEOUT,
    HOSTILE_PLUGINS,
    MCP_PLUGINS,
    command,
    open_session,
    server_env,
)

pytestmark = [pytest.mark.anyio, pytest.mark.integration]


def _text(result: types.CallToolResult) -> str:
    return " ".join(c.text for c in result.content if isinstance(c, types.TextContent))


async def test_bundled_tools_are_listed_with_object_schemas_and_callable() -> None:
    with anyio.fail_after(EXCHANGE_TIMEOUT):
        async with open_session(BUNDLED_PLUGINS) as session:
            init = await session.initialize()
            assert init.protocol_version == "2025-11-25"
            assert init.capabilities.tools is not None
            assert init.capabilities.tools.list_changed is True
            assert init.capabilities.logging is not None
            listed = await session.list_tools()
            names = {tool.name for tool in listed.tools}
            assert {"health_check", "system_info"} <= names
            for tool in listed.tools:
                assert tool.input_schema["type"] == "object"
                assert tool.description
            for name in ("health_check", "system_info"):
                result = await session.call_tool(name, {})
                assert not result.is_error, _text(result)
                assert isinstance(result.structured_content, dict)
                assert result.structured_content


async def test_every_bundled_tool_answers_its_example_over_mcp() -> None:
    """system, rag (the real model) and mongodb (a real mongod) through one MCP session, each
    tool called with the first example of its plugin.yaml, in manifest order."""
    found = discover([BUNDLED_PLUGINS])
    assert {m.name for m in found.manifests} == {"system", "rag", "mongodb"}
    with mongodb_server() as uri:
        ensure_demo_collection(uri)
        cmd, *args = command(BUNDLED_PLUGINS)
        env = server_env(BUNDLED_PLUGINS) | {"MONGODB_URI": uri, "HF_HUB_OFFLINE": "1"}
        params = StdioServerParameters(command=cmd, args=args, env=env)
        with anyio.fail_after(EXCHANGE_TIMEOUT * 3):
            async with (
                stdio_client(params, errlog=sys.stderr) as (read, write),
                ClientSession(read, write) as session,
            ):
                await session.initialize()
                listed = {t.name for t in (await session.list_tools()).tools}
                for manifest in found.manifests:
                    for entry in manifest.raw["tools"]:
                        assert entry["name"] in listed
                        example = (entry.get("examples") or [{}])[0]
                        result = await session.call_tool(entry["name"], example)
                        assert not result.is_error, f"{entry['name']}: {_text(result)}"
                        assert isinstance(result.structured_content, dict)


async def test_unknown_tool_is_a_protocol_error_naming_known_tools() -> None:
    with anyio.fail_after(EXCHANGE_TIMEOUT):
        async with open_session(MCP_PLUGINS) as session:
            await session.initialize()
            with pytest.raises(MCPError) as caught:
                await session.call_tool("no_such_tool", {})
            assert caught.value.code == -32602
            assert "no_such_tool" in str(caught.value)
            assert "slow" in str(caught.value)


async def test_schema_violating_arguments_are_an_error_result() -> None:
    with anyio.fail_after(EXCHANGE_TIMEOUT):
        async with open_session(MCP_PLUGINS) as session:
            await session.initialize()
            result = await session.call_tool("progress", {"steps": "many"})
            assert result.is_error
            assert "invalid params" in _text(result)
            assert "steps" in _text(result)


async def test_failing_and_crashing_tools_are_error_results_and_the_server_survives() -> None:
    with anyio.fail_after(EXCHANGE_TIMEOUT):
        async with open_session(MCP_PLUGINS) as session:
            await session.initialize()
            failed = await session.call_tool("fail", {})
            assert failed.is_error
            assert "ValueError: mcpkit failed on purpose" in _text(failed)
            crashed = await session.call_tool("crash", {})
            assert crashed.is_error
            assert "crashed" in _text(crashed)
            await session.send_ping()
            # The supervisor restarts the worker; the next call is served normally.
            again = await session.call_tool("progress", {"steps": 1})
            assert not again.is_error, _text(again)


async def _started(session: Any, tg: Any, name: str, arguments: dict[str, Any]) -> anyio.Event:
    """Start a call in ``tg``; the event is set when the worker reports it has begun."""
    started = anyio.Event()

    async def on_progress(progress: float, total: float | None, message: str | None) -> None:
        started.set()

    async def call() -> None:
        await session.call_tool(name, arguments, progress_callback=on_progress)

    tg.start_soon(call)
    return started


async def test_ping_is_answered_while_a_slow_call_runs() -> None:
    with anyio.fail_after(EXCHANGE_TIMEOUT):
        async with open_session(MCP_PLUGINS) as session:
            await session.initialize()
            async with anyio.create_task_group() as tg:
                started = await _started(session, tg, "slow", {"seconds": 20})
                await started.wait()
                with anyio.fail_after(2):
                    await session.send_ping()
                    quick = await session.call_tool("progress", {"steps": 1})
                    assert not quick.is_error
                tg.cancel_scope.cancel()


async def test_cancelled_call_stops_the_tool_in_the_worker(tmp_path: Path) -> None:
    cancelled_marker, later_marker = tmp_path / "cancelled", tmp_path / "later"
    with anyio.fail_after(EXCHANGE_TIMEOUT):
        async with open_session(MCP_PLUGINS) as session:
            await session.initialize()
            async with anyio.create_task_group() as tg:
                args = {"seconds": 1.0, "marker": str(cancelled_marker)}
                started = await _started(session, tg, "slow", args)
                await started.wait()
                tg.cancel_scope.cancel()  # the SDK sends notifications/cancelled
            # Same duration, started later: when it is done, the first would have been too.
            later = await session.call_tool("slow", {"seconds": 1.0, "marker": str(later_marker)})
            assert not later.is_error, _text(later)
            assert later_marker.exists()
            assert not cancelled_marker.exists()


async def test_progress_reaches_the_client_in_order_before_the_result() -> None:
    seen: list[tuple[float, float | None, str | None]] = []

    async def on_progress(progress: float, total: float | None, message: str | None) -> None:
        seen.append((progress, total, message))

    with anyio.fail_after(EXCHANGE_TIMEOUT):
        async with open_session(MCP_PLUGINS) as session:
            await session.initialize()
            result = await session.call_tool(
                "progress", {"steps": 3}, progress_callback=on_progress
            )
            assert not result.is_error
    assert seen == [(1, 3, "step 1"), (2, 3, "step 2"), (3, 3, "step 3")]


# The SDK warns that logging is deprecated in its future 2026-07-28 protocol; every version
# this server negotiates (up to 2025-11-25) has it.
@pytest.mark.filterwarnings("ignore:The logging capability is deprecated")
async def test_plugin_logs_at_or_above_the_set_level_arrive_as_notifications() -> None:
    records: list[types.LoggingMessageNotificationParams] = []
    got_error = anyio.Event()

    async def on_log(params: types.LoggingMessageNotificationParams) -> None:
        records.append(params)
        if params.level == "error":
            got_error.set()

    with anyio.fail_after(EXCHANGE_TIMEOUT):
        async with open_session(MCP_PLUGINS, logging_callback=on_log) as session:
            await session.initialize()
            await session.set_logging_level("info")
            result = await session.call_tool("chatty", {})
            assert not result.is_error
            await got_error.wait()
    levels = {r.level: r.data for r in records if r.logger == "mcpkit"}
    assert levels == {"info": "chatty info", "warning": "chatty warning", "error": "chatty error"}


async def test_quarantined_plugin_triggers_list_changed_and_leaves_the_list() -> None:
    changed = anyio.Event()

    async def on_message(message: Any) -> None:
        if isinstance(message, types.ToolListChangedNotification):
            changed.set()

    with anyio.fail_after(EXCHANGE_TIMEOUT):
        async with open_session(HOSTILE_PLUGINS / "crashy", message_handler=on_message) as session:
            await session.initialize()
            assert "exit_now" in {t.name for t in (await session.list_tools()).tools}
            names: set[str] = {"exit_now"}
            # list_changed also fires when the worker first reports its schemas; keep crashing
            # it until a notification leaves the tool out of the list.
            while "exit_now" in names:
                changed = anyio.Event()
                while not changed.is_set():
                    result = await session.call_tool("exit_now", {})
                    assert result.is_error
                names = {t.name for t in (await session.list_tools()).tools}
            quarantined = await session.call_tool("crashy_ping", {})
            assert quarantined.is_error
            assert "quarantined" in _text(quarantined)
