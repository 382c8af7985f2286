"""Helpers for the escape suite: hostile plugins next to the canary, and checks that tie each
outcome to the layer that produced it."""

from __future__ import annotations

import contextlib
import tempfile
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any, Final

import psutil

from runtime import Supervisor
from tests.conftest import TEST_PLUGINS
from tests.integration.support import ECHO, TEST_PROFILES, assert_canary, plugin_status

__all__ = [
    "ESCAPE",
    "GRANTED_PORT",
    "GRANTED_UNIX_SOCKET",
    "STRICT_PROFILE",
    "assert_layer",
    "assert_survived",
    "denial",
    "escape_supervisor",
    "hosted",
    "living_descendants",
    "pids_cgroup",
    "workroots_in",
]

ESCAPE: Final = TEST_PLUGINS / "escape"
STRICT_PROFILE: Final = TEST_PROFILES / "strict.yaml"
# The one TCP port tests/profiles/escape-net.yaml and escape-unix.yaml grant, on 127.0.0.1, and
# the one UNIX socket escape-unix.yaml grants. Both are fixed because a profile is static YAML.
GRANTED_PORT: Final = 29517
GRANTED_UNIX_SOCKET: Final = "/tmp/hydrogen-escape-granted.sock"
PIDS_HIERARCHY: Final = Path("/sys/fs/cgroup/pids")


def escape_supervisor(*plugins: str, **kwargs: Any) -> Supervisor:
    """A supervisor over the echo canary and the named escape plugins, with the test profiles."""
    return Supervisor(
        [ECHO, *(ESCAPE / name for name in plugins)], profiles_dir=TEST_PROFILES, **kwargs
    )


@contextlib.asynccontextmanager
async def hosted(workroot_parent: Path, *plugins: str) -> AsyncIterator[Supervisor]:
    """A supervisor shared by a module's cases; on exit, proves it left no process or work dir.

    Per-test fixtures (tests/conftest.py) cannot see a module's supervisor end, so this checks
    what they check, when it ends.
    """
    before = living_descendants()
    sup = escape_supervisor(*plugins)
    # The supervisor takes its work root from tempfile; pin it where the end can be checked.
    saved, tempfile.tempdir = tempfile.tempdir, str(workroot_parent)
    try:
        await sup.__aenter__()
    finally:
        tempfile.tempdir = saved
    try:
        yield sup
    finally:
        await sup.aclose()
    leaked = living_descendants() - before
    assert not leaked, f"processes left behind by the module's supervisor: {sorted(leaked)}"
    leftovers = workroots_in(workroot_parent)
    assert not leftovers, f"supervisor work directories left behind: {leftovers}"


def workroots_in(parent: Path) -> list[str]:
    return sorted(p.name for p in parent.glob("hydrogen-*"))


def living_descendants() -> set[int]:
    alive = set()
    for proc in psutil.Process().children(recursive=True):
        with contextlib.suppress(psutil.Error):
            if proc.status() != psutil.STATUS_ZOMBIE:
                alive.add(proc.pid)
    return alive


def denial(plugin: str, need: str, key: str, profile: Path = STRICT_PROFILE) -> str:
    """The audit hook's message for a denied access (runtime/worker/audit_hook.py)."""
    return (
        f"permission denied: plugin {plugin!r} needs {need}; declare it under "
        f"permissions.{key} in its plugin.yaml and grant it under grants.{key} in {profile}"
    )


def assert_layer(sup: Supervisor, plugin: str, layer: str, expected: str = "on") -> None:
    """The layer that stopped the escape is in force in that plugin's worker."""
    layers = plugin_status(sup, plugin)["layers"]
    assert layers is not None, f"plugin {plugin!r} is not active"
    assert layers[layer].startswith(expected), f"{plugin}: {layer} is {layers[layer]!r}"


async def assert_survived(sup: Supervisor, plugin: str, pid: int | None = None) -> None:
    """The supervisor still reports, the canary still answers, and the hostile plugin's worker
    is still the same process (``pid``) when its attempt was refused rather than fatal."""
    status = sup.status()
    assert status["plugins"]["echo"]["state"] == "active"
    await assert_canary(sup)
    if pid is not None:
        assert await sup.call(f"{plugin}_ping") == {"pid": pid}


def pids_cgroup(pid: int) -> Path:
    """The pids cgroup directory a process is in (v1 hierarchy)."""
    for line in Path(f"/proc/{pid}/cgroup").read_text().splitlines():
        _, controllers, path = line.split(":", 2)
        if "pids" in controllers.split(","):
            return PIDS_HIERARCHY / path.lstrip("/")
    raise AssertionError(f"process {pid} is in no pids cgroup")
