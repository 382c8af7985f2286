"""The seccomp filter, installed in a forked child per test: each denial's exact errno (checked
against an unconfined control, so EPERM is the filter's doing), what must keep working (threads,
fork, asyncio), the kill for foreign ABIs, and TSYNC's cover of threads already running."""

from __future__ import annotations

import asyncio
import ctypes
import errno
import functools
import json
import mmap
import os
import resource
import select
import signal
import socket
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable
from typing import Any, Final

import anyio
import pytest

from runtime.errors import SandboxError
from runtime.sandbox._bpf import RETURN, Assembler, BpfInstruction, sock_fprog
from runtime.sandbox._libc import set_no_new_privs, syscall
from runtime.sandbox.seccomp import (
    SeccompPolicy,
    build_filter,
    install_filter,
    seccomp_supported,
)
from tests.sandbox.support import CHILD_TIMEOUT, attempt, in_child

pytestmark = [
    pytest.mark.sandbox,
    pytest.mark.skipif(not seccomp_supported(), reason="seccomp filters cannot be installed here"),
]

STRICT: Final = SeccompPolicy(allow_exec=False, allow_unix_sockets=False, allow_network=False)
NO_SOCKETPAIR: Final = SeccompPolicy(
    allow_exec=False, allow_unix_sockets=False, allow_network=False, allow_unix_socketpair=False
)
TRUE: Final = "/bin/true"
# Milliseconds; measured well under 1 ms here, the budget only catches a pathological regression.
INSTALL_BUDGET_MS: Final = 20.0

# Typed from <asm/unistd_64.h> independently of the module under test, so a wrong number there
# cannot make a test agree with it.
SYS_CLONE: Final = 56
SYS_KEYCTL: Final = 250
SYS_IO_URING_SETUP: Final = 425
SYS_BPF: Final = 321
SYS_USERFAULTFD: Final = 323
SYS_EXECVEAT: Final = 322
SYS_CLONE3: Final = 435
SYS_SECCOMP: Final = 317
SECCOMP_SET_MODE_FILTER: Final = 1
SECCOMP_RET_ALLOW: Final = 0x7FFF_0000
SYS_GETPID: Final = 39
X32_SYSCALL_BIT: Final = 0x4000_0000
PTRACE_ATTACH: Final = 16
CLONE_NEWNET: Final = 0x4000_0000
CLONE_NEWUSER: Final = 0x1000_0000
KEYCTL_GET_KEYRING_ID: Final = 0
KEY_SPEC_PROCESS_KEYRING: Final = -2
BPF_INVALID_COMMAND: Final = 0xFFFF
ADDR_NO_RANDOMIZE: Final = 0x0040000
PERSONALITY_QUERY: Final = 0xFFFF_FFFF
AT_FDCWD: Final = -100
# mov eax, 20 (getpid in the i386 table); int 0x80; ret
I386_GETPID: Final = bytes([0xB8, 0x14, 0x00, 0x00, 0x00, 0xCD, 0x80, 0xC3])

LIBC: Final = ctypes.CDLL(None, use_errno=True)
LIBC.ptrace.restype = ctypes.c_long
LIBC.process_vm_readv.restype = ctypes.c_ssize_t


def raw(number: int, *args: object) -> str:
    """``"ok"`` or the errno name of one raw system call."""
    result, err = syscall(number, *args)
    return "ok" if result >= 0 else errno.errorcode[err]


def libc_call(function: Any, *args: object) -> str:
    """``"ok"`` or the errno name of a libc wrapper that returns -1 and sets errno."""
    ctypes.set_errno(0)
    result = function(*args)
    return "ok" if result >= 0 else errno.errorcode[ctypes.get_errno()]


def confined(policy: SeccompPolicy | None, probe: Callable[[], str]) -> str:
    """Run ``probe`` in a child, under ``policy`` or (``None``) unconfined; its answer."""

    def body() -> dict[str, Any]:
        if policy is not None:
            install_filter(policy)
        return {"answer": probe()}

    answer: str = in_child(body)["answer"]
    return answer


def ptrace_attach() -> str:
    victim = os.fork()
    if victim == 0:
        signal.pause()
        os._exit(0)
    try:
        return libc_call(LIBC.ptrace, PTRACE_ATTACH, victim, None, None)
    finally:
        os.kill(victim, signal.SIGKILL)
        while not os.WIFSIGNALED(os.waitpid(victim, 0)[1]):  # an attach stop comes first
            pass


class IoVec(ctypes.Structure):
    _fields_ = [("base", ctypes.c_void_p), ("len", ctypes.c_size_t)]


def process_vm_readv_self() -> str:
    source = ctypes.create_string_buffer(b"hydrogen")
    target = ctypes.create_string_buffer(len(source))
    local = IoVec(ctypes.addressof(target), len(target))
    remote = IoVec(ctypes.addressof(source), len(source))
    pid = os.getpid()
    return libc_call(LIBC.process_vm_readv, pid, ctypes.byref(local), 1, ctypes.byref(remote), 1, 0)


def clone_new_user() -> str:
    result, err = syscall(SYS_CLONE, CLONE_NEWUSER | signal.SIGCHLD, 0, 0, 0, 0)
    if result == 0:  # the new process, on a copy of this stack
        os._exit(0)
    if result > 0:
        os.waitpid(result, 0)
        return "ok"
    return errno.errorcode[err]


def userfaultfd() -> str:
    result, err = syscall(SYS_USERFAULTFD, os.O_CLOEXEC)
    if result >= 0:
        os.close(result)
        return "ok"
    return errno.errorcode[err]


# Each call fails or succeeds unconfined with an answer other than EPERM (root, this kernel).
ALWAYS_DENIED_PROBES: Final[dict[str, Callable[[], str]]] = {
    "ptrace": ptrace_attach,
    "process_vm_readv": process_vm_readv_self,
    "unshare": lambda: libc_call(LIBC.unshare, CLONE_NEWNET),
    "mount": lambda: libc_call(LIBC.mount, b"none", b"/nonexistent-hydrogen", b"tmpfs", 0, None),
    "io_uring_setup": lambda: raw(SYS_IO_URING_SETUP, 0, None),
    "bpf": lambda: raw(SYS_BPF, BPF_INVALID_COMMAND, None, 0),
    "userfaultfd": userfaultfd,
    "keyctl": lambda: raw(SYS_KEYCTL, KEYCTL_GET_KEYRING_ID, KEY_SPEC_PROCESS_KEYRING, 0),
    "clone_newuser": clone_new_user,
    "personality_no_aslr": lambda: libc_call(LIBC.personality, ADDR_NO_RANDOMIZE),
}


@pytest.mark.parametrize("name", sorted(ALWAYS_DENIED_PROBES))
def test_dangerous_call_fails_with_eperm_only_under_the_filter(name: str) -> None:
    probe = ALWAYS_DENIED_PROBES[name]
    assert confined(None, probe) != "EPERM"
    allow_everything = SeccompPolicy(allow_exec=True, allow_unix_sockets=True, allow_network=True)
    assert confined(allow_everything, probe) == "EPERM"


def test_exec_is_denied_with_permission_error_without_allow_exec() -> None:
    def body() -> dict[str, Any]:
        install_filter(STRICT)
        argv = (ctypes.c_char_p * 2)(b"true", None)
        return {
            "subprocess": attempt(lambda: subprocess.run([TRUE], check=True)),
            "execv": attempt(lambda: os.execv(TRUE, [TRUE])),
            "posix_spawn": attempt(lambda: os.posix_spawn(TRUE, [TRUE], {})),
            "execveat": raw(SYS_EXECVEAT, AT_FDCWD, TRUE.encode(), argv, argv, 0),
        }

    denied = dict.fromkeys(("subprocess", "execv", "posix_spawn", "execveat"), "EPERM")
    assert in_child(body) == denied


def test_exec_works_with_allow_exec_and_the_program_inherits_the_filter() -> None:
    policy = SeccompPolicy(allow_exec=True, allow_unix_sockets=False, allow_network=False)

    def body() -> dict[str, Any]:
        install_filter(policy)
        status = subprocess.run(
            ["grep", "^Seccomp:", "/proc/self/status"], capture_output=True, text=True, check=True
        )
        spawned = os.posix_spawn(TRUE, [TRUE], {})
        return {"status": status.stdout.split(), "spawn_exit": os.waitpid(spawned, 0)[1]}

    assert in_child(body) == {"status": ["Seccomp:", "2"], "spawn_exit": 0}


def test_unix_socket_is_denied_without_allow_unix_sockets_and_allowed_with_it() -> None:
    def unix_socket() -> str:
        return attempt(lambda: socket.socket(socket.AF_UNIX, socket.SOCK_STREAM).close())

    assert confined(STRICT, unix_socket) == "EPERM"
    allowed = SeccompPolicy(allow_exec=False, allow_unix_sockets=True, allow_network=False)
    assert confined(allowed, unix_socket) == "ok"


def test_unix_socketpair_is_allowed_by_default_and_denied_when_disallowed() -> None:
    def pair() -> str:
        def open_and_close() -> None:
            for end in socket.socketpair(socket.AF_UNIX):
                end.close()

        return attempt(open_and_close)

    assert confined(STRICT, pair) == "ok"
    assert confined(NO_SOCKETPAIR, pair) == "EPERM"


def test_network_sockets_are_denied_without_allow_network() -> None:
    def sockets() -> str:
        tcp = attempt(lambda: socket.socket(socket.AF_INET, socket.SOCK_STREAM).close())
        udp6 = attempt(lambda: socket.socket(socket.AF_INET6, socket.SOCK_DGRAM).close())
        return f"{tcp} {udp6}"

    assert confined(STRICT, sockets) == "EPERM EPERM"


def open_and_close(family: int, kind: int, protocol: int) -> None:
    socket.socket(family, kind, protocol).close()


def test_with_network_ip_sockets_work_but_raw_packet_and_netlink_are_denied() -> None:
    def sockets() -> str:
        kinds = [
            (socket.AF_INET, socket.SOCK_STREAM | socket.SOCK_CLOEXEC, 0),
            (socket.AF_INET6, socket.SOCK_DGRAM, 0),
            (socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP),
            (socket.AF_INET6, socket.SOCK_RAW | socket.SOCK_NONBLOCK, socket.IPPROTO_ICMPV6),
            (socket.AF_PACKET, socket.SOCK_RAW, 0),
            (socket.AF_NETLINK, socket.SOCK_RAW, 0),
            (socket.AF_UNIX, socket.SOCK_STREAM, 0),
        ]
        return " ".join(attempt(functools.partial(open_and_close, *kind)) for kind in kinds)

    assert confined(None, sockets) == "ok ok ok ok ok ok ok"
    network = SeccompPolicy(allow_exec=False, allow_unix_sockets=False, allow_network=True)
    assert confined(network, sockets) == "ok ok EPERM EPERM EPERM EPERM EPERM"


def test_clone3_fails_with_enosys_so_threads_fork_and_spawn_fall_back_to_clone() -> None:
    policy = SeccompPolicy(allow_exec=True, allow_unix_sockets=False, allow_network=False)

    def body() -> dict[str, Any]:
        install_filter(policy)
        ran = threading.Event()
        thread = threading.Thread(target=ran.set)
        thread.start()
        thread.join()
        child = os.fork()
        if child == 0:
            os._exit(7)
        spawned = os.posix_spawn(TRUE, [TRUE], {})
        return {
            "clone3": raw(SYS_CLONE3, None, 0),
            "thread": ran.is_set(),
            "fork_exit": os.waitstatus_to_exitcode(os.waitpid(child, 0)[1]),
            "spawn_exit": os.waitstatus_to_exitcode(os.waitpid(spawned, 0)[1]),
        }

    assert in_child(body) == {"clone3": "ENOSYS", "thread": True, "fork_exit": 7, "spawn_exit": 0}


def test_personality_can_still_be_read() -> None:
    assert confined(STRICT, lambda: libc_call(LIBC.personality, PERSONALITY_QUERY)) == "ok"


def test_ordinary_python_keeps_working_under_the_strictest_policy() -> None:
    def body() -> dict[str, Any]:
        install_filter(NO_SOCKETPAIR)
        results: list[int] = []
        threads = [threading.Thread(target=results.append, args=(n,)) for n in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        with tempfile.TemporaryDirectory() as directory:
            path = os.path.join(directory, "data.json")
            with open(path, "w") as f:
                json.dump({"threads": sorted(results)}, f)
            with open(path) as f:
                data: dict[str, Any] = json.load(f)
        reader, writer = os.pipe()
        os.write(writer, b"pipe")
        data["pipe"] = os.read(reader, 4).decode()
        return data

    assert in_child(body) == {"threads": [0, 1, 2, 3], "pipe": "pipe"}


def test_running_event_loop_keeps_working_when_new_loops_cannot_be_created() -> None:
    async def main() -> dict[str, Any]:
        loop = asyncio.get_running_loop()
        install_filter(NO_SOCKETPAIR)
        woken = asyncio.Event()
        waker = threading.Thread(target=loop.call_soon_threadsafe, args=(woken.set,))
        waker.start()
        await asyncio.wait_for(woken.wait(), CHILD_TIMEOUT)
        waker.join()
        in_thread = await loop.run_in_executor(None, lambda: 6 * 7)
        new_loop = await asyncio.to_thread(attempt, lambda: asyncio.new_event_loop().close())
        return {"in_thread": in_thread, "new_loop": new_loop}

    assert in_child(lambda: asyncio.run(main())) == {"in_thread": 42, "new_loop": "EPERM"}


def test_new_event_loops_and_anyio_run_work_when_socketpair_is_allowed() -> None:
    def body() -> dict[str, Any]:
        install_filter(STRICT)
        asyncio.run(asyncio.sleep(0))
        anyio.run(anyio.sleep, 0)
        return {"unix_socket": attempt(lambda: socket.socket(socket.AF_UNIX).close())}

    assert in_child(body) == {"unix_socket": "EPERM"}


def _task_status(tid: str, field: str) -> str:
    with open(f"/proc/self/task/{tid}/status") as f:
        for line in f:
            if line.startswith(f"{field}:"):
                return line.split()[1]
    raise AssertionError(f"no {field} in the status of thread {tid}")


def test_threads_already_running_are_confined_too() -> None:
    def body() -> dict[str, Any]:
        go = threading.Event()
        answers: list[str] = []

        def try_unix_socket() -> None:
            go.wait()
            answers.append(attempt(lambda: socket.socket(socket.AF_UNIX).close()))

        thread = threading.Thread(target=try_unix_socket)
        thread.start()
        install_filter(STRICT)
        tids = os.listdir("/proc/self/task")
        states = {(_task_status(t, "Seccomp"), _task_status(t, "NoNewPrivs")) for t in tids}
        go.set()
        thread.join()
        return {"threads": len(tids), "states": sorted(states), "answers": answers}

    result = in_child(body)
    assert result["threads"] >= 2
    assert result["states"] == [["2", "1"]]
    assert result["answers"] == ["EPERM"]


def test_install_fails_and_confines_nothing_when_a_thread_has_a_filter_of_its_own() -> None:
    def body() -> dict[str, Any]:
        ready, release = threading.Event(), threading.Event()

        def filter_this_thread_only() -> None:
            allow_all = sock_fprog((BpfInstruction(RETURN, 0, 0, SECCOMP_RET_ALLOW),))
            set_no_new_privs("test")
            raw(SYS_SECCOMP, SECCOMP_SET_MODE_FILTER, 0, ctypes.byref(allow_all))
            ready.set()
            release.wait()

        thread = threading.Thread(target=filter_this_thread_only)
        thread.start()
        ready.wait()
        try:
            install_filter(STRICT)
            error = None
        except SandboxError as exc:
            error = {"layer": exc.layer, "message": str(exc)}
        release.set()
        thread.join()
        return {"error": error, "main_thread": _task_status(str(os.getpid()), "Seccomp")}

    result = in_child(body)
    assert result["error"]["layer"] == "seccomp"
    assert "could not take the filter" in result["error"]["message"]
    assert result["main_thread"] == "0"


def killing_signal(action: Callable[[], object]) -> int | None:
    """Run ``action`` under the filter in a child: the signal that ended it, None if it exited."""
    child = os.fork()
    if child == 0:
        try:
            resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
            install_filter(STRICT)
            action()
        finally:
            os._exit(0)
    with os.fdopen(os.pidfd_open(child)) as pidfd:
        ready, _, _ = select.select([pidfd], [], [], CHILD_TIMEOUT)
    if not ready:
        os.kill(child, signal.SIGKILL)
    status = os.waitpid(child, 0)[1]
    assert ready, f"the confined child did not finish within {CHILD_TIMEOUT}s"
    return os.WTERMSIG(status) if os.WIFSIGNALED(status) else None


def i386_getpid() -> int:
    code = mmap.mmap(-1, mmap.PAGESIZE, prot=mmap.PROT_READ | mmap.PROT_WRITE | mmap.PROT_EXEC)
    code.write(I386_GETPID)
    function = ctypes.CFUNCTYPE(ctypes.c_int)(ctypes.addressof(ctypes.c_char.from_buffer(code)))
    pid: int = function()
    return pid


def test_i386_system_call_kills_the_process() -> None:
    if confined(None, lambda: "ok" if i386_getpid() == os.getpid() else "wrong") != "ok":
        pytest.skip("this kernel does not run i386 system calls from 64-bit processes")
    assert killing_signal(i386_getpid) == signal.SIGSYS


def test_x32_system_call_kills_the_process() -> None:
    assert killing_signal(lambda: raw(X32_SYSCALL_BIT | SYS_GETPID)) == signal.SIGSYS


def test_system_call_minus_one_gets_enosys_not_a_kill() -> None:
    assert confined(STRICT, lambda: raw(-1)) == "ENOSYS"


def test_install_takes_well_under_a_few_milliseconds() -> None:
    def body() -> dict[str, Any]:
        start = time.perf_counter()
        install_filter(STRICT)
        return {"ms": (time.perf_counter() - start) * 1000}

    assert in_child(body)["ms"] < INSTALL_BUDGET_MS


def test_report_names_what_each_policy_denies() -> None:
    _, strict = build_filter(NO_SOCKETPAIR)
    assert {"execve", "execveat", "socket", "socketpair", "ptrace", "bpf"} <= set(strict.denied)
    assert not any(rule.startswith("socket") for rule in strict.conditional)

    everything = SeccompPolicy(allow_exec=True, allow_unix_sockets=True, allow_network=True)
    program, report = build_filter(everything)
    assert not {"execve", "execveat", "socket", "socketpair"} & set(report.denied)
    assert any(rule.startswith("socket: only AF_UNIX, AF_INET") for rule in report.conditional)
    assert report.instructions == len(program)


def test_assembler_refuses_a_jump_beyond_one_byte() -> None:
    asm = Assembler()
    asm.jump(0x15, 0, true="far")
    for _ in range(256):
        asm.ret(0)
    asm.label("far")
    asm.ret(0)
    with pytest.raises(SandboxError, match="out of range"):
        asm.assemble()
    assert isinstance(build_filter(STRICT)[0][0], BpfInstruction)
