"""Sandbox profiles: strict loading of sandbox_profiles/*.yaml into worker limits."""

from __future__ import annotations

import textwrap
from pathlib import Path
from typing import Any

import pytest
import yaml

from runtime.errors import ConfigError, ProfileError
from runtime.protocol.messages import Limits
from runtime.sandbox.profile import (
    ADDRESS_SPACE_HEADROOM_MB,
    DEFAULT_START_TIMEOUT,
    LIMIT_RANGES,
    load_profile,
    load_profiles,
)
from tests.conftest import PROFILES_DIR

MIB = 1024 * 1024


def write_profile(directory: Path, name: str, text: str) -> Path:
    path = directory / f"{name}.yaml"
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


def refusal(path: Path) -> ProfileError:
    with pytest.raises(ProfileError) as caught:
        load_profile(path)
    assert caught.value.path == path
    return caught.value


# ---- the repo's profiles -------------------------------------------------------------------


def test_every_repo_profile_loads_without_problems() -> None:
    profiles, problems = load_profiles(PROFILES_DIR)

    assert problems == []
    assert sorted(profiles) == sorted(p.stem for p in PROFILES_DIR.glob("*.yaml"))
    assert {"strict", "system"} <= profiles.keys()


@pytest.mark.parametrize("path", sorted(PROFILES_DIR.glob("*.yaml")), ids=lambda p: p.stem)
def test_repo_profile_limits_match_what_the_file_says(path: Path) -> None:
    written: dict[str, Any] = yaml.safe_load(path.read_text(encoding="utf-8"))["limits"]

    profile = load_profile(path)

    limits = profile.limits
    assert limits.memory_bytes == written["memory_mb"] * MIB
    assert limits.cpu_seconds == written["cpu_seconds"]
    assert limits.open_files == written["open_files"]
    assert limits.file_size_bytes == written["file_size_mb"] * MIB
    assert limits.sync_threads == written["sync_threads"]
    assert profile.start_timeout == written["start_timeout"]
    assert profile.name == path.stem


# ---- values and defaults -------------------------------------------------------------------


def test_profile_without_limits_has_no_limits_and_the_default_start_timeout(
    tmp_path: Path,
) -> None:
    profile = load_profile(write_profile(tmp_path, "open", "description: anything goes\n"))

    assert profile.limits == Limits()
    assert profile.start_timeout == DEFAULT_START_TIMEOUT
    assert profile.description == "anything goes"


def test_null_limits_mean_no_limits(tmp_path: Path) -> None:
    profile = load_profile(write_profile(tmp_path, "open", "limits:\n"))

    assert profile.limits == Limits()
    assert profile.description == ""


def test_address_space_backstop_sits_the_headroom_above_memory(tmp_path: Path) -> None:
    profile = load_profile(write_profile(tmp_path, "p", "limits: {memory_mb: 100}\n"))

    assert profile.limits.memory_bytes == 100 * MIB
    assert profile.limits.address_space_bytes == (100 + ADDRESS_SPACE_HEADROOM_MB) * MIB


def test_explicit_address_space_is_kept(tmp_path: Path) -> None:
    text = "limits: {memory_mb: 100, address_space_mb: 100}\n"

    assert load_profile(write_profile(tmp_path, "p", text)).limits.address_space_bytes == 100 * MIB


def test_fractional_values_are_converted_to_whole_units(tmp_path: Path) -> None:
    text = "limits: {memory_mb: 32.5, cpu_seconds: 1.9, start_timeout: 2.5}\n"

    profile = load_profile(write_profile(tmp_path, "p", text))

    assert profile.limits.memory_bytes == int(32.5 * MIB)
    assert profile.limits.cpu_seconds == 1
    assert profile.start_timeout == 2.5


def test_zero_file_size_means_no_file_writes_rather_than_no_limit(tmp_path: Path) -> None:
    profile = load_profile(write_profile(tmp_path, "p", "limits: {file_size_mb: 0}\n"))

    assert profile.limits.file_size_bytes == 0


@pytest.mark.parametrize("key", sorted(LIMIT_RANGES))
@pytest.mark.parametrize("end", [0, 1], ids=["minimum", "maximum"])
def test_range_ends_are_accepted(tmp_path: Path, key: str, end: int) -> None:
    value = LIMIT_RANGES[key][end]

    load_profile(write_profile(tmp_path, "p", f"limits: {{{key}: {value!r}}}\n"))


# ---- refusals ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "field", "reason"),
    [
        pytest.param("limitz: {}\n", "limitz", "unknown key", id="top-level-key"),
        pytest.param("limits: {memory: 512}\n", "limits.memory", "unknown limit", id="limit-key"),
        pytest.param("limits: [512]\n", "limits", "must be a mapping", id="limits-list"),
        pytest.param("limits: 0\n", "limits", "must be a mapping", id="limits-zero"),
        pytest.param("limits: false\n", "limits", "must be a mapping", id="limits-false"),
        pytest.param(
            "limits: {memory_mb: 16}\n",
            "limits.memory_mb",
            "must be a number in [32, 1048576], got 16",
            id="memory-below-minimum",
        ),
        pytest.param(
            'limits: {memory_mb: "512"}\n',
            "limits.memory_mb",
            "must be a number in [32, 1048576], got '512'",
            id="memory-string",
        ),
        pytest.param(
            "limits: {open_files: true}\n",
            "limits.open_files",
            "must be a number in [16, 1048576], got True",
            id="open-files-bool",
        ),
        pytest.param(
            "limits: {cpu_seconds: .nan}\n",
            "limits.cpu_seconds",
            "must be a number in [1, 86400], got nan",
            id="cpu-nan",
        ),
        pytest.param(
            "limits: {cpu_seconds: .inf}\n",
            "limits.cpu_seconds",
            "must be a number in [1, 86400], got inf",
            id="cpu-inf",
        ),
        pytest.param(
            "limits: {sync_threads: 0}\n",
            "limits.sync_threads",
            "must be a number in [1, 256], got 0",
            id="sync-threads-zero",
        ),
        pytest.param(
            "limits: {start_timeout: 3601}\n",
            "limits.start_timeout",
            "must be a number in [1, 3600], got 3601",
            id="start-timeout-over",
        ),
        pytest.param(
            "limits: {file_size_mb: -1}\n",
            "limits.file_size_mb",
            "must be a number in [0, 1048576], got -1",
            id="file-size-negative",
        ),
        pytest.param(
            "limits: {memory_mb: 512, address_space_mb: 256}\n",
            "limits.address_space_mb",
            "must not be below memory_mb",
            id="address-space-below-memory",
        ),
        pytest.param(
            "description: [a]\n", "description", "must be a string", id="description-list"
        ),
        pytest.param("", "", "file is empty", id="empty-file"),
        pytest.param("- limits\n", "", "top level must be a mapping, got list", id="list-file"),
        pytest.param(
            "limits: {memory_mb: 64}\nlimits: {}\n",
            "",
            "not valid YAML: line 2, column 1: duplicate key 'limits'",
            id="duplicate-key",
        ),
    ],
)
def test_bad_profile_is_refused_naming_the_field(
    tmp_path: Path, text: str, field: str, reason: str
) -> None:
    path = write_profile(tmp_path, "bad", text)

    error = refusal(path)

    assert (error.field, error.reason) == (field, reason)
    assert str(error).startswith(f"sandbox profile {path}")
    assert isinstance(error, ConfigError)


def test_unknown_limit_hint_lists_every_allowed_limit(tmp_path: Path) -> None:
    error = refusal(write_profile(tmp_path, "bad", "limits: {memroy_mb: 1}\n"))

    assert error.hint == f"allowed: {', '.join(sorted(LIMIT_RANGES))}"
    assert error.hint in str(error)


def test_bad_profile_is_reported_and_the_others_still_load(tmp_path: Path) -> None:
    write_profile(tmp_path, "good", "limits: {memory_mb: 64}\n")
    bad = write_profile(tmp_path, "bad", "limits: {memory_mb: 1}\n")
    (tmp_path / "notes.txt").write_text("not a profile", encoding="utf-8")

    profiles, problems = load_profiles(tmp_path)

    assert list(profiles) == ["good"]
    assert profiles["good"].limits.memory_bytes == 64 * MIB
    assert [(p.path, p.field) for p in problems] == [(bad, "limits.memory_mb")]


def test_empty_profiles_directory_loads_nothing(tmp_path: Path) -> None:
    assert load_profiles(tmp_path) == ({}, [])


def test_disk_mb_sets_the_work_dir_quota_and_is_range_checked(tmp_path: Path) -> None:
    good = tmp_path / "quota.yaml"
    good.write_text("limits: {disk_mb: 16}\n")
    assert load_profile(good).disk_mb == 16
    assert load_profile(_write(tmp_path, "none.yaml", "limits: {}\n")).disk_mb is None
    bad = _write(tmp_path, "bad.yaml", "limits: {disk_mb: 0}\n")
    with pytest.raises(ProfileError) as caught:
        load_profile(bad)
    assert caught.value.field == "limits.disk_mb"


def _write(directory: Path, name: str, text: str) -> Path:
    path = directory / name
    path.write_text(text)
    return path
