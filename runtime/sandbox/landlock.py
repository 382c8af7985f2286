"""Landlock for the current process: which paths it may read, write and execute, which TCP ports
it may connect to and bind, and whether it may signal or reach abstract sockets outside itself.

Theory of operation: one ruleset handles every access right the running kernel knows (so all
of them are denied by default), rules grant rights beneath the listed paths and ports, then
``landlock_restrict_self`` makes it irrevocable for this thread and all its future children.
Rights the kernel's ABI does not know are masked out and named in the report's ``unhandled``,
so the caller can refuse a profile that cannot be enforced as written.

Not covered by Landlock up to ABI 7 (use the network namespace and seccomp): UDP and raw
sockets, connecting to path-based UNIX sockets, and the metadata calls stat, chmod, chown,
utime, access, chdir.
"""

from __future__ import annotations

import ctypes
import os
import stat
from typing import Final

import msgspec

from runtime.errors import SandboxError
from runtime.sandbox._libc import require_single_thread, set_no_new_privs, syscall
from runtime.sandbox.paths import (
    NETWORK_CLIENT_READ_PATHS,
    essential_execute_paths,
    essential_read_paths,
    essential_write_paths,
)

# The paths are re-exported from runtime.sandbox.paths: the floor every rule set starts from.
__all__ = [
    "NETWORK_CLIENT_READ_PATHS",
    "LandlockReport",
    "LandlockRules",
    "abi_version",
    "essential_execute_paths",
    "essential_read_paths",
    "essential_write_paths",
    "restrict",
]

LAYER: Final = "landlock"

# <asm/unistd_64.h>; Landlock has the same numbers on every architecture.
SYS_LANDLOCK_CREATE_RULESET: Final = 444
SYS_LANDLOCK_ADD_RULE: Final = 445
SYS_LANDLOCK_RESTRICT_SELF: Final = 446

# <linux/landlock.h>
LANDLOCK_CREATE_RULESET_VERSION: Final = 1 << 0
LANDLOCK_RULE_PATH_BENEATH: Final = 1
LANDLOCK_RULE_NET_PORT: Final = 2

LANDLOCK_ACCESS_FS_EXECUTE: Final = 1 << 0
LANDLOCK_ACCESS_FS_WRITE_FILE: Final = 1 << 1
LANDLOCK_ACCESS_FS_READ_FILE: Final = 1 << 2
LANDLOCK_ACCESS_FS_READ_DIR: Final = 1 << 3
LANDLOCK_ACCESS_FS_REMOVE_DIR: Final = 1 << 4
LANDLOCK_ACCESS_FS_REMOVE_FILE: Final = 1 << 5
LANDLOCK_ACCESS_FS_MAKE_CHAR: Final = 1 << 6
LANDLOCK_ACCESS_FS_MAKE_DIR: Final = 1 << 7
LANDLOCK_ACCESS_FS_MAKE_REG: Final = 1 << 8
LANDLOCK_ACCESS_FS_MAKE_SOCK: Final = 1 << 9
LANDLOCK_ACCESS_FS_MAKE_FIFO: Final = 1 << 10
LANDLOCK_ACCESS_FS_MAKE_BLOCK: Final = 1 << 11
LANDLOCK_ACCESS_FS_MAKE_SYM: Final = 1 << 12
LANDLOCK_ACCESS_FS_REFER: Final = 1 << 13  # ABI 2
LANDLOCK_ACCESS_FS_TRUNCATE: Final = 1 << 14  # ABI 3
LANDLOCK_ACCESS_FS_IOCTL_DEV: Final = 1 << 15  # ABI 5

LANDLOCK_ACCESS_NET_BIND_TCP: Final = 1 << 0  # ABI 4
LANDLOCK_ACCESS_NET_CONNECT_TCP: Final = 1 << 1  # ABI 4

LANDLOCK_SCOPE_ABSTRACT_UNIX_SOCKET: Final = 1 << 0  # ABI 6
LANDLOCK_SCOPE_SIGNAL: Final = 1 << 1  # ABI 6

ABI_NET: Final = 4
ABI_SCOPE: Final = 6

# Every filesystem right each ABI version introduced; an ABI knows its own and all earlier ones.
FS_ACCESS_BY_ABI: Final[dict[int, int]] = {
    1: (1 << 13) - 1,
    2: LANDLOCK_ACCESS_FS_REFER,
    3: LANDLOCK_ACCESS_FS_TRUNCATE,
    5: LANDLOCK_ACCESS_FS_IOCTL_DEV,
}
# The only rights the kernel accepts on a rule whose object is a file, not a directory.
FS_FILE_ACCESS: Final = (
    LANDLOCK_ACCESS_FS_EXECUTE
    | LANDLOCK_ACCESS_FS_WRITE_FILE
    | LANDLOCK_ACCESS_FS_READ_FILE
    | LANDLOCK_ACCESS_FS_TRUNCATE
    | LANDLOCK_ACCESS_FS_IOCTL_DEV
)

READ_ACCESS: Final = LANDLOCK_ACCESS_FS_READ_FILE | LANDLOCK_ACCESS_FS_READ_DIR
EXECUTE_ACCESS: Final = READ_ACCESS | LANDLOCK_ACCESS_FS_EXECUTE
# Never MAKE_CHAR/MAKE_BLOCK, and never EXECUTE: what a plugin writes it cannot run.
WRITE_ACCESS: Final = (
    READ_ACCESS
    | LANDLOCK_ACCESS_FS_WRITE_FILE
    | LANDLOCK_ACCESS_FS_REMOVE_DIR
    | LANDLOCK_ACCESS_FS_REMOVE_FILE
    | LANDLOCK_ACCESS_FS_MAKE_DIR
    | LANDLOCK_ACCESS_FS_MAKE_REG
    | LANDLOCK_ACCESS_FS_MAKE_SOCK
    | LANDLOCK_ACCESS_FS_MAKE_FIFO
    | LANDLOCK_ACCESS_FS_MAKE_SYM
    | LANDLOCK_ACCESS_FS_REFER
    | LANDLOCK_ACCESS_FS_TRUNCATE
    | LANDLOCK_ACCESS_FS_IOCTL_DEV
)
# Rights whose absence from an older ABI leaves the action unrestricted (a gap to report).
# REFER is not here: without it the kernel denies every cross-directory link and rename.
GAP_NAMES: Final[dict[int, str]] = {
    LANDLOCK_ACCESS_FS_TRUNCATE: "fs.truncate",
    LANDLOCK_ACCESS_FS_IOCTL_DEV: "fs.ioctl_dev",
}
MAX_PORT: Final = 65_535


class LandlockRules(msgspec.Struct, frozen=True, kw_only=True):
    """What the process keeps. Paths are absolute; each grant covers the whole tree beneath.

    ``read``: open files for reading and list directories. ``execute``: read plus execve (the
    interpreter and the ELF loader for a subprocess). ``write``: read plus write, create, remove,
    rename, truncate and device ioctls. ``tcp_connect=None`` leaves TCP connect unrestricted;
    ``()`` denies it everywhere. ``tcp_bind`` is always restricted.
    """

    read: tuple[str, ...] = ()
    write: tuple[str, ...] = ()
    execute: tuple[str, ...] = ()
    tcp_connect: tuple[int, ...] | None = ()
    tcp_bind: tuple[int, ...] = ()
    scope_signals: bool = True
    scope_abstract_unix: bool = True


class LandlockReport(msgspec.Struct, frozen=True, kw_only=True):
    """What is in force. ``unhandled`` names every restriction asked for but not enforced."""

    abi: int
    fs: bool
    net: bool
    scopes: tuple[str, ...]
    skipped: tuple[str, ...]
    unhandled: tuple[str, ...]


class _RulesetAttr(ctypes.Structure):
    _fields_ = [
        ("handled_access_fs", ctypes.c_uint64),
        ("handled_access_net", ctypes.c_uint64),
        ("scoped", ctypes.c_uint64),
    ]


class _PathBeneathAttr(ctypes.Structure):
    _pack_ = 1  # __attribute__((packed)) in the uapi: 12 bytes, no tail padding
    _fields_ = [("allowed_access", ctypes.c_uint64), ("parent_fd", ctypes.c_int32)]


class _NetPortAttr(ctypes.Structure):
    _fields_ = [("allowed_access", ctypes.c_uint64), ("port", ctypes.c_uint64)]


# Bytes of landlock_ruleset_attr an ABI reads: one u64 per field it knows.
_U64: Final = ctypes.sizeof(ctypes.c_uint64)


def _ruleset_size(abi: int) -> int:
    return _U64 * (3 if abi >= ABI_SCOPE else 2 if abi >= ABI_NET else 1)


def abi_version() -> int:
    """The kernel's Landlock ABI version; 0 when Landlock is not built in or disabled at boot."""
    result, _ = syscall(SYS_LANDLOCK_CREATE_RULESET, None, 0, LANDLOCK_CREATE_RULESET_VERSION)
    return max(result, 0)


def fs_access_for(abi: int) -> int:
    return sum(bits for version, bits in FS_ACCESS_BY_ABI.items() if version <= abi)


def restrict(rules: LandlockRules) -> LandlockReport:
    """Confine this process (and its future children) to ``rules``; irrevocable.

    Raises ``SandboxError`` for a bad rule or a refused system call. An old or missing Landlock
    is not an error: the report says what is not enforced.
    """
    require_single_thread(LAYER)
    ports = _port_rules(rules)
    abi = abi_version()
    scopes = _scopes(rules, abi)
    unhandled = _unhandled(rules, abi)
    if abi < 1:
        return LandlockReport(
            abi=0, fs=False, net=False, scopes=(), skipped=(), unhandled=unhandled
        )
    fs_handled = fs_access_for(abi)
    net_handled = 0
    if abi >= ABI_NET:
        net_handled = LANDLOCK_ACCESS_NET_BIND_TCP
        if rules.tcp_connect is not None:
            net_handled |= LANDLOCK_ACCESS_NET_CONNECT_TCP
    attr = _RulesetAttr(fs_handled, net_handled, sum(bit for _, bit in scopes))
    ruleset_fd, err = syscall(
        SYS_LANDLOCK_CREATE_RULESET, ctypes.byref(attr), _ruleset_size(abi), 0
    )
    if ruleset_fd < 0:
        raise SandboxError(LAYER, "landlock_create_ruleset failed", errno=err)
    try:
        skipped = _add_path_rules(ruleset_fd, rules, fs_handled)
        if net_handled:
            for port, access in ports.items():
                _add_rule(ruleset_fd, LANDLOCK_RULE_NET_PORT, _NetPortAttr(access, port), port)
        set_no_new_privs(LAYER)
        result, err = syscall(SYS_LANDLOCK_RESTRICT_SELF, ruleset_fd, 0)
        if result < 0:
            raise SandboxError(LAYER, "landlock_restrict_self failed", errno=err)
    finally:
        os.close(ruleset_fd)
    return LandlockReport(
        abi=abi,
        fs=True,
        net=bool(net_handled),
        scopes=tuple(name for name, _ in scopes),
        skipped=tuple(skipped),
        unhandled=unhandled,
    )


def _scopes(rules: LandlockRules, abi: int) -> list[tuple[str, int]]:
    if abi < ABI_SCOPE:
        return []
    wanted = [
        ("signal", LANDLOCK_SCOPE_SIGNAL, rules.scope_signals),
        ("abstract_unix", LANDLOCK_SCOPE_ABSTRACT_UNIX_SOCKET, rules.scope_abstract_unix),
    ]
    return [(name, bit) for name, bit, on in wanted if on]


def _unhandled(rules: LandlockRules, abi: int) -> tuple[str, ...]:
    gaps: list[str] = []
    if abi < 1:
        gaps.append("fs")
    else:
        known = fs_access_for(abi)
        gaps += [name for bit, name in GAP_NAMES.items() if not known & bit]
    if abi < ABI_NET:
        gaps.append("net.tcp_bind")
        if rules.tcp_connect is not None:
            gaps.append("net.tcp_connect")
    if abi < ABI_SCOPE:
        gaps += ["scope.signal"] if rules.scope_signals else []
        gaps += ["scope.abstract_unix"] if rules.scope_abstract_unix else []
    return tuple(gaps)


def _port_rules(rules: LandlockRules) -> dict[int, int]:
    """port -> allowed access; checked before anything is applied."""
    access: dict[int, int] = {}
    grants = [(rules.tcp_bind, LANDLOCK_ACCESS_NET_BIND_TCP)]
    if rules.tcp_connect is not None:
        grants.append((rules.tcp_connect, LANDLOCK_ACCESS_NET_CONNECT_TCP))
    for ports, bit in grants:
        for port in ports:
            if isinstance(port, bool) or not 0 <= port <= MAX_PORT:
                raise SandboxError(LAYER, f"TCP port {port!r} is not in [0, {MAX_PORT}]")
            access[port] = access.get(port, 0) | bit
    return access


def _add_path_rules(ruleset_fd: int, rules: LandlockRules, handled: int) -> list[str]:
    """Add one rule per existing path; return the paths that do not exist."""
    access: dict[str, int] = {}
    for paths, bits in (
        (rules.read, READ_ACCESS),
        (rules.execute, EXECUTE_ACCESS),
        (rules.write, WRITE_ACCESS),
    ):
        for path in paths:
            if not os.path.isabs(path):
                raise SandboxError(LAYER, f"path {path!r} must be absolute")
            access[path] = access.get(path, 0) | bits
    skipped: list[str] = []
    for path, bits in access.items():
        try:
            fd = os.open(path, os.O_PATH | os.O_CLOEXEC)
        except (FileNotFoundError, NotADirectoryError):
            skipped.append(path)
            continue
        except OSError as exc:
            raise SandboxError(LAYER, f"cannot open {path} to grant it", errno=exc.errno) from exc
        try:
            allowed = bits & handled
            if not stat.S_ISDIR(os.fstat(fd).st_mode):
                allowed &= FS_FILE_ACCESS
            _add_rule(ruleset_fd, LANDLOCK_RULE_PATH_BENEATH, _PathBeneathAttr(allowed, fd), path)
        finally:
            os.close(fd)
    return skipped


def _add_rule(ruleset_fd: int, rule_type: int, attr: ctypes.Structure, subject: object) -> None:
    result, err = syscall(SYS_LANDLOCK_ADD_RULE, ruleset_fd, rule_type, ctypes.byref(attr), 0)
    if result < 0:
        raise SandboxError(LAYER, f"landlock_add_rule for {subject} failed", errno=err)
