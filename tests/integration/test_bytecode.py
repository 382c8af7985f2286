"""A plugin cannot run code other than the source the gate reviewed: shipped bytecode is ignored."""

from __future__ import annotations

import importlib.util
import os
from importlib._bootstrap_external import _code_to_timestamp_pyc  # type: ignore[attr-defined]
from pathlib import Path

import anyio
import pytest

from runtime import Supervisor
from tests.conftest import PROFILES_DIR

pytestmark = [pytest.mark.integration, pytest.mark.anyio]

MANIFEST = """\
name: forged
version: 1.0.0
description: ships __pycache__ files that differ from its source
class: Forged
tools:
  - {name: which_code, timeout: 5}
"""
INIT = """\
from tools.impl import answer


class Tool:
    def execute(self, params):
        return {"package": "source", "module": answer()}


class Forged:
    def __init__(self, manifest):
        pass

    def create_tool(self, name):
        return Tool()
"""
IMPL = "def answer():\n    return 'source'\n"


def _forge(source: Path, replacement: str) -> None:
    """Write a .pyc whose header matches ``source`` (mtime and size) but whose code differs."""
    stat = source.stat()
    code = compile(replacement, str(source), "exec")
    data = _code_to_timestamp_pyc(code, int(stat.st_mtime), stat.st_size)
    cached = Path(importlib.util.cache_from_source(str(source)))
    cached.parent.mkdir(exist_ok=True)
    cached.write_bytes(bytes(data))


async def test_forged_pycache_files_in_a_plugin_are_never_executed(tmp_path: Path) -> None:
    root = tmp_path / "forged"
    (root / "tools").mkdir(parents=True)
    (root / "plugin.yaml").write_text(MANIFEST)
    (root / "__init__.py").write_text(INIT)
    (root / "tools" / "__init__.py").write_text("")
    (root / "tools" / "impl.py").write_text(IMPL)
    _forge(root / "tools" / "impl.py", "def answer():\n    return 'forged'\n")
    _forge(
        root / "__init__.py",
        INIT.replace('"package": "source"', '"package": "forged"'),
    )
    os.sync()

    with anyio.fail_after(30):
        async with Supervisor([root], profiles_dir=PROFILES_DIR) as sup:
            result = await sup.call("which_code", {})

    assert result == {"package": "source", "module": "source"}
