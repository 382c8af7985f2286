"""Stopping: cancelled starts, stops during a handshake, and a supervisor that is SIGKILLed."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Final

import anyio
import pytest

from runtime import PluginUnavailableError, Supervisor
from tests.conftest import REPO_ROOT
from tests.integration.support import (
    HOSTILE,
    TEST_PROFILES,
    pid_alive,
    pid_gone,
    read_pid,
    supervisor,
    wait_until,
)

pytestmark = [pytest.mark.integration, pytest.mark.anyio]

# A stop of a worker that never finished its handshake has no hooks to run: it should be
# about as quick as killing it. Far below the 5 s the shutdown hooks are given.
PROMPT_STOP: Final = 1.5
CGROUP_V1_ROOT: Final = Path("/sys/fs/cgroup")
# Seconds for the supervisor process to start, spawn the escapee and report.
SUPERVISOR_START: Final = 15.0

# Runs a supervisor in its own process: starts an escapee, reports the pids, then waits forever.
SUPERVISOR_SCRIPT: Final = """
import json, sys, anyio
from runtime import Supervisor

async def main() -> None:
    async with Supervisor([sys.argv[1]], profiles_dir=sys.argv[2]) as sup:
        result = await sup.call("spawn_escapee", {"pidfile": sys.argv[3]})
        worker = sup.status()["plugins"]["escapee"]["pid"]
        print(json.dumps({"worker": worker, "escapee": result["pid"]}), flush=True)
        await anyio.sleep_forever()

anyio.run(main)
"""


async def test_caller_cancelling_the_start_leaves_no_worker(tmp_path: Path) -> None:
    # slowstart writes its worker's pid, then hangs in import far past this test.
    pidfile = tmp_path / "slowstart.pid"
    entered = False

    async def enter() -> None:
        nonlocal entered
        async with supervisor("slowstart", environ={"HYDROGEN_TEST_PIDFILE": str(pidfile)}):
            entered = True

    async with anyio.create_task_group() as tg:
        tg.start_soon(enter)
        await wait_until(pidfile.exists, "slowstart worker spawned")
        worker_pid = read_pid(pidfile)
        assert pid_alive(worker_pid)
        tg.cancel_scope.cancel()

    assert not entered
    await wait_until(lambda: pid_gone(worker_pid), f"slowstart worker {worker_pid} gone")


async def test_stop_while_a_lazy_plugin_is_mid_handshake_is_prompt(tmp_path: Path) -> None:
    # lazyslow is started by the first call; it writes its pid from inside the handshake
    # (the plugin import), then hangs there.
    pidfile = tmp_path / "lazyslow.pid"
    failures: list[Exception] = []

    async def first_call(sup: Supervisor) -> None:
        try:
            await sup.call("lazyslow_ping")
        except PluginUnavailableError as exc:
            failures.append(exc)

    async with anyio.create_task_group() as tg:
        async with supervisor("lazyslow", environ={"HYDROGEN_TEST_PIDFILE": str(pidfile)}) as sup:
            tg.start_soon(first_call, sup)
            await wait_until(pidfile.exists, "lazyslow worker inside its handshake")
            worker_pid = read_pid(pidfile)
            stopping = time.monotonic()
        stop_took = time.monotonic() - stopping

    assert len(failures) == 1
    assert stop_took < PROMPT_STOP
    await wait_until(lambda: pid_gone(worker_pid), f"lazyslow worker {worker_pid} gone")


async def _start_supervisor_process(
    tmp_path: Path,
) -> tuple[anyio.abc.Process, dict[str, int]]:
    process = await anyio.open_process(
        [
            sys.executable,
            "-c",
            SUPERVISOR_SCRIPT,
            str(HOSTILE / "escapee"),
            str(TEST_PROFILES),
            str(tmp_path / "escapee.pid"),
        ],
        cwd=REPO_ROOT,
        # A SIGKILLed supervisor cannot remove its work directory; keep it under tmp_path.
        env={**os.environ, "TMPDIR": str(tmp_path)},
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
    )
    try:
        assert process.stdout is not None
        line = b""
        with anyio.fail_after(SUPERVISOR_START):
            while not line.endswith(b"\n"):
                line += await process.stdout.receive()
    except BaseException:
        process.kill()
        with anyio.CancelScope(shield=True):
            await process.aclose()
        raise
    pids: dict[str, int] = json.loads(line)
    return process, pids


def _cgroup_of(pid: int) -> Path | None:
    for entry in Path(f"/proc/{pid}/cgroup").read_text().splitlines():
        _, controllers, path = entry.split(":", 2)
        if "pids" in controllers.split(","):
            return CGROUP_V1_ROOT / "pids" / path.lstrip("/")
    return None


async def test_worker_dies_with_a_sigkilled_supervisor(tmp_path: Path) -> None:
    process, pids = await _start_supervisor_process(tmp_path)
    cgroup = _cgroup_of(pids["escapee"])
    try:
        process.kill()
        await process.wait()
        await wait_until(lambda: pid_gone(pids["worker"]), "worker gone after SIGKILL")
    finally:
        await _kill_leftover(pids["escapee"], cgroup)
        await process.aclose()


async def test_setsid_grandchild_dies_with_a_sigkilled_supervisor(tmp_path: Path) -> None:
    process, pids = await _start_supervisor_process(tmp_path)
    cgroup = _cgroup_of(pids["escapee"])
    if cgroup is None:
        await _kill_leftover(pids["escapee"], None)
        process.kill()
        await process.aclose()
        pytest.skip("no writable cgroup v1 pids hierarchy: the worker's guardian needs one")
    memory = Path(str(cgroup).replace("/pids/", "/memory/", 1))
    try:
        process.kill()
        await process.wait()
        await wait_until(lambda: pid_gone(pids["worker"]), "worker gone after SIGKILL")
        await wait_until(lambda: pid_gone(pids["escapee"]), "escapee gone after SIGKILL", timeout=2)
        # The guardian also removes the emptied cgroups, so nothing is left in /sys either.
        await wait_until(lambda: not cgroup.is_dir(), f"{cgroup} removed by the guardian")
        await wait_until(lambda: not memory.is_dir(), f"{memory} removed by the guardian")
    finally:
        await _kill_leftover(pids["escapee"], cgroup)
        await process.aclose()


async def _kill_leftover(pid: int, cgroup: Path | None) -> None:
    """Clean up what a failed guarantee leaves behind, so one failure does not leak."""
    if pid_alive(pid):
        os.kill(pid, signal.SIGKILL)
    if cgroup is None or not await anyio.Path(cgroup).is_dir():
        return
    procs = cgroup / "cgroup.procs"
    try:
        members = (await anyio.Path(procs).read_text()).split()
    except FileNotFoundError:
        return  # the guardian removed it in the meantime
    for member in members:
        os.kill(int(member), signal.SIGKILL)
    # Members leave the cgroup asynchronously after SIGKILL; only an empty one can go.
    await wait_until(lambda: not procs.read_text().split(), f"{cgroup} empty")
    await anyio.Path(cgroup).rmdir()


def test_stale_cgroups_of_dead_supervisors_are_swept_and_live_ones_kept() -> None:
    from runtime.host.reaper import CGROUP_V1_PIDS, sweep_stale_groups

    base = CGROUP_V1_PIDS / "hydrogen"
    dead_pid = 4_000_000  # above pid_max: no such process can exist
    stale = base / f"ghost-{dead_pid}-deadbeef"
    live = base / f"ghost-{os.getpid()}-cafebabe"
    try:
        stale.mkdir(parents=True)
        live.mkdir()
    except OSError as exc:
        pytest.skip(f"no writable cgroup v1 pids hierarchy: {exc}")
    try:
        assert sweep_stale_groups() >= 1
        assert not stale.exists()
        assert live.is_dir()
    finally:
        for group in (stale, live):
            if group.exists():
                group.rmdir()
