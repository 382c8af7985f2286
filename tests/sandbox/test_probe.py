"""The probe finds what this machine enforces without changing the process that asks."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from runtime.sandbox.capabilities import current
from runtime.sandbox.landlock import abi_version
from runtime.sandbox.probe import CGROUP_V1_MEMORY, CGROUP_V1_PIDS, LayerSupport, probe

pytestmark = pytest.mark.sandbox


def fresh_probe() -> LayerSupport:
    return probe.__wrapped__()


def test_probe_is_cached_per_process() -> None:
    assert probe() is probe()


def test_probe_leaves_the_caller_unconfined_and_no_cgroup_behind() -> None:
    caps = current()
    netns = os.readlink("/proc/self/ns/net")

    fresh_probe()

    assert current() == caps
    assert os.readlink("/proc/self/ns/net") == netns
    assert os.listdir("/")  # Landlock would have denied this
    for root in (CGROUP_V1_PIDS, CGROUP_V1_MEMORY):
        if root.is_dir():
            assert not list(root.glob("hydrogen-probe-*"))


def test_probe_agrees_with_the_direct_checks() -> None:
    support = fresh_probe()

    assert support.landlock_abi == abi_version()
    assert support.root == (os.geteuid() == 0)
    assert support.seccomp == Path("/proc/sys/kernel/seccomp").is_dir()
    if support.landlock:
        assert support.landlock_abi > 0


def test_every_missing_layer_says_why() -> None:
    support = fresh_probe()
    layers = {
        "landlock": support.landlock,
        "netns": support.netns,
        "capabilities": support.capabilities,
        "seccomp": support.seccomp,
        str(CGROUP_V1_PIDS): support.cgroup_v1_pids,
        str(CGROUP_V1_MEMORY): support.cgroup_v1_memory,
    }
    for name, available in layers.items():
        if not available:
            assert any(name in problem for problem in support.problems), name
