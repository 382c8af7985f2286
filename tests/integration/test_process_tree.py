"""No orphans: a grandchild that calls setsid() and outlives its parent dies with its worker."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from runtime import ToolTimeoutError
from tests.integration.support import (
    assert_canary,
    pid_alive,
    pid_gone,
    plugin_status,
    read_pid,
    supervisor,
    wait_for_new_worker,
    wait_until,
)

pytestmark = [pytest.mark.integration, pytest.mark.anyio]


def _assert_escaped(pid: int, worker_pid: int) -> None:
    """The grandchild really left: another session than the worker's, and orphaned."""
    assert pid_alive(pid)
    assert os.getsid(pid) != os.getsid(worker_pid)
    assert os.getpgid(pid) != os.getpgid(worker_pid)


async def test_setsid_grandchild_is_killed_when_the_supervisor_exits(tmp_path: Path) -> None:
    async with supervisor("escapee") as sup:
        worker_pid = plugin_status(sup, "escapee")["pid"]
        result = await sup.call("spawn_escapee", {"pidfile": str(tmp_path / "escapee.pid")})
        escapee = result["pid"]
        _assert_escaped(escapee, worker_pid)
        await assert_canary(sup)

    # SIGKILL lands asynchronously when the tree is killed without a cgroup.
    await wait_until(lambda: pid_gone(escapee), f"escapee {escapee} gone after supervisor exit")
    assert pid_gone(worker_pid)


async def test_setsid_grandchild_is_killed_with_its_worker_after_a_timeout(
    tmp_path: Path,
) -> None:
    pidfile = tmp_path / "escapee.pid"
    async with supervisor("escapee") as sup:
        old_pid = plugin_status(sup, "escapee")["pid"]
        with pytest.raises(ToolTimeoutError):
            await sup.call("spawn_and_block", {"pidfile": str(pidfile)})
        escapee = read_pid(pidfile)
        _assert_escaped(escapee, old_pid)

        new_pid = await wait_for_new_worker(sup, "escapee", old_pid)
        await wait_until(lambda: pid_gone(escapee), f"escapee {escapee} gone after the kill")
        assert pid_gone(old_pid)
        assert await sup.call("escapee_ping") == {"pid": new_pid}
        await assert_canary(sup)
