"""A third-party MCP client: MCP Inspector's CLI mode lists and calls tools of `hydrogen serve`."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import BUNDLED_PLUGINS, REPO_ROOT

INSPECTOR = REPO_ROOT / ".venv" / "share" / "hydrogen" / "inspector" / "node_modules" / ".bin"
HYDROGEN = Path(sys.executable).with_name("hydrogen")


def _inspect(*args: str) -> dict[str, object]:
    binary = INSPECTOR / "mcp-inspector"
    if not binary.exists():
        pytest.skip(f"MCP Inspector not installed at {binary} (scripts/setup.sh fetches it)")
    done = subprocess.run(
        [str(binary), "--cli", str(HYDROGEN), "--plugins", str(BUNDLED_PLUGINS), "serve",
         "--stdio", *args],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    result: dict[str, object] = json.loads(done.stdout)
    return result


def test_inspector_lists_the_bundled_tools_with_their_schemas() -> None:
    listed = _inspect("--method", "tools/list")
    tools = {t["name"]: t for t in listed["tools"]}  # type: ignore[attr-defined]
    assert {"health_check", "system_info"} <= set(tools)
    assert tools["system_info"]["inputSchema"]["type"] == "object"


def test_inspector_calls_a_bundled_tool() -> None:
    result = _inspect(
        "--method", "tools/call", "--tool-name", "system_info",
        "--tool-arg", "include_packages=false",
    )  # fmt: skip
    assert result["isError"] is False
    assert result["structuredContent"]["os"]["system"] == "Linux"  # type: ignore[index]
