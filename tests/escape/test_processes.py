"""Process escapes: exec, fork and thread bombs, orphans, signals, ptrace, namespaces, kernel
interfaces, other processes' limits, System V IPC.

A fork that execs nothing is allowed (seccomp permits clone without namespace flags), so bombs
and orphans are contained by the pids cgroup and killed with it; every exec is denied.
"""

from __future__ import annotations

import ctypes
import os
import signal
import subprocess
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from types import FrameType
from typing import Final

import psutil
import pytest

from runtime import PluginCrashedError, Supervisor, ToolFailedError
from tests.escape.support import (
    assert_layer,
    assert_survived,
    denial,
    escape_supervisor,
    hosted,
    pids_cgroup,
)
from tests.integration.support import (
    pid_alive,
    pid_gone,
    plugin_status,
    wait_for_new_worker,
    wait_until,
)

pytestmark = [pytest.mark.escape, pytest.mark.anyio, pytest.mark.layers("seccomp")]

PLUGINS: Final = (
    "shell_spawner",
    "execer",
    "spawner",
    "supervisor_signaler",
    "tracer",
    "namespace_hopper",
    "kernel_prober",
    "neighbour_tamperer",
    "parent_cloner",
    "sysv_ipc",
)
# runtime/host/reaper.py DEFAULT_PIDS_MAX
PIDS_MAX: Final = 512
# Seconds a target process outside the sandbox lives; it is killed at teardown long before.
TARGET_LIFETIME: Final = "300"
TARGET_EXIT_WAIT: Final = 10.0
SEGMENT_SECRET: Final = b"supervisor-secret"
SEGMENT_BYTES: Final = 4096
IPC_PRIVATE: Final = 0
IPC_CREAT_0600: Final = 0o1600
IPC_RMID: Final = 0
# The host's System V IPC objects, one table per kind: (path, libc remover) for each.
IPC_TABLES: Final = {"shm": "shmctl", "msg": "msgctl", "sem": "semctl"}
SYSVIPC: Final = Path("/proc/sysvipc")


@pytest.fixture(scope="module")
async def sup(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Supervisor]:
    async with hosted(tmp_path_factory.mktemp("workroot"), *PLUGINS) as supervisor:
        yield supervisor


@pytest.fixture
def outsider() -> Iterator[subprocess.Popen[bytes]]:
    """A root process of the host, outside every sandbox: what a plugin must not touch."""
    proc = subprocess.Popen(["sleep", TARGET_LIFETIME])
    try:
        yield proc
    finally:
        proc.kill()
        proc.wait(TARGET_EXIT_WAIT)


@pytest.fixture
def sigterm_catcher() -> Iterator[list[int]]:
    """Catch SIGTERM in this process (the supervisor) so a failure is reported, not fatal."""
    caught: list[int] = []

    def record(signum: int, frame: FrameType | None) -> None:
        caught.append(signum)

    previous = signal.signal(signal.SIGTERM, record)
    try:
        yield caught
    finally:
        signal.signal(signal.SIGTERM, previous)


@pytest.fixture
def segment() -> Iterator[int]:
    """A System V shared memory segment of this process holding a secret; removed at teardown
    together with every IPC object a plugin created meanwhile (they would outlive the test)."""
    libc = ctypes.CDLL(None, use_errno=True)
    libc.shmat.restype = ctypes.c_void_p
    before = {kind: ipc_ids(kind) for kind in IPC_TABLES}
    shmid = libc.shmget(IPC_PRIVATE, SEGMENT_BYTES, IPC_CREAT_0600)
    assert shmid >= 0, os.strerror(ctypes.get_errno())
    address = libc.shmat(shmid, None, 0)
    ctypes.memmove(address, SEGMENT_SECRET, len(SEGMENT_SECRET))
    libc.shmdt(ctypes.c_void_p(address))
    try:
        yield shmid
    finally:
        for kind, remover in IPC_TABLES.items():
            for leftover in ipc_ids(kind) - before[kind]:
                getattr(libc, remover)(leftover, IPC_RMID, None)


def ipc_ids(kind: str) -> set[int]:
    """Ids of the host's System V IPC objects of one kind (``shm``, ``msg``, ``sem``)."""
    rows = (SYSVIPC / kind).read_text().splitlines()[1:]
    return {int(row.split()[1]) for row in rows}


def segment_bytes(shmid: int) -> bytes:
    libc = ctypes.CDLL(None, use_errno=True)
    libc.shmat.restype = ctypes.c_void_p
    address = libc.shmat(shmid, None, 0)
    try:
        return ctypes.string_at(address, len(SEGMENT_SECRET))
    finally:
        libc.shmdt(ctypes.c_void_p(address))


def worker_pid(sup: Supervisor, plugin: str) -> int:
    pid: int = plugin_status(sup, plugin)["pid"]
    return pid


def guardian_of(worker: int) -> int:
    """The guardian is the worker's only child until a plugin starts processes."""
    children = psutil.Process(worker).children()
    assert len(children) == 1, children
    return children[0].pid


def children_of_this_process() -> set[int]:
    return {p.pid for p in psutil.Process().children()}


async def test_shell_through_subprocess_is_denied_and_the_raw_exec_gets_eperm(
    sup: Supervisor,
) -> None:
    with pytest.raises(ToolFailedError) as caught:
        await sup.call("spawn_shell")
    assert caught.value.error_type == "Denial"
    assert caught.value.remote_message == denial(
        "shell_spawner", "to start processes", "subprocess"
    )

    # The fork is allowed; the child's execve is not, and it reports EPERM before exiting.
    assert await sup.call("spawn_shell_raw") == {"errno": "EPERM", "exit": 255}
    # libc system(): the shell cannot be executed, so the child exits 127.
    assert await sup.call("system_raw") == {"exit": 127}
    assert_layer(sup, "shell_spawner", "seccomp")
    await assert_survived(sup, "shell_spawner", worker_pid(sup, "shell_spawner"))


async def test_exec_of_a_shell_or_a_memfd_gets_eperm_and_the_worker_lives_on(
    sup: Supervisor,
) -> None:
    pid = worker_pid(sup, "execer")
    with pytest.raises(ToolFailedError) as caught:
        await sup.call("exec_shell")
    assert caught.value.remote_message == denial("execer", "to start processes", "subprocess")

    result = await sup.call("exec_shell_raw")

    assert result == {"execv": "EPERM", "execveat_memfd": "EPERM"}
    await assert_survived(sup, "execer", pid)


async def test_posix_spawn_is_denied_and_raw_posix_spawn_returns_eperm(sup: Supervisor) -> None:
    with pytest.raises(ToolFailedError) as caught:
        await sup.call("posix_spawn_shell")
    assert caught.value.remote_message == denial("spawner", "to start processes", "subprocess")

    assert await sup.call("posix_spawn_shell_raw") == {"errno": "EPERM", "pid": 0}
    await assert_survived(sup, "spawner", worker_pid(sup, "spawner"))


@pytest.mark.layers("landlock-scope")
async def test_sigterm_to_the_supervisor_is_denied_and_raw_kill_gets_eperm(
    sup: Supervisor, sigterm_catcher: list[int]
) -> None:
    me = {"pid": os.getpid(), "signal": signal.SIGTERM}
    with pytest.raises(ToolFailedError) as caught:
        await sup.call("signal_process", me)
    assert caught.value.remote_message == (
        f"permission denied: plugin 'supervisor_signaler' may not signal process {os.getpid()}, "
        "which is outside its sandbox; no grant allows this"
    )

    result = await sup.call("signal_process_raw", me)

    assert result == {"kill": "EPERM", "pidfd_send_signal": "EPERM"}
    assert sigterm_catcher == []
    await assert_survived(sup, "supervisor_signaler", worker_pid(sup, "supervisor_signaler"))


@pytest.mark.layers("landlock-scope")
@pytest.mark.parametrize("target", ["guardian", "canary", "outsider"])
async def test_sigkill_to_a_process_outside_the_sandbox_gets_eperm(
    sup: Supervisor, outsider: subprocess.Popen[bytes], target: str
) -> None:
    pid = {
        "guardian": lambda: guardian_of(worker_pid(sup, "supervisor_signaler")),
        "canary": lambda: worker_pid(sup, "echo"),
        "outsider": lambda: outsider.pid,
    }[target]()
    kill = {"pid": pid, "signal": signal.SIGKILL}

    assert await sup.call("signal_process", kill) == {"errno": "EPERM"}
    assert await sup.call("signal_process_raw", kill) == {
        "kill": "EPERM",
        "pidfd_send_signal": "EPERM",
    }
    assert pid_alive(pid)
    await assert_survived(sup, "supervisor_signaler", worker_pid(sup, "supervisor_signaler"))


async def test_ptrace_memory_reads_and_fd_theft_on_the_supervisor_get_eperm(
    sup: Supervisor,
) -> None:
    result = await sup.call("trace_process", {"pid": os.getpid()})

    assert result == {
        "ptrace_attach": "EPERM",
        "ptrace_seize": "EPERM",
        "ptrace_traceme": "EPERM",
        "process_vm_readv": "EPERM",
        "pidfd_getfd": "EPERM",
        "kcmp": "EPERM",
    }
    assert psutil.Process().status() != psutil.STATUS_TRACING_STOP
    await assert_survived(sup, "tracer", worker_pid(sup, "tracer"))


@pytest.mark.layers("capabilities")
async def test_new_namespaces_setns_chroot_and_mount_are_refused_and_no_capability_returns(
    sup: Supervisor,
) -> None:
    result = await sup.call("hop_namespaces", {"pid": os.getpid()})

    assert result == {
        "unshare_user": "EPERM",
        "unshare_mount": "EPERM",
        "unshare_pid": "EPERM",
        "unshare_net": "EPERM",
        "clone_newuser": "EPERM",
        # clone3 keeps its flags in memory the filter cannot read: ENOSYS, so libc uses clone.
        "clone3": "ENOSYS",
        "setns": "EPERM",
        "chroot": "EPERM",
        "mount": "EPERM",
        "effective_capabilities": 0,
    }
    assert_layer(sup, "namespace_hopper", "capabilities")
    await assert_survived(sup, "namespace_hopper", worker_pid(sup, "namespace_hopper"))


async def test_io_uring_bpf_perf_keyrings_modules_and_kexec_get_eperm(sup: Supervisor) -> None:
    result = await sup.call("probe_kernel")

    assert result == dict.fromkeys(
        (
            "io_uring_setup",
            "bpf",
            "perf_event_open",
            "userfaultfd",
            "keyctl",
            "add_key",
            "finit_module",
            "kexec_file_load",
            "personality",
        ),
        "EPERM",
    )
    await assert_survived(sup, "kernel_prober", worker_pid(sup, "kernel_prober"))


async def test_limits_priority_and_cpus_of_another_process_cannot_be_changed(
    sup: Supervisor, outsider: subprocess.Popen[bytes]
) -> None:
    target = psutil.Process(outsider.pid)
    before = (target.rlimit(psutil.RLIMIT_NOFILE), target.nice(), target.cpu_affinity())

    result = await sup.call("tamper_with_process", {"pid": outsider.pid})

    assert result == dict.fromkeys(
        (
            "prlimit_nofile",
            "setpriority",
            "sched_setaffinity",
            "ioprio_set",
            "raise_own_hard_limit",
        ),
        "EPERM",
    )
    assert (target.rlimit(psutil.RLIMIT_NOFILE), target.nice(), target.cpu_affinity()) == before
    await assert_survived(sup, "neighbour_tamperer", worker_pid(sup, "neighbour_tamperer"))


async def test_clone_with_clone_parent_gets_eperm_and_the_supervisor_gains_no_child(
    sup: Supervisor,
) -> None:
    before = children_of_this_process()

    assert await sup.call("clone_sibling") == {"clone": "EPERM"}

    assert children_of_this_process() == before
    await assert_survived(sup, "parent_cloner", worker_pid(sup, "parent_cloner"))


async def test_system_v_ipc_of_the_host_cannot_be_read_or_created(
    sup: Supervisor, segment: int
) -> None:
    before = {kind: ipc_ids(kind) for kind in IPC_TABLES}

    result = await sup.call("attach_segment", {"shmid": segment})

    assert result == {"shmat": "EPERM", "shmget": "EPERM", "msgget": "EPERM", "semget": "EPERM"}
    assert segment_bytes(segment) == SEGMENT_SECRET
    assert {kind: ipc_ids(kind) for kind in IPC_TABLES} == before
    await assert_survived(sup, "sysv_ipc", worker_pid(sup, "sysv_ipc"))


@pytest.mark.layers("pids-cgroup")
async def test_fork_bomb_stops_at_pids_max_and_the_tree_dies_with_the_plugin() -> None:
    async with escape_supervisor("fork_bomber") as sup:
        pid = worker_pid(sup, "fork_bomber")
        group = pids_cgroup(pid)
        with pytest.raises(ToolFailedError) as caught:
            await sup.call("fork_python")
        assert caught.value.remote_message == denial(
            "fork_bomber", "to start processes", "subprocess"
        )

        result = await sup.call("fork_bomb")

        # RLIMIT_NPROC does not bind uid 0; the cgroup does.
        assert result["errno"] == "EAGAIN"
        assert 0 < result["forked"] < PIDS_MAX
        assert int((group / "pids.current").read_text()) == PIDS_MAX
        assert "max 0" not in (group / "pids.events").read_text()
        await assert_survived(sup, "fork_bomber", pid)
        bombers = {p.pid for p in psutil.Process(pid).children(recursive=True)}
        assert len(bombers) >= PIDS_MAX // 2
    # The autouse check then proves none of the ~500 processes outlived the supervisor.
    assert all(pid_gone(p) for p in bombers)


@pytest.mark.layers("pids-cgroup")
async def test_thread_bomb_stops_at_pids_max_and_the_worker_still_answers() -> None:
    async with escape_supervisor("thread_bomber") as sup:
        pid = worker_pid(sup, "thread_bomber")

        result = await sup.call("thread_bomb")

        assert result["error"] == "can't start new thread"
        assert 0 < result["threads"] < PIDS_MAX
        assert int((pids_cgroup(pid) / "pids.current").read_text()) == PIDS_MAX
        await assert_survived(sup, "thread_bomber", pid)


@pytest.mark.layers("pids-cgroup")
async def test_setsid_double_fork_orphan_without_exec_dies_when_the_plugin_stops() -> None:
    async with escape_supervisor("orphan_maker") as sup:
        pid = worker_pid(sup, "orphan_maker")

        result = await sup.call("make_orphan")

        orphan = result["pid"]
        assert pid_alive(orphan)
        assert pid_gone(result["middle"])
        # The middle process called setsid(); the grandchild stays in its new session.
        assert os.getsid(orphan) == result["middle"] != os.getsid(pid)
        assert pids_cgroup(orphan) == pids_cgroup(pid)
        await assert_survived(sup, "orphan_maker", pid)
    await wait_until(lambda: pid_gone(orphan), f"orphan {orphan} gone after the supervisor stopped")


async def test_x32_system_call_kills_the_worker_with_sigsys_and_it_restarts() -> None:
    async with escape_supervisor("abi_switcher") as sup:
        old_pid = worker_pid(sup, "abi_switcher")
        with pytest.raises(PluginCrashedError) as caught:
            await sup.call("x32_syscall")

        assert caught.value.plugin == "abi_switcher"
        assert "worker exited on SIGSYS" in caught.value.detail
        new_pid = await wait_for_new_worker(sup, "abi_switcher", old_pid)
        await assert_survived(sup, "abi_switcher", new_pid)
