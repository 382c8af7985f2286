"""The three layers in the worker's order (netns, Landlock, capabilities) compose."""

from __future__ import annotations

import ctypes
import signal
import socket
from pathlib import Path
from typing import Any, Final

import pytest

from runtime.sandbox.capabilities import current, drop_all
from runtime.sandbox.landlock import (
    LandlockRules,
    essential_read_paths,
    essential_write_paths,
    restrict,
)
from runtime.sandbox.netns import isolate_network
from runtime.sandbox.probe import LayerSupport
from tests.sandbox.support import attempt, in_child

pytestmark = pytest.mark.sandbox

# <linux/prctl.h>
PR_SET_PDEATHSIG: Final = 1
PR_GET_PDEATHSIG: Final = 2

libc = ctypes.CDLL(None, use_errno=True)


def parent_death_signal() -> int:
    value = ctypes.c_int(0)
    assert libc.prctl(PR_GET_PDEATHSIG, ctypes.byref(value), 0, 0, 0) == 0
    return value.value


@pytest.fixture(autouse=True)
def _need_all_layers(layers: LayerSupport) -> None:
    missing = [
        name
        for name, ok in (
            ("netns", layers.netns),
            ("landlock", layers.landlock),
            ("capabilities", layers.capabilities),
        )
        if not ok
    ]
    if missing:
        pytest.skip(f"{', '.join(missing)} cannot be applied here: {layers.problems}")


def test_worker_order_confines_fully_and_keeps_the_parent_death_signal() -> None:
    def body() -> dict[str, Any]:
        # The worker arms this before confinement; no layer may silently disarm it.
        assert libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0) == 0
        isolate_network()
        report = restrict(
            LandlockRules(read=tuple(essential_read_paths()), write=tuple(essential_write_paths()))
        )
        drop_all()
        return {
            "landlock": report.fs,
            "interfaces": [name for _, name in socket.if_nameindex()],
            "capabilities": current().effective,
            "shadow": attempt(lambda: Path("/etc/shadow").read_bytes()),
            "parent death signal": parent_death_signal(),
        }

    assert in_child(body) == {
        "landlock": True,
        "interfaces": ["lo"],
        "capabilities": 0,
        "shadow": "EACCES",
        "parent death signal": signal.SIGKILL,
    }
