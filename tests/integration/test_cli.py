"""The `hydrogen` command as a real subprocess: output, exit codes, errors a person can read."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Final

import anyio
import pytest

from tests.conftest import REPO_ROOT

pytestmark = [pytest.mark.integration, pytest.mark.anyio]

HYDROGEN: Final = Path(sys.executable).parent / "hydrogen"
# Seconds for one CLI run: interpreter start, supervisor, one worker, exit.
CLI_TIMEOUT: Final = 30.0


async def hydrogen(*args: str) -> subprocess.CompletedProcess[bytes]:
    # A wide terminal keeps rich from wrapping error messages mid-phrase.
    env = {**os.environ, "COLUMNS": "400"}
    env.pop("HYDROGEN_PROFILES", None)
    with anyio.fail_after(CLI_TIMEOUT):
        return await anyio.run_process(
            [str(HYDROGEN), "--plugins", "tests/plugins", *args],
            cwd=REPO_ROOT,
            env=env,
            check=False,
        )


def _text(stream: bytes) -> str:
    return " ".join(stream.decode().split())


async def test_tools_json_lists_the_plugins_tools() -> None:
    done = await hydrogen("tools", "--json")

    assert done.returncode == 0, done.stderr.decode()
    tools = {t["name"]: t for t in json.loads(done.stdout)}
    assert set(tools) == {"echo", "echo_sync"}
    assert tools["echo"]["plugin"] == "echo"
    assert tools["echo_sync"]["input_schema"]["required"] == ["text"]
    assert tools["echo"]["timeout"] == 10


async def test_call_prints_the_json_result() -> None:
    done = await hydrogen("call", "echo", '{"text": "x"}')

    assert done.returncode == 0, done.stderr.decode()
    assert json.loads(done.stdout) == {"echo": {"text": "x"}}


async def test_status_json_shows_the_active_worker() -> None:
    done = await hydrogen("status", "--json")

    assert done.returncode == 0, done.stderr.decode()
    report = json.loads(done.stdout)
    echo = report["plugins"]["echo"]
    assert echo["state"] == "active"
    assert echo["pid"] > 0
    assert echo["resources"]["rss_bytes"] > 0
    assert report["problems"] == []


@pytest.mark.parametrize(
    ("args", "exit_code", "message"),
    [
        pytest.param(("call", "echo", "{not json"), 2, "PARAMS: not JSON", id="bad-json"),
        pytest.param(
            ("call", "no_such_tool", "{}"),
            1,
            "error: no plugin serves tool 'no_such_tool'",
            id="unknown-tool",
        ),
        pytest.param(
            ("call", "echo_sync", '{"text": 5}'),
            1,
            "invalid params for tool 'echo_sync' of plugin 'echo': params.text",
            id="invalid-params",
        ),
    ],
)
async def test_failing_call_exits_nonzero_with_a_clear_message(
    args: tuple[str, ...], exit_code: int, message: str
) -> None:
    done = await hydrogen(*args)

    assert done.returncode == exit_code
    assert done.stdout == b""
    assert message in _text(done.stderr)
