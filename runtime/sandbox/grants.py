"""What an operator grants in a sandbox profile, and the admission check against a manifest.

A plugin declares what it needs under ``permissions:`` in plugin.yaml; its profile's ``grants:``
is the most the operator allows. Admission refuses a plugin whose declaration exceeds the grant
and names the exact key to add. The worker is then confined to what the plugin *declared*, not
to everything the profile would allow: least privilege, with the profile as the ceiling.

Path coverage is lexical on normalised absolute paths (``/data/x`` is inside a grant of
``/data``). Symlinks are resolved by the kernel at enforcement time, never here, so a symlink in
a declaration cannot widen what is enforced.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, Final

import msgspec

from runtime.errors import ManifestError, ProfileError
from runtime.manifest.model import Manifest, Permissions
from runtime.protocol.messages import Confinement
from runtime.sandbox.endpoints import EndpointError, expand_entries
from runtime.sandbox.references import UnresolvedReference, substitute

__all__ = [
    "GRANT_KEYS",
    "Grants",
    "build_confinement",
    "check_admission",
    "network_covers",
    "parse_grants",
    "resolve_permissions",
]

GRANT_KEYS: Final = frozenset({"filesystem", "network", "subprocess", "unix_sockets", "env"})
FILESYSTEM_KEYS: Final = frozenset({"read", "write"})
ENV_GLOB_RE: Final = re.compile(r"^[A-Za-z_*][A-Za-z0-9_*]*$")


class Grants(msgspec.Struct, frozen=True):
    fs_read: tuple[str, ...] = ()
    fs_write: tuple[str, ...] = ()
    # None: no network at all. Otherwise "host:port" patterns, "*" allowed for either part.
    network: tuple[str, ...] | None = None
    subprocess: bool = False
    unix_sockets: tuple[str, ...] = ()
    # Variable names, "*" globs allowed (e.g. "MONGODB_*").
    env: tuple[str, ...] = ()


def parse_grants(value: Any, path: Path, environ: Mapping[str, str]) -> Grants:
    """The ``grants:`` mapping of one profile; raises ``ProfileError`` naming the field.

    Paths and network entries may name ``${VAR}`` of ``environ`` (the operator wrote the
    profile, so any variable is fair), e.g. the database URL or data dir a deployment sets.
    """
    if value is None:
        return Grants()
    if not isinstance(value, dict):
        raise ProfileError(path, "grants", "must be a mapping")
    _unknown(value, GRANT_KEYS, "grants", path)
    fs = value.get("filesystem") or {}
    if not isinstance(fs, dict):
        raise ProfileError(path, "grants.filesystem", "must be a mapping with read/write lists")
    _unknown(fs, FILESYSTEM_KEYS, "grants.filesystem", path)
    network_value = value.get("network", "none")
    network: tuple[str, ...] | None
    if network_value in ("none", None):
        network = None
    else:
        try:
            network = expand_entries(_strings(network_value, "grants.network", path), environ)
        except EndpointError as exc:
            raise ProfileError(path, f"grants.network[{exc.index}]", exc.reason) from None
    subprocess = value.get("subprocess", False)
    if not isinstance(subprocess, bool):
        raise ProfileError(path, "grants.subprocess", "must be true or false")
    env = _strings(value.get("env"), "grants.env", path)
    for index, name in enumerate(env):
        if not ENV_GLOB_RE.match(name):
            raise ProfileError(path, f"grants.env[{index}]", f"{name!r} is not a variable name")
    return Grants(
        fs_read=_paths(fs.get("read"), "grants.filesystem.read", path, environ),
        fs_write=_paths(fs.get("write"), "grants.filesystem.write", path, environ),
        network=network,
        subprocess=subprocess,
        unix_sockets=_paths(value.get("unix_sockets"), "grants.unix_sockets", path, environ),
        env=env,
    )


def resolve_permissions(manifest: Manifest, environ: Mapping[str, str]) -> Permissions:
    """The manifest's declaration with ``${VAR}`` in paths and network entries resolved.

    Only variables the plugin lists under ``permissions.env`` may appear. Raises
    ``ManifestError`` naming the entry when a variable is missing or the result is not an
    absolute path or an address; the plugin is then refused, every other plugin unaffected.
    """
    declared = manifest.permissions
    allowed = set(declared.env).__contains__

    def paths(entries: tuple[str, ...], field: str) -> tuple[str, ...]:
        try:
            return _resolve_paths(entries, environ, allowed)
        except _BadEntry as exc:
            raise ManifestError(manifest.path, f"{field}[{exc.index}]", exc.reason) from None

    network = declared.network
    if network is not None:
        try:
            network = expand_entries(network, environ, may_reference=allowed)
        except EndpointError as exc:
            raise ManifestError(
                manifest.path, f"permissions.network[{exc.index}]", exc.reason
            ) from None
    return msgspec.structs.replace(
        declared,
        fs_read=paths(declared.fs_read, "permissions.filesystem.read"),
        fs_write=paths(declared.fs_write, "permissions.filesystem.write"),
        unix_sockets=paths(declared.unix_sockets, "permissions.unix_sockets"),
        network=network,
    )


class _BadEntry(Exception):
    def __init__(self, index: int, reason: str) -> None:
        super().__init__(reason)
        self.index, self.reason = index, reason


def _resolve_paths(
    entries: tuple[str, ...], environ: Mapping[str, str], allowed: Callable[[str], bool]
) -> tuple[str, ...]:
    """Entries with references resolved and normalised; an entry resolving to "" is dropped."""
    resolved = []
    for index, entry in enumerate(entries):
        try:
            text = substitute(entry, environ, allowed).strip()
        except UnresolvedReference as exc:
            raise _BadEntry(index, str(exc)) from None
        if not text:
            continue
        if not os.path.isabs(text):
            raise _BadEntry(index, f"{text!r} (from {entry!r}) is not an absolute path")
        resolved.append(os.path.normpath(text))
    return tuple(resolved)


def check_admission(plugin: str, declared: Permissions, grants: Grants, profile: Path) -> list[str]:
    """Every way ``declared`` exceeds ``grants``, each naming the key that would allow it."""
    where = f"in {profile}"
    missing: list[str] = []
    for target in declared.fs_read:
        if not _covered(target, (*grants.fs_read, *grants.fs_write)):
            missing.append(
                f"plugin {plugin!r} needs read access to {target}; "
                f"grant it under grants.filesystem.read {where}"
            )
    for target in declared.fs_write:
        if not _covered(target, grants.fs_write):
            missing.append(
                f"plugin {plugin!r} needs write access to {target}; "
                f"grant it under grants.filesystem.write {where}"
            )
    for target in declared.network or ():
        if not network_covers(grants.network, target):
            missing.append(
                f"plugin {plugin!r} needs network access to {target}; "
                f"grant it under grants.network {where}"
            )
    if declared.subprocess and not grants.subprocess:
        missing.append(
            f"plugin {plugin!r} needs to start subprocesses; set grants.subprocess: true {where}"
        )
    for socket_path in declared.unix_sockets:
        if not _covered(socket_path, grants.unix_sockets):
            missing.append(
                f"plugin {plugin!r} needs the UNIX socket {socket_path}; "
                f"grant it under grants.unix_sockets {where}"
            )
    for name in declared.env:
        if not any(_glob(pattern, name) for pattern in grants.env):
            missing.append(
                f"plugin {plugin!r} needs the environment variable {name}; "
                f"grant it under grants.env {where}"
            )
    return missing


def build_confinement(
    declared: Permissions,
    workdir: Path,
    profile_path: Path,
    *,
    required: bool,
    disk_bytes: int | None = None,
) -> Confinement:
    """What the worker enforces: the declaration (admission proved it is within the grant)."""
    return Confinement(
        fs_read=declared.fs_read,
        fs_write=(str(workdir), *declared.fs_write),
        network=declared.network,
        subprocess=declared.subprocess,
        unix_sockets=declared.unix_sockets,
        required=required,
        profile_path=str(profile_path),
        workdir=str(workdir),
        disk_bytes=disk_bytes,
    )


def network_covers(granted: tuple[str, ...] | None, target: str) -> bool:
    if granted is None:
        return False
    host, _, port = target.rpartition(":")
    for pattern in granted:
        g_host, _, g_port = pattern.rpartition(":")
        if g_host in ("*", host) and g_port in ("*", port):
            return True
    return False


def _covered(target: str, granted: tuple[str, ...]) -> bool:
    path = os.path.normpath(target)
    return any(
        path == root or path.startswith(root.rstrip("/") + "/")
        for root in map(os.path.normpath, granted)
    )


def _glob(pattern: str, name: str) -> bool:
    regex = "^" + re.escape(pattern).replace(r"\*", ".*") + "$"
    return re.match(regex, name) is not None


def _unknown(data: dict[str, Any], allowed: frozenset[str], field: str, path: Path) -> None:
    for key in data:
        if key not in allowed:
            raise ProfileError(
                path, f"{field}.{key}", "unknown key", f"allowed: {', '.join(sorted(allowed))}"
            )


def _strings(value: Any, field: str, path: Path) -> tuple[str, ...]:
    if value is None:
        return ()
    if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
        raise ProfileError(path, field, "must be a list of non-empty strings")
    return tuple(value)


def _paths(value: Any, field: str, path: Path, environ: Mapping[str, str]) -> tuple[str, ...]:
    try:
        return _resolve_paths(_strings(value, field, path), environ, lambda name: True)
    except _BadEntry as exc:
        raise ProfileError(path, f"{field}[{exc.index}]", exc.reason) from None
