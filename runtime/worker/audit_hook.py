"""A Python audit hook that turns sandbox denials into errors a person can act on.

It is never the boundary: ctypes, C extensions and raw syscalls bypass it, and the kernel layers
(Landlock, network namespace, seccomp) enforce the same rules underneath. Its job is the
message: instead of a bare ``[Errno 13] Permission denied`` the plugin's caller reads which
access was refused, and which key in plugin.yaml and in the profile would allow it.
"""

from __future__ import annotations

import os
import socket
import sys
from collections.abc import Callable, Iterable
from typing import Any, Final

__all__ = ["Denial", "Rules", "install"]

_WRITE_FLAGS: Final = os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_TRUNC | os.O_APPEND
_SPAWN_EVENTS: Final = frozenset(
    {"subprocess.Popen", "os.system", "os.exec", "os.posix_spawn", "os.spawn", "pty.spawn"}
)


class Denial(PermissionError):
    """Raised inside the plugin for an access its grant does not cover."""


class Rules:
    """The access a plugin has, as the hook sees it (lexical paths, ports)."""

    def __init__(
        self,
        *,
        plugin: str,
        profile_path: str,
        read: Iterable[str],
        write: Iterable[str],
        network: tuple[str, ...] | None,
        subprocess: bool,
        unix_sockets: Iterable[str],
        protected_pids: Iterable[int],
    ) -> None:
        self.plugin = plugin
        self.profile = profile_path or "its sandbox profile"
        self.write = _roots(write)
        self.read = _roots(read) + self.write
        self.network = network
        self.subprocess = subprocess
        self.unix_sockets = _roots(unix_sockets)
        self.protected_pids = frozenset(protected_pids)

    def deny(self, need: str, key: str, grant_key: str) -> Denial:
        return Denial(
            f"permission denied: plugin {self.plugin!r} needs {need}; declare it under "
            f"permissions.{key} in its plugin.yaml and grant it under grants.{grant_key} "
            f"in {self.profile}"
        )


def install(rules: Rules) -> None:
    sys.addaudithook(_make_hook(rules))


def _make_hook(rules: Rules) -> Callable[[str, tuple[Any, ...]], None]:
    def hook(event: str, args: tuple[Any, ...]) -> None:
        if event == "open":
            _check_open(rules, args)
        elif event in ("socket.connect", "socket.sendto"):
            _check_connect(rules, args)
        elif event == "socket.bind":
            raise rules.deny("to listen on a socket", "network", "network")
        elif event in _SPAWN_EVENTS or event == "os.fork":
            if not rules.subprocess:
                raise rules.deny("to start processes", "subprocess", "subprocess")
        elif event in ("os.kill", "os.killpg") and args and args[0] in rules.protected_pids:
            raise Denial(
                f"permission denied: plugin {rules.plugin!r} may not signal process {args[0]}, "
                "which is outside its sandbox; no grant allows this"
            )

    return hook


def _check_open(rules: Rules, args: tuple[Any, ...]) -> None:
    path, mode, flags = (*args, None, None, None)[:3]
    if isinstance(path, bytes):
        path = os.fsdecode(path)
    if not isinstance(path, str):
        return  # an fd: access was checked when it was opened
    full = os.path.normpath(os.path.join(os.getcwd(), path)) if path else path
    writing = (isinstance(flags, int) and flags & _WRITE_FLAGS) or (
        isinstance(mode, str) and any(c in mode for c in "wax+")
    )
    if writing:
        if not _inside(full, rules.write):
            raise rules.deny(f"write access to {full}", "filesystem.write", "filesystem.write")
    elif not _inside(full, rules.read):
        raise rules.deny(f"read access to {full}", "filesystem.read", "filesystem.read")


def _check_connect(rules: Rules, args: tuple[Any, ...]) -> None:
    sock, address = args[0], args[1]
    family = getattr(sock, "family", None)
    if family == socket.AF_UNIX:
        if isinstance(address, bytes):
            address = os.fsdecode(address)
        # Abstract sockets (leading NUL) are scoped by Landlock, not by path.
        named = isinstance(address, str) and address and not address.startswith("\0")
        if named and not _inside(os.path.normpath(address), rules.unix_sockets):
            raise rules.deny(f"the UNIX socket {address}", "unix_sockets", "unix_sockets")
        return
    if family not in (socket.AF_INET, socket.AF_INET6) or not isinstance(address, tuple):
        return
    host, port = str(address[0]), address[1]
    target = f"{host}:{port}"
    if rules.network is None:
        raise rules.deny(f"network access to {target}", "network", "network")
    for pattern in rules.network:
        g_host, _, g_port = pattern.rpartition(":")
        if g_port in ("*", str(port)) and (g_host in ("*", host) or not _is_ip(g_host)):
            # Host names are resolved by the plugin; the kernel layer enforces the port.
            return
    raise rules.deny(f"network access to {target}", "network", "network")


def _is_ip(text: str) -> bool:
    for family in (socket.AF_INET, socket.AF_INET6):
        try:
            socket.inet_pton(family, text.strip("[]"))
        except OSError:
            continue
        return True
    return False


def _roots(paths: Iterable[str]) -> tuple[str, ...]:
    return tuple(os.path.normpath(p) for p in paths)


def _inside(path: str, roots: tuple[str, ...]) -> bool:
    return any(path == root or path.startswith(root.rstrip("/") + "/") for root in roots)
