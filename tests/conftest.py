"""Shared fixtures: the anyio backend, the repo's test plugins, and a no-leaked-process check."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest

TESTS_DIR = Path(__file__).resolve().parent
REPO_ROOT = TESTS_DIR.parent
TEST_PLUGINS = TESTS_DIR / "plugins"
BUNDLED_PLUGINS = REPO_ROOT / "plugins"
PROFILES_DIR = REPO_ROOT / "sandbox_profiles"


GATE_OFF_DIRS = ("integration", "escape", "sandbox")


@pytest.fixture(scope="module", autouse=True)
def gate_off_for_confinement_tests(request: pytest.FixtureRequest) -> Iterator[None]:
    """Hostile test plugins must reach a worker: the sandbox, not the gate, is under test there.

    The bypass is the documented one (``HYDROGEN_GATE=off``), set only for those directories,
    and inherited by the CLI subprocesses they start. Gate tests keep the default (gated).
    Module scope, so it is in place before any module-scoped supervisor fixture starts.
    """
    path = Path(str(request.node.path))
    parts = path.relative_to(TESTS_DIR).parts if path.is_relative_to(TESTS_DIR) else ()
    if parts and parts[0] in GATE_OFF_DIRS:
        patch = pytest.MonkeyPatch()
        patch.setenv("HYDROGEN_GATE", "off")
        yield
        patch.undo()
    else:
        yield


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


def _descendants() -> set[int]:
    return {p.pid for p in psutil.Process().children(recursive=True)}


@pytest.fixture(autouse=True)
def no_leaked_processes() -> Iterator[None]:
    """Every test must leave no child process of ours behind (workers, grandchildren)."""
    before = _descendants()
    yield
    leaked = []
    for pid in _descendants() - before:
        try:
            proc = psutil.Process(pid)
            if proc.status() != psutil.STATUS_ZOMBIE:
                leaked.append(f"{pid} {' '.join(proc.cmdline())[:120]}")
        except psutil.Error:
            continue
    assert not leaked, f"processes left behind by the test: {leaked}"
