"""``hydrogen doctor``: which confinement layers this machine can enforce, and for which profiles.

The facts come from ``runtime.sandbox.probe`` (each layer tried in a throwaway child); this module
only turns them into rows a person can act on, and decides per profile whether it can be
enforced as written here (the supervisor refuses to start a worker otherwise, unless the
operator allows degraded mode).
"""

from __future__ import annotations

from pathlib import Path
from typing import Final

import msgspec

from runtime.sandbox.landlock import abi_version
from runtime.sandbox.probe import LayerSupport, probe
from runtime.sandbox.profile import Profile, load_profiles

__all__ = ["LayerRow", "ProfileRow", "Report", "diagnose"]

# Landlock ABI that added TCP port rules; profiles granting network need it.
LANDLOCK_NET_ABI: Final = 4
# Landlock ABI that added signal and abstract-socket scoping.
LANDLOCK_SCOPE_ABI: Final = 6


class LayerRow(msgspec.Struct, frozen=True):
    layer: str
    available: bool
    detail: str


class ProfileRow(msgspec.Struct, frozen=True):
    profile: str
    path: str
    enforceable: bool
    missing: list[str]


class Report(msgspec.Struct, frozen=True):
    layers: list[LayerRow]
    profiles: list[ProfileRow]
    problems: list[str]

    @property
    def all_in_force(self) -> bool:
        return all(row.available for row in self.layers) and all(
            row.enforceable for row in self.profiles
        )


def diagnose(profiles_dir: Path) -> Report:
    support = probe()
    profiles, profile_problems = load_profiles(profiles_dir)
    return Report(
        layers=_layers(support),
        profiles=[_profile_row(p, support) for p in profiles.values()],
        problems=[*support.problems, *(str(p) for p in profile_problems)],
    )


def _layers(s: LayerSupport) -> list[LayerRow]:
    abi = abi_version()
    return [
        LayerRow("process boundary + rlimits", True, "always: one worker process per plugin"),
        LayerRow(
            "landlock",
            s.landlock,
            f"ABI {abi}: files"
            + (", TCP ports" if abi >= LANDLOCK_NET_ABI else "")
            + (", signal and abstract-socket scoping" if abi >= LANDLOCK_SCOPE_ABI else ""),
        ),
        LayerRow("network namespace", s.netns, "network: none -> no interfaces at all"),
        LayerRow("seccomp", s.seccomp, "syscall filter: " + ", ".join(s.seccomp_actions)),
        LayerRow("capabilities dropped", s.capabilities, "root in the worker is root in name only"),
        LayerRow("cgroup v1 pids", s.cgroup_v1_pids, "kill-all on stop, fork/thread bomb cap"),
        LayerRow("cgroup v1 memory", s.cgroup_v1_memory, "counts shared memory and descendants"),
        LayerRow("audit hook", True, "always: explains denials (never the boundary)"),
    ]


def _profile_row(profile: Profile, s: LayerSupport) -> ProfileRow:
    missing: list[str] = []
    if not s.landlock:
        missing.append("landlock (filesystem rules)")
    if not s.seccomp:
        missing.append("seccomp")
    if not s.capabilities:
        missing.append("dropping capabilities")
    grants = profile.grants
    if grants.network is None and not s.netns:
        missing.append("network namespace (network: none)")
    if grants.network is not None and s.landlock_abi < LANDLOCK_NET_ABI:
        missing.append(f"Landlock ABI {LANDLOCK_NET_ABI} for TCP port rules")
    return ProfileRow(profile.name, str(profile.path), not missing, missing)
