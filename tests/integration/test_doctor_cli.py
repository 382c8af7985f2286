"""`hydrogen doctor` as a user runs it: a real probe of this machine's kernel layers."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from runtime.sandbox.probe import probe
from tests.conftest import PROFILES_DIR

pytestmark = pytest.mark.integration

HYDROGEN = Path(sys.executable).with_name("hydrogen")


def test_doctor_reports_each_layer_as_the_probe_finds_it_and_exit_status_follows() -> None:
    done = subprocess.run(
        [str(HYDROGEN), "doctor", "--json", "--profiles", str(PROFILES_DIR)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    report = json.loads(done.stdout)
    layers = {row["layer"]: row["available"] for row in report["layers"]}
    support = probe()
    assert layers["landlock"] == support.landlock
    assert layers["seccomp"] == support.seccomp
    assert layers["network namespace"] == support.netns
    profiles = {row["profile"]: row for row in report["profiles"]}
    assert {"strict", "system"} <= set(profiles)
    everything = all(layers.values()) and all(p["enforceable"] for p in profiles.values())
    assert done.returncode == (0 if everything else 1), done.stderr


def test_doctor_names_what_a_profile_lacks_when_a_layer_is_missing(tmp_path: Path) -> None:
    (tmp_path / "wide.yaml").write_text("grants: {network: ['db:27017']}\n")
    done = subprocess.run(
        [str(HYDROGEN), "doctor", "--json", "--profiles", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    row = json.loads(done.stdout)["profiles"][0]
    if probe().landlock_abi >= 4 and probe().landlock and probe().seccomp:
        assert row == {
            "profile": "wide",
            "path": str(tmp_path / "wide.yaml"),
            "enforceable": True,
            "missing": [],
        }
    else:
        assert not row["enforceable"]
        assert row["missing"]
