"""The doctor's per-profile verdict from a given set of available layers (pure logic)."""

from __future__ import annotations

from pathlib import Path

from runtime.doctor import _profile_row
from runtime.protocol.messages import Limits
from runtime.sandbox.grants import Grants
from runtime.sandbox.probe import LayerSupport
from runtime.sandbox.profile import Profile

EVERYTHING = LayerSupport(
    landlock_abi=7,
    landlock=True,
    netns=True,
    seccomp=True,
    seccomp_actions=("errno", "kill_process"),
    cgroup_v1_pids=True,
    cgroup_v1_memory=True,
    capabilities=True,
    root=True,
)


def _profile(grants: Grants) -> Profile:
    return Profile(name="p", path=Path("/x/p.yaml"), description="", limits=Limits(), grants=grants)


def test_a_profile_is_enforceable_when_every_layer_it_needs_is_available() -> None:
    row = _profile_row(_profile(Grants()), EVERYTHING)
    assert (row.enforceable, row.missing) == (True, [])


def test_network_none_needs_a_network_namespace() -> None:
    support = msgspec_replace(EVERYTHING, netns=False)
    row = _profile_row(_profile(Grants(network=None)), support)
    assert not row.enforceable
    assert row.missing == ["network namespace (network: none)"]


def test_granted_ports_need_the_landlock_abi_with_tcp_rules() -> None:
    support = msgspec_replace(EVERYTHING, landlock_abi=3)
    row = _profile_row(_profile(Grants(network=("db:27017",))), support)
    assert row.missing == ["Landlock ABI 4 for TCP port rules"]
    # The same machine can still enforce a profile without network grants.
    assert _profile_row(_profile(Grants()), support).enforceable


def test_missing_landlock_or_seccomp_makes_every_profile_unenforceable() -> None:
    support = msgspec_replace(EVERYTHING, landlock=False, seccomp=False)
    row = _profile_row(_profile(Grants()), support)
    assert row.missing == ["landlock (filesystem rules)", "seccomp"]


def msgspec_replace(support: LayerSupport, **changes: object) -> LayerSupport:
    import msgspec

    return msgspec.structs.replace(support, **changes)
