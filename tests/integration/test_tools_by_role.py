"""tools(caller=...) lists only what the caller's role may call (what MCP's tools/list shows)."""

from __future__ import annotations

from pathlib import Path

import pytest

from runtime import Supervisor
from tests.conftest import PROFILES_DIR, TEST_PLUGINS

pytestmark = [pytest.mark.integration, pytest.mark.anyio]

POLICY = """\
default_role: analyst
roles:
  analyst: {allow: ["echo"]}
  operator: {allow: ["*"]}
"""


async def test_tools_are_filtered_by_the_callers_role(tmp_path: Path) -> None:
    policy = tmp_path / "policy.yaml"
    policy.write_text(POLICY)
    async with Supervisor([TEST_PLUGINS / "echo"], profiles_dir=PROFILES_DIR, policy=policy) as sup:
        assert [t.name for t in sup.tools(caller="operator")] == ["echo", "echo_sync"]
        assert [t.name for t in sup.tools(caller="analyst")] == ["echo"]
        assert [t.name for t in sup.tools()] == ["echo"]  # the default role
        assert sup.tools(caller="nobody") == []


async def test_without_a_policy_every_caller_sees_every_tool() -> None:
    async with Supervisor([TEST_PLUGINS / "echo"], profiles_dir=PROFILES_DIR) as sup:
        assert [t.name for t in sup.tools(caller="anyone")] == ["echo", "echo_sync"]
