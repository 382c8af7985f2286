"""The seccomp layer: which system calls the worker process may make, as a classic BPF filter.

Theory of operation: the kernel runs the filter on every system call with a ``seccomp_data``
(syscall number, audit architecture, six arguments) and obeys the action it returns. The
program, assembled here by hand with forward jumps to named labels, has four parts::

    arch     load arch;  != x86_64            -> kill   (i386 ``int 0x80`` is another table)
             load nr;    >= x32 bit, not -1   -> kill   (x32 shares x86_64's arch value)
    table    nr == each denied syscall        -> deny
             nr == clone3                     -> enosys (its flags live in memory, unreadable)
             nr == socket/socketpair/clone/personality/prlimit64/sendto/sendmsg/sendmmsg
                                              -> that syscall's block
             allow
    blocks   load the argument a rule needs, compare, then allow or deny
    returns  allow | deny (EPERM) | enosys | kill (the whole process)

Denials return EPERM so Python raises ``PermissionError``, which the audit hook can explain.
A wrong architecture kills the process: such a call is never an accident in a Python worker.
``clone3`` fails with ENOSYS because glibc then retries with ``clone``, whose flags are a
register the filter can check, so new namespaces stay denied and threads still start.

Some rules close what the other layers leave open to a uid-0 worker: ``prlimit64`` on another
process (same uid is enough to lower the supervisor's limits; Landlock has no hook there),
``clone(CLONE_PARENT)`` (a child of the supervisor, outside the worker's tree, left a zombie
there), System V IPC (segments of every same-uid process, outliving the worker), and, with
network, ``listen`` on an unbound socket (binds an ephemeral port without bind(2)) and
``MSG_FASTOPEN`` (connects inside sendto/sendmsg, without connect(2), which is all Landlock's
TCP rule checks), plus UDP when no granted host needs name resolution.

One filter covers every thread: ``SECCOMP_FILTER_FLAG_TSYNC`` applies it (and no_new_privs)
to the threads already running, and every later thread and child inherits it, across execve.
Not here: device ioctls such as vhost (Landlock's device rules), TCP ports (Landlock), and
UDP or loopback reachability (the network namespace).
"""

from __future__ import annotations

import ctypes
import errno
import os
import sys
from typing import Final

import msgspec

from runtime.errors import SandboxError
from runtime.sandbox._bpf import (
    JUMP_EQ,
    JUMP_GE,
    JUMP_SET,
    Assembler,
    BpfInstruction,
    sock_fprog,
)
from runtime.sandbox._libc import set_no_new_privs, syscall

__all__ = [
    "SeccompPolicy",
    "SeccompReport",
    "build_filter",
    "install_filter",
    "seccomp_supported",
]

LAYER: Final = "seccomp"

# <linux/seccomp.h>
SYS_SECCOMP: Final = 317
SECCOMP_SET_MODE_FILTER: Final = 1
SECCOMP_GET_ACTION_AVAIL: Final = 2
SECCOMP_FILTER_FLAG_TSYNC: Final = 1 << 0
SECCOMP_RET_KILL_PROCESS: Final = 0x8000_0000
SECCOMP_RET_ERRNO: Final = 0x0005_0000
SECCOMP_RET_ALLOW: Final = 0x7FFF_0000

# struct seccomp_data { int nr; __u32 arch; __u64 instruction_pointer; __u64 args[6]; }
DATA_NR: Final = 0
DATA_ARCH: Final = 4
DATA_ARGS: Final = 16
DATA_ARG_SIZE: Final = 8

# <linux/audit.h>: EM_X86_64 | __AUDIT_ARCH_64BIT | __AUDIT_ARCH_LE
AUDIT_ARCH_X86_64: Final = 0xC000_003E
# <asm/unistd.h>: x32 calls are x86_64 numbers with this bit set
X32_SYSCALL_BIT: Final = 0x4000_0000
# A tracer's "skip this call" and syscall(-1) reach the filter as -1; the kernel answers ENOSYS.
NO_SYSCALL: Final = 0xFFFF_FFFF

# <linux/socket.h>, <linux/net.h>
AF_UNIX: Final = 1
AF_INET: Final = 2
AF_INET6: Final = 10
SOCK_RAW: Final = 3
SOCK_PACKET: Final = 10
SOCK_DGRAM: Final = 2
SOCK_TYPE_MASK: Final = 0xF  # the rest of ``type`` is SOCK_NONBLOCK | SOCK_CLOEXEC
MSG_FASTOPEN: Final = 0x2000_0000

# <linux/sched.h>: every flag that makes clone() create a namespace. The kernel reads only the
# low 32 bits of clone's flags, so checking that word is complete.
CLONE_NEWNS: Final = 0x0002_0000
CLONE_NEWCGROUP: Final = 0x0200_0000
CLONE_NEWUTS: Final = 0x0400_0000
CLONE_NEWIPC: Final = 0x0800_0000
CLONE_NEWUSER: Final = 0x1000_0000
CLONE_NEWPID: Final = 0x2000_0000
CLONE_NEWNET: Final = 0x4000_0000
CLONE_NEW_ANY: Final = (
    CLONE_NEWNS
    | CLONE_NEWCGROUP
    | CLONE_NEWUTS
    | CLONE_NEWIPC
    | CLONE_NEWUSER
    | CLONE_NEWPID
    | CLONE_NEWNET
)
# The new process becomes a child of the caller's parent: the supervisor.
CLONE_PARENT: Final = 0x0000_8000

# <linux/personality.h>: the default persona, and the argument that only reads the current one.
PER_LINUX: Final = 0
PERSONALITY_QUERY: Final = 0xFFFF_FFFF

# <asm/unistd_64.h>
NR_EXECVE: Final = 59
NR_EXECVEAT: Final = 322
NR_SOCKET: Final = 41
NR_SOCKETPAIR: Final = 53
NR_CLONE: Final = 56
NR_CLONE3: Final = 435
NR_PERSONALITY: Final = 135
NR_PRLIMIT64: Final = 302
NR_LISTEN: Final = 50
NR_SENDTO: Final = 44
NR_SENDMSG: Final = 46
NR_SENDMMSG: Final = 307
# Where each send call takes its flags.
SEND_FLAGS_ARG: Final = {NR_SENDTO: 3, NR_SENDMSG: 2, NR_SENDMMSG: 3}

# Denied whatever the policy: none is needed by a plugin, each reaches far beyond it.
ALWAYS_DENIED: Final[tuple[tuple[str, int], ...]] = (
    # other processes' memory and file descriptors
    ("ptrace", 101),
    ("process_vm_readv", 310),
    ("process_vm_writev", 311),
    ("kcmp", 312),
    ("pidfd_getfd", 438),
    # large kernel attack surface with a history of exploits
    ("io_uring_setup", 425),
    ("io_uring_enter", 426),
    ("io_uring_register", 427),
    ("bpf", 321),
    ("perf_event_open", 298),
    ("userfaultfd", 323),
    ("fanotify_init", 300),
    # Landlock does not check watches: a plugin would learn when files it may not read change
    ("inotify_add_watch", 254),
    # Landlock (ABI 7) does not check metadata changes, and a uid-0 worker owns every root file:
    # without these a plugin could make a binary setuid, hand a file to another user, or grant
    # file capabilities through security.* extended attributes, on any path it can name.
    ("chmod", 90),
    ("fchmod", 91),
    ("fchmodat", 268),
    ("fchmodat2", 452),
    ("chown", 92),
    ("fchown", 93),
    ("lchown", 94),
    ("fchownat", 260),
    ("setxattr", 188),
    ("lsetxattr", 189),
    ("fsetxattr", 190),
    ("removexattr", 197),
    ("lremovexattr", 198),
    ("fremovexattr", 199),
    # System V IPC: objects shared by every same-uid process on the host, outliving the worker
    ("shmget", 29),
    ("shmat", 30),
    ("shmctl", 31),
    ("shmdt", 67),
    ("semget", 64),
    ("semop", 65),
    ("semctl", 66),
    ("semtimedop", 220),
    ("msgget", 68),
    ("msgsnd", 69),
    ("msgrcv", 70),
    ("msgctl", 71),
    # kernel keyrings are shared beyond the process
    ("keyctl", 250),
    ("add_key", 248),
    ("request_key", 249),
    # namespaces and the mount table: the other layers' foundations
    ("unshare", 272),
    ("setns", 308),
    ("mount", 165),
    ("umount2", 166),
    ("pivot_root", 155),
    ("chroot", 161),
    ("fsopen", 430),
    ("fsconfig", 431),
    ("fsmount", 432),
    ("fspick", 433),
    ("move_mount", 429),
    ("open_tree", 428),
    ("open_tree_attr", 467),
    ("mount_setattr", 442),
    # file handles bypass path checks
    ("open_by_handle_at", 304),
    ("name_to_handle_at", 303),
    # the machine itself
    ("kexec_load", 246),
    ("kexec_file_load", 320),
    ("init_module", 175),
    ("finit_module", 313),
    ("delete_module", 176),
    ("reboot", 169),
    ("swapon", 167),
    ("swapoff", 168),
    ("acct", 163),
    ("quotactl", 179),
    ("quotactl_fd", 443),
    ("lookup_dcookie", 212),
    ("syslog", 103),
    ("iopl", 172),
    ("ioperm", 173),
    ("settimeofday", 164),
    ("clock_settime", 227),
    ("clock_adjtime", 305),
    ("adjtimex", 159),
)
EXEC_SYSCALLS: Final[tuple[tuple[str, int], ...]] = (
    ("execve", NR_EXECVE),
    ("execveat", NR_EXECVEAT),
)


class SeccompPolicy(msgspec.Struct, frozen=True, kw_only=True):
    """What the policy lets through beyond the always-denied set.

    ``allow_unix_sockets``: ``socket(AF_UNIX)``, the only way to reach a UNIX socket another
    process listens on. ``allow_network``: ``socket(AF_INET/AF_INET6)``, never raw or packet
    sockets; every other family (netlink, packet, vsock, alg...) is always denied.
    ``allow_unix_socketpair``: ``socketpair(AF_UNIX)``, a connected pair that reaches nothing
    outside the process; asyncio needs it to create an event loop (its self-pipe).
    ``allow_datagrams``: with network, UDP sockets too. Landlock cannot confine UDP to the
    granted ports, so only name resolution (DNS) justifies them.
    """

    allow_exec: bool
    allow_unix_sockets: bool
    allow_network: bool
    allow_unix_socketpair: bool = True
    allow_datagrams: bool = True


class SeccompReport(msgspec.Struct, frozen=True, kw_only=True):
    """What is in force: syscalls denied whatever their arguments, and one line per other rule."""

    denied: tuple[str, ...]
    conditional: tuple[str, ...]
    instructions: int


def _arg(index: int) -> int:
    """Offset of argument ``index``'s low 32 bits (x86_64 is little-endian)."""
    return DATA_ARGS + index * DATA_ARG_SIZE


def build_filter(policy: SeccompPolicy) -> tuple[tuple[BpfInstruction, ...], SeccompReport]:
    """The filter program for ``policy`` and the report describing it; installs nothing."""
    socket_allowed = policy.allow_unix_sockets or policy.allow_network
    socketpair_allowed = policy.allow_unix_sockets or policy.allow_unix_socketpair
    denied = ALWAYS_DENIED
    if not policy.allow_exec:
        denied += EXEC_SYSCALLS
    if not socket_allowed:
        denied += (("socket", NR_SOCKET),)
    if not socketpair_allowed:
        denied += (("socketpair", NR_SOCKETPAIR),)
    if policy.allow_network:
        denied += (("listen", NR_LISTEN),)
    conditional = [
        "arch: a system call from any ABI but x86_64 (i386, x32) kills the process",
        "clone3: fails with ENOSYS so libc falls back to clone, whose flags are checked",
        "clone: flags creating a namespace (CLONE_NEW*) or a sibling (CLONE_PARENT) are denied",
        "personality: only PER_LINUX and the query are allowed",
        "prlimit64: only on the calling process (pid 0)",
    ]

    asm = Assembler()
    asm.load(DATA_ARCH)
    asm.jump(JUMP_EQ, AUDIT_ARCH_X86_64, false="kill")
    asm.load(DATA_NR)
    asm.jump(JUMP_GE, X32_SYSCALL_BIT, false="table")
    asm.jump(JUMP_EQ, NO_SYSCALL, true="allow", false="kill")
    asm.label("table")
    for _, number in denied:
        asm.jump(JUMP_EQ, number, true="deny")
    asm.jump(JUMP_EQ, NR_CLONE3, true="enosys")
    asm.jump(JUMP_EQ, NR_CLONE, true="clone")
    asm.jump(JUMP_EQ, NR_PERSONALITY, true="personality")
    asm.jump(JUMP_EQ, NR_PRLIMIT64, true="prlimit64")
    if policy.allow_network:
        for number in SEND_FLAGS_ARG:
            asm.jump(JUMP_EQ, number, true=f"send{number}")
    if socket_allowed:
        asm.jump(JUMP_EQ, NR_SOCKET, true="socket")
    if socketpair_allowed:
        asm.jump(JUMP_EQ, NR_SOCKETPAIR, true="socketpair")
    asm.ret(SECCOMP_RET_ALLOW)

    asm.label("clone")
    asm.load(_arg(0))
    asm.jump(JUMP_SET, CLONE_NEW_ANY | CLONE_PARENT, true="deny", false="allow")

    asm.label("personality")
    asm.load(_arg(0))
    asm.jump_if_any((PER_LINUX, PERSONALITY_QUERY), true="allow", false="deny")

    asm.label("prlimit64")
    asm.load(_arg(0))
    asm.jump(JUMP_EQ, 0, true="allow", false="deny")

    if policy.allow_network:
        conditional.append("sendto, sendmsg, sendmmsg: MSG_FASTOPEN (a connect) is denied")
        for number, flags in SEND_FLAGS_ARG.items():
            asm.label(f"send{number}")
            asm.load(_arg(flags))
            asm.jump(JUMP_SET, MSG_FASTOPEN, true="deny", false="allow")

    if socket_allowed:
        conditional.append(_socket_rule(asm, policy))
    if socketpair_allowed:
        conditional.append("socketpair: only AF_UNIX (a connected pair reaching nothing outside)")
        asm.label("socketpair")
        asm.load(_arg(0))
        asm.jump(JUMP_EQ, AF_UNIX, true="allow", false="deny")

    asm.label("allow")
    asm.ret(SECCOMP_RET_ALLOW)
    asm.label("deny")
    asm.ret(SECCOMP_RET_ERRNO | errno.EPERM)
    asm.label("enosys")
    asm.ret(SECCOMP_RET_ERRNO | errno.ENOSYS)
    asm.label("kill")
    asm.ret(SECCOMP_RET_KILL_PROCESS)

    program = asm.assemble()
    report = SeccompReport(
        denied=tuple(name for name, _ in denied),
        conditional=tuple(conditional),
        instructions=len(program),
    )
    return program, report


def _socket_rule(asm: Assembler, policy: SeccompPolicy) -> str:
    """Emit the ``socket`` block: an allow-list of families, never raw or packet IP sockets."""
    asm.label("socket")
    asm.load(_arg(0))
    if not policy.allow_network:
        asm.jump(JUMP_EQ, AF_UNIX, true="allow", false="deny")
        return "socket: only AF_UNIX"
    if policy.allow_unix_sockets:
        asm.jump(JUMP_EQ, AF_UNIX, true="allow")
    asm.jump_if_any((AF_INET, AF_INET6), true="inet", false="deny")
    asm.label("inet")
    asm.load(_arg(1))
    asm.mask(SOCK_TYPE_MASK)
    refused = (SOCK_RAW, SOCK_PACKET) + (() if policy.allow_datagrams else (SOCK_DGRAM,))
    asm.jump_if_any(refused, true="deny", false="allow")
    unix = "AF_UNIX, " if policy.allow_unix_sockets else ""
    kinds = "SOCK_RAW, SOCK_PACKET" + ("" if policy.allow_datagrams else ", SOCK_DGRAM")
    return f"socket: only {unix}AF_INET and AF_INET6, and none of {kinds}"


def install_filter(policy: SeccompPolicy) -> SeccompReport:
    """Confine every thread of this process, and all its future threads and children; irrevocable.

    Sets no_new_privs first: the kernel requires it without CAP_SYS_ADMIN, and it stops a later
    execve of a setuid binary from gaining privileges. Raises ``SandboxError`` when the kernel
    refuses the filter or a thread cannot be synchronized to it (then no thread is filtered).
    """
    if not _is_x86_64():
        raise SandboxError(LAYER, f"filters are written for x86_64, this is {os.uname().machine}")
    program, report = build_filter(policy)
    fprog = sock_fprog(program)
    set_no_new_privs(LAYER)
    result, err = syscall(
        SYS_SECCOMP, SECCOMP_SET_MODE_FILTER, SECCOMP_FILTER_FLAG_TSYNC, ctypes.byref(fprog)
    )
    if result < 0:
        raise SandboxError(LAYER, "seccomp(SECCOMP_SET_MODE_FILTER) refused the filter", errno=err)
    if result > 0:
        raise SandboxError(
            LAYER,
            f"thread {result} could not take the filter (it has a seccomp filter of its own); "
            f"no thread is filtered",
        )
    return report


def seccomp_supported() -> bool:
    """Whether ``install_filter`` can work here: x86_64 and a kernel with every action it uses."""
    if not _is_x86_64():
        return False
    for action in (SECCOMP_RET_KILL_PROCESS, SECCOMP_RET_ERRNO, SECCOMP_RET_ALLOW):
        value = ctypes.c_uint32(action)
        result, _ = syscall(SYS_SECCOMP, SECCOMP_GET_ACTION_AVAIL, 0, ctypes.byref(value))
        if result != 0:
            return False
    return True


def _is_x86_64() -> bool:
    # An x32 interpreter reports x86_64 too, but has 32-bit pointers.
    return os.uname().machine == "x86_64" and sys.maxsize > 2**32
