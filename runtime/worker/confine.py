"""Lock the worker into what its plugin declared, layer by layer, before any plugin import.

Order matters and is the security argument:

1. a private mount namespace with a size-limited tmpfs over the work dir (the disk quota),
   and the network namespace (both need CAP_SYS_ADMIN, so before capabilities are dropped);
2. Landlock: file paths, TCP ports, signal and abstract-socket scoping;
3. capabilities: every set emptied, so root in the worker is root in name only;
4. seccomp: the syscall filter, last because it also forbids what the steps above used;
5. the audit hook, which only explains denials (the kernel layers above are the boundary).

The first three act on the calling thread only, so this runs before anything in the worker has
started a thread. With ``required`` a layer that cannot be applied fails the start with a
``SandboxError`` naming it; in degraded mode it is skipped and reported as off, with the reason.
"""

from __future__ import annotations

import ipaddress
import os
from collections.abc import Callable
from typing import Final

from runtime.errors import SandboxError
from runtime.protocol.messages import Confinement
from runtime.sandbox import capabilities, diskquota, landlock, netns, seccomp
from runtime.sandbox.paths import (
    NETWORK_CLIENT_READ_PATHS,
    essential_execute_paths,
    essential_read_paths,
    essential_write_paths,
)
from runtime.worker import audit_hook

__all__ = ["confine"]

# Where shells and common tools live, executable only for plugins granted subprocesses.
EXECUTABLE_DIRS: Final = ("/usr/bin", "/bin", "/usr/local/bin", "/usr/libexec")
DEGRADED_HINT: Final = (
    "the operator can allow degraded mode (HYDROGEN_ALLOW_DEGRADED=1) to run without it"
)


def confine(
    spec: Confinement, *, plugin: str, plugin_root: str, supervisor_pid: int
) -> dict[str, str]:
    """Apply every layer; returns layer -> what is in force, for ``status()``."""
    layers: dict[str, str] = {}
    # One list for both the kernel rules and the hook's messages, so they cannot disagree.
    reads = (*essential_read_paths(), *_network_reads(spec), plugin_root, *spec.fs_read)
    writes = (*essential_write_paths(), *spec.fs_write)

    def attempt(layer: str, apply: Callable[[], str]) -> None:
        try:
            layers[layer] = apply()
        except SandboxError as exc:
            if spec.required:
                raise SandboxError(
                    layer, f"{exc.reason}; {DEGRADED_HINT}", errno=exc.errno
                ) from exc
            layers[layer] = f"off ({exc.reason})"

    if spec.disk_bytes is not None and spec.workdir:
        attempt("disk_quota", lambda: _disk_quota(spec))
    if spec.network is None:
        attempt("netns", _isolate_network)
    else:
        layers["netns"] = "not used (network granted)"
    attempt("landlock", lambda: _landlock(spec, reads, writes))
    attempt("capabilities", _drop_capabilities)
    attempt("seccomp", lambda: _seccomp(spec))
    audit_hook.install(
        audit_hook.Rules(
            plugin=plugin,
            profile_path=spec.profile_path,
            read=reads,
            write=writes,
            network=spec.network,
            subprocess=spec.subprocess,
            unix_sockets=spec.unix_sockets,
            protected_pids=[supervisor_pid, os.getppid()],
        )
    )
    layers["audit_hook"] = "on (messages only)"
    return layers


def _disk_quota(spec: Confinement) -> str:
    assert spec.disk_bytes is not None
    diskquota.mount_private_workdir(spec.workdir, spec.disk_bytes)
    return f"on: private tmpfs of {spec.disk_bytes // (1024 * 1024)} MiB at the work dir"


def _isolate_network() -> str:
    netns.isolate_network()
    return "on: no interfaces but a down loopback"


def _landlock(spec: Confinement, reads: tuple[str, ...], writes: tuple[str, ...]) -> str:
    abi = landlock.abi_version()
    if abi == 0:
        raise SandboxError("landlock", "Landlock is not available in this kernel")
    rules = landlock.LandlockRules(
        read=reads,
        write=writes,
        execute=(*essential_execute_paths(), *EXECUTABLE_DIRS) if spec.subprocess else (),
        tcp_connect=_connect_ports(spec.network),
        tcp_bind=(),
    )
    report = landlock.restrict(rules)
    if report.unhandled:
        raise SandboxError(
            "landlock", f"ABI {report.abi} cannot enforce {', '.join(report.unhandled)}"
        )
    parts = ["fs"] + (["tcp"] if report.net else []) + list(report.scopes)
    return f"on: ABI {report.abi} ({', '.join(parts)})"


def _drop_capabilities() -> str:
    capabilities.drop_all()
    return "on: all capability sets empty"


def _seccomp(spec: Confinement) -> str:
    if not seccomp.seccomp_supported():
        raise SandboxError("seccomp", "seccomp filters are not available")
    report = seccomp.install_filter(
        seccomp.SeccompPolicy(
            allow_exec=spec.subprocess,
            allow_unix_sockets=bool(spec.unix_sockets),
            allow_network=spec.network is not None,
            allow_datagrams=_resolves_names(spec.network),
        )
    )
    return f"on: {len(report.denied)} syscalls denied, {len(report.conditional)} rules on arguments"


def _network_reads(spec: Confinement) -> tuple[str, ...]:
    return tuple(NETWORK_CLIENT_READ_PATHS) if spec.network is not None else ()


def _resolves_names(network: tuple[str, ...] | None) -> bool:
    """Whether a granted host is a name (or ``*``), which needs DNS, which needs UDP.

    Landlock cannot hold UDP to the granted ports, so a grant of IP addresses only gets none.
    """
    for target in network or ():
        host = target.rpartition(":")[0].strip("[]")
        try:
            ipaddress.ip_address(host)
        except ValueError:
            return True
    return False


def _connect_ports(network: tuple[str, ...] | None) -> tuple[int, ...] | None:
    """Landlock enforces ports, not hosts; any wildcard port leaves connect unrestricted."""
    if network is None:
        return ()
    ports: set[int] = set()
    for target in network:
        port = target.rpartition(":")[2]
        if port == "*":
            return None
        ports.add(int(port))
    return tuple(sorted(ports))
