"""Helpers for integration tests: where the test plugins live, the canary, bounded waits."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any, Final

import anyio
import psutil

from runtime import Supervisor
from tests.conftest import TEST_PLUGINS, TESTS_DIR

__all__ = [
    "ECHO",
    "HOSTILE",
    "TEST_PROFILES",
    "VERSIONED",
    "assert_canary",
    "install_versioned",
    "pid_alive",
    "pid_gone",
    "plugin_status",
    "read_pid",
    "set_version",
    "supervisor",
    "wait_for_new_worker",
    "wait_until",
]

ECHO: Final = TEST_PLUGINS / "echo"
# A plugin that answers with the VERSION in its code; hot-reload tests install and edit copies.
VERSIONED: Final = TEST_PLUGINS / "reload" / "versioned"
HOSTILE: Final = TEST_PLUGINS / "hostile"
# Test-only sandbox profiles: the canary's `strict`, plus tiny memory and CPU budgets.
TEST_PROFILES: Final = TESTS_DIR / "profiles"
# Seconds. Bounds for waits on things that happen in another process (a restart, a log line);
# generous because a bound is a failure report, not a pace.
STATE_WAIT: Final = 10.0
CANARY_WAIT: Final = 5.0
# A state change in another process cannot be awaited directly; this is the polling step.
POLL_INTERVAL: Final = 0.02


def supervisor(*plugins: str, with_canary: bool = True, **kwargs: Any) -> Supervisor:
    """A supervisor over the named hostile plugins (plus the echo canary) and the test profiles."""
    dirs = [ECHO] if with_canary else []
    dirs += [HOSTILE / name for name in plugins]
    return Supervisor(dirs, profiles_dir=TEST_PROFILES, **kwargs)


async def assert_canary(sup: Supervisor) -> None:
    """The echo plugin, which no hostile plugin touches, still answers."""
    with anyio.fail_after(CANARY_WAIT):
        result = await sup.call("echo", {"text": "canary"})
    assert result == {"echo": {"text": "canary"}}


def plugin_status(sup: Supervisor, plugin: str) -> dict[str, Any]:
    entry: dict[str, Any] = sup.status()["plugins"][plugin]
    return entry


async def wait_until(predicate: Callable[[], bool], what: str, timeout: float = STATE_WAIT) -> None:
    """Poll ``predicate`` until it holds; fail naming ``what`` after ``timeout`` seconds."""
    try:
        with anyio.fail_after(timeout):
            # Nothing to await: the state lives in another process or another task's counters.
            while not predicate():  # noqa: ASYNC110
                await anyio.sleep(POLL_INTERVAL)
    except TimeoutError:
        raise AssertionError(f"not within {timeout:g}s: {what}") from None


async def wait_for_new_worker(sup: Supervisor, plugin: str, old_pid: int) -> int:
    """Wait until ``plugin`` is active again on a worker other than ``old_pid``; its pid."""

    def restarted() -> bool:
        entry = plugin_status(sup, plugin)
        return entry["state"] == "active" and entry["pid"] not in (None, old_pid)

    await wait_until(restarted, f"plugin {plugin!r} active on a new worker (old pid {old_pid})")
    pid: int = plugin_status(sup, plugin)["pid"]
    return pid


def pid_gone(pid: int) -> bool:
    """True when ``pid`` is dead. A zombie counts: it runs nothing, only its parent can reap it."""
    try:
        return psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True


def pid_alive(pid: int) -> bool:
    return not pid_gone(pid)


def read_pid(path: Path) -> int:
    return int(path.read_text())


def install_versioned(plugins: Path, name: str = "versioned") -> Path:
    """Copy the versioned plugin into ``plugins`` at version "A"; another ``name`` renames the
    plugin and its tool (``<name>_version``) so several copies can be served side by side."""
    target = plugins / name
    shutil.copytree(VERSIONED, target)
    set_version(target, "A")
    if name != "versioned":
        manifest = (target / "plugin.yaml").read_text()
        (target / "plugin.yaml").write_text(
            manifest.replace("name: versioned", f"name: {name}").replace(
                "name: which_version", f"name: {name}_version"
            )
        )
    return target


def set_version(plugin: Path, version: str) -> None:
    """Rewrite a versioned copy's code and manifest to ``version``, as an operator edits it."""
    code = (VERSIONED / "__init__.py").read_text()
    (plugin / "__init__.py").write_text(code.replace('VERSION = "A"', f'VERSION = "{version}"'))
    manifest = (VERSIONED / "plugin.yaml").read_text()
    (plugin / "plugin.yaml").write_text(manifest.replace('version: "1"', f'version: "{version}"'))
