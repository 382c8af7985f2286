"""Sandbox profiles: what the operator grants a plugin (``grants:``) and its resource limits.

A profile is ``sandbox_profiles/<name>.yaml``. Unknown keys are errors, so a typo can never
silently widen or drop a limit.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Final

import msgspec

from runtime.errors import ProfileError
from runtime.manifest.yamlfile import YamlProblem, read_yaml_mapping
from runtime.protocol.messages import Limits
from runtime.sandbox.grants import Grants, parse_grants

__all__ = [
    "DEFAULT_DISK_MB",
    "DEFAULT_START_TIMEOUT",
    "MIB",
    "Profile",
    "load_profile",
    "load_profiles",
]

MIB: Final = 1024 * 1024
# Seconds for a worker to import its plugin and answer the handshake; model loading is slow.
DEFAULT_START_TIMEOUT: Final = 30.0
# RLIMIT_AS counts reserved address space (thread stacks, malloc arenas, mapped libraries), which
# runs far ahead of real use; the backstop sits this far above the data limit unless set.
ADDRESS_SPACE_HEADROOM_MB: Final = 2048
# The private work dir is a tmpfs this large unless the profile says otherwise (limits.disk_mb).
DEFAULT_DISK_MB: Final = 256

PROFILE_KEYS: Final = frozenset({"description", "grants", "limits"})
# key -> (minimum, maximum)
LIMIT_RANGES: Final[dict[str, tuple[float, float]]] = {
    "cpu_seconds": (1, 86_400),
    "memory_mb": (32, 1_048_576),
    "address_space_mb": (64, 4_194_304),
    "open_files": (16, 1_048_576),
    "file_size_mb": (0, 1_048_576),
    "sync_threads": (1, 256),
    "start_timeout": (1, 3600),
    "disk_mb": (1, 1_048_576),
}


class Profile(msgspec.Struct, frozen=True):
    name: str
    path: Path
    description: str
    limits: Limits
    start_timeout: float = DEFAULT_START_TIMEOUT
    grants: Grants = Grants()
    # Size of the private work dir (a tmpfs); None keeps the default.
    disk_mb: int | None = None


def load_profile(path: Path, environ: Mapping[str, str] | None = None) -> Profile:
    """Read one profile; raises ``ProfileError`` naming the first bad field.

    ``environ`` (default: this process's) resolves ``${VAR}`` in ``grants.network``.
    """
    try:
        data = read_yaml_mapping(path)
    except YamlProblem as exc:
        raise ProfileError(path, "", str(exc)) from exc
    for key in data:
        if key not in PROFILE_KEYS:
            raise ProfileError(
                path, key, "unknown key", f"allowed: {', '.join(sorted(PROFILE_KEYS))}"
            )
    raw_limits = data.get("limits")
    if raw_limits is None:
        raw_limits = {}
    if not isinstance(raw_limits, dict):
        raise ProfileError(path, "limits", "must be a mapping")
    values: dict[str, float] = {}
    for key, value in raw_limits.items():
        if key not in LIMIT_RANGES:
            raise ProfileError(
                path,
                f"limits.{key}",
                "unknown limit",
                f"allowed: {', '.join(sorted(LIMIT_RANGES))}",
            )
        low, high = LIMIT_RANGES[key]
        if (
            isinstance(value, bool)
            or not isinstance(value, int | float)
            or not low <= value <= high
        ):
            raise ProfileError(
                path, f"limits.{key}", f"must be a number in [{low}, {high}], got {value!r}"
            )
        values[key] = value
    description = data.get("description", "")
    if not isinstance(description, str):
        raise ProfileError(path, "description", "must be a string")
    return Profile(
        name=path.stem,
        path=path,
        description=description,
        limits=_limits(values, path),
        start_timeout=float(values.get("start_timeout", DEFAULT_START_TIMEOUT)),
        grants=parse_grants(data.get("grants"), path, os.environ if environ is None else environ),
        disk_mb=int(values["disk_mb"]) if "disk_mb" in values else None,
    )


def _limits(values: dict[str, float], path: Path) -> Limits:
    def mib(key: str) -> int | None:
        return int(values[key] * MIB) if key in values else None

    memory = mib("memory_mb")
    address_space = mib("address_space_mb")
    if address_space is None and memory is not None:
        address_space = memory + ADDRESS_SPACE_HEADROOM_MB * MIB
    if memory is not None and address_space is not None and address_space < memory:
        raise ProfileError(path, "limits.address_space_mb", "must not be below memory_mb")
    open_files = values.get("open_files")
    cpu = values.get("cpu_seconds")
    return Limits(
        cpu_seconds=int(cpu) if cpu is not None else None,
        memory_bytes=memory,
        address_space_bytes=address_space,
        open_files=int(open_files) if open_files is not None else None,
        file_size_bytes=mib("file_size_mb"),
        sync_threads=int(values.get("sync_threads", Limits().sync_threads)),
    )


def load_profiles(
    directory: Path, environ: Mapping[str, str] | None = None
) -> tuple[dict[str, Profile], list[ProfileError]]:
    """Every ``*.yaml`` in ``directory``; a bad profile is reported, the rest still load."""
    profiles: dict[str, Profile] = {}
    problems: list[ProfileError] = []
    for path in sorted(directory.glob("*.yaml")):
        try:
            profiles[path.stem] = load_profile(path, environ)
        except ProfileError as exc:
            problems.append(exc)
    return profiles, problems


def describe(profile: Profile) -> dict[str, Any]:
    """A JSON-friendly summary for ``status()``."""
    return {
        "name": profile.name,
        "path": str(profile.path),
        **msgspec.to_builtins(profile.limits),
        "grants": msgspec.to_builtins(profile.grants),
    }
