"""Fixtures for the escape suite: skip what this kernel cannot enforce, and prove every test
left no supervisor work directory behind (tests/conftest.py already checks processes)."""

from __future__ import annotations

import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Final

import pytest

from runtime.sandbox.probe import LayerSupport, probe
from tests.escape.support import workroots_in

# <linux/landlock.h>: the ABI that added TCP port rules, and the one that added scoping.
LANDLOCK_ABI_NET: Final = 4
LANDLOCK_ABI_SCOPE: Final = 6
# What each name in a ``layers`` marker needs from the probe.
LAYER_CHECKS: Final[dict[str, Callable[[LayerSupport], bool]]] = {
    "netns": lambda s: s.netns,
    "landlock": lambda s: s.landlock,
    "landlock-net": lambda s: s.landlock and s.landlock_abi >= LANDLOCK_ABI_NET,
    "landlock-scope": lambda s: s.landlock and s.landlock_abi >= LANDLOCK_ABI_SCOPE,
    "capabilities": lambda s: s.capabilities,
    "seccomp": lambda s: s.seccomp,
    "pids-cgroup": lambda s: s.cgroup_v1_pids,
    "memory-cgroup": lambda s: s.cgroup_v1_memory,
}
# Every escape plugin runs under a profile that requires these; without one it cannot start.
WORKER_LAYERS: Final = ("netns", "landlock", "capabilities", "seccomp")


def _missing(support: LayerSupport, names: tuple[str, ...]) -> list[str]:
    return [name for name in names if not LAYER_CHECKS[name](support)]


@pytest.fixture(scope="session")
def anyio_backend() -> str:
    """Session-wide, so a module can share one supervisor between its cases."""
    return "asyncio"


@pytest.fixture(scope="session", autouse=True)
def _worker_layers() -> LayerSupport:
    support = probe()
    missing = _missing(support, WORKER_LAYERS)
    if missing:
        pytest.skip(
            f"confined workers cannot start here ({', '.join(missing)}): {support.problems}"
        )
    return support


@pytest.fixture(autouse=True)
def _case_layers(request: pytest.FixtureRequest, _worker_layers: LayerSupport) -> None:
    """``@pytest.mark.layers("pids-cgroup")``: skip, naming why, where that layer is missing."""
    for marker in request.node.iter_markers("layers"):
        unknown = [name for name in marker.args if name not in LAYER_CHECKS]
        assert not unknown, f"unknown layer names {unknown}; known: {sorted(LAYER_CHECKS)}"
        missing = _missing(_worker_layers, marker.args)
        if missing:
            pytest.skip(f"{', '.join(missing)} not available here: {_worker_layers.problems}")


@pytest.fixture(autouse=True)
def no_leaked_workroots(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Point tempfile at a private folder, then check no supervisor work root is left in it."""
    private = tmp_path / "tempdir"
    private.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(private))
    yield
    leftovers = workroots_in(private)
    assert not leftovers, f"supervisor work directories left behind: {leftovers}"
