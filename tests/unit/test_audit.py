"""The audit log file: one JSON line per record, size rotation, digests, safe error summaries."""

from __future__ import annotations

import hashlib
import json
import logging
import os
import stat
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from runtime.errors import (
    CallError,
    ConfigError,
    InvalidParamsError,
    PluginCrashedError,
    PluginUnavailableError,
    ToolFailedError,
    ToolNotFoundError,
    ToolTimeoutError,
)
from runtime.host.audit import (
    ERROR_CHARS,
    AuditLog,
    AuditRecord,
    params_digest,
    summarize_error,
    worker_cpu_ns,
    worker_peak_rss_bytes,
)

SECRET = "hunter2-do-not-log"
FIELDS = {
    "ts",
    "caller",
    "tool",
    "plugin",
    "params_sha256",
    "outcome",
    "error",
    "duration_ms",
    "worker_pid",
    "worker_cpu_ms",
    "worker_peak_rss_bytes",
}


def record(tool: str = "echo", **changes: Any) -> AuditRecord:
    fields: dict[str, Any] = {
        "ts": datetime(2025, 1, 2, 3, 4, 5, 678901, tzinfo=UTC),
        "caller": "analyst",
        "tool": tool,
        "plugin": "echo",
        "params_sha256": "0" * 64,
        "outcome": "ok",
        "error": None,
        "duration_ms": 1.5,
        "worker_pid": 42,
        "worker_cpu_ms": 0.25,
        "worker_peak_rss_bytes": 1024,
    }
    fields.update(changes)
    return AuditRecord(**fields)


def lines(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_each_record_is_one_json_line_with_every_field(tmp_path: Path) -> None:
    log = AuditLog(tmp_path / "audit.jsonl")
    log.write(record("a"))
    log.write(record("b", outcome="denied", error="no", worker_pid=None))
    log.close()

    first, second = lines(tmp_path / "audit.jsonl")
    assert set(first) == FIELDS
    assert first["ts"] == "2025-01-02T03:04:05.678901Z"
    assert (first["tool"], second["tool"]) == ("a", "b")
    assert (second["outcome"], second["error"], second["worker_pid"]) == ("denied", "no", None)


def test_the_file_is_private_to_its_owner_and_appended_to(tmp_path: Path) -> None:
    path = tmp_path / "audit.jsonl"
    path.write_text('{"earlier": true}\n')
    path.chmod(0o600)
    log = AuditLog(path)
    log.write(record())
    log.close()

    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    earlier, written = lines(path)
    assert earlier == {"earlier": True}
    assert written["tool"] == "echo"


def test_a_new_file_is_created_owner_only(tmp_path: Path) -> None:
    AuditLog(tmp_path / "new.jsonl").close()

    assert stat.S_IMODE((tmp_path / "new.jsonl").stat().st_mode) == 0o600


def test_a_write_after_close_reopens_the_file(tmp_path: Path) -> None:
    log = AuditLog(tmp_path / "audit.jsonl")
    log.close()
    log.write(record())
    log.close()

    assert len(lines(tmp_path / "audit.jsonl")) == 1


def test_rotation_shifts_backups_and_drops_the_oldest(tmp_path: Path) -> None:
    path = tmp_path / "audit.jsonl"
    log = AuditLog(path, max_bytes=1000, backups=2)
    for index in range(40):
        log.write(record(f"t{index:02d}"))
    log.close()

    files = sorted(p.name for p in tmp_path.iterdir())
    assert files == ["audit.jsonl", "audit.jsonl.1", "audit.jsonl.2"]
    kept = [lines(tmp_path / name) for name in ("audit.jsonl.2", "audit.jsonl.1", "audit.jsonl")]
    tools = [entry["tool"] for chunk in kept for entry in chunk]
    assert tools == [f"t{i:02d}" for i in range(40 - len(tools), 40)], "in order, no gaps"
    for name in files:
        assert (tmp_path / name).stat().st_size <= 1000


def test_max_bytes_zero_never_rotates(tmp_path: Path) -> None:
    log = AuditLog(tmp_path / "audit.jsonl", max_bytes=0, backups=0)
    for _ in range(50):
        log.write(record())
    log.close()

    assert [p.name for p in tmp_path.iterdir()] == ["audit.jsonl"]
    assert len(lines(tmp_path / "audit.jsonl")) == 50


def test_rotation_without_backups_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="backups >= 1"):
        AuditLog(tmp_path / "audit.jsonl", max_bytes=10, backups=0)


def test_an_unopenable_path_is_a_config_error_naming_it(tmp_path: Path) -> None:
    path = tmp_path / "missing-dir" / "audit.jsonl"

    with pytest.raises(ConfigError, match=f"audit log {path}: cannot open for appending"):
        AuditLog(path)


def test_a_failed_write_is_logged_and_counted_not_raised(caplog: pytest.LogCaptureFixture) -> None:
    log = AuditLog("/dev/full", max_bytes=0)
    with caplog.at_level(logging.ERROR, logger="hydrogen.audit"):
        log.write(record("lost"))
    log.close()

    assert log.write_errors == 1
    assert "line for tool 'lost' not written" in caplog.text


# ---- digests and error summaries -----------------------------------------------------------


def test_params_digest_is_sha256_of_json_with_sorted_keys() -> None:
    digest = params_digest({"b": 1, "a": {"d": [1, 2], "c": "x"}})

    expected = hashlib.sha256(b'{"a":{"c":"x","d":[1,2]},"b":1}').hexdigest()
    assert digest == expected
    assert params_digest({"a": {"c": "x", "d": [1, 2]}, "b": 1}) == expected


def test_params_that_are_not_json_have_no_digest() -> None:
    assert params_digest({"a": object()}) is None


@pytest.mark.parametrize(
    "error",
    [
        InvalidParamsError(
            tool="t", plugin="p", field="params.pin", reason=f"{SECRET!r} is not of type 'integer'"
        ),
        ToolFailedError(tool="t", plugin="p", error_type="KeyError", message=repr(SECRET)),
        PluginCrashedError(
            tool="t",
            plugin="p",
            detail=f"worker exited with status 5; last stderr: crashing on {SECRET}",
        ),
        PluginUnavailableError(
            tool="t",
            plugin="p",
            state="error",
            reason=f"restarting after crash: exit 5; last stderr: {SECRET}",
        ),
        ToolNotFoundError(SECRET * 50, []),
    ],
    ids=lambda e: type(e).__name__,
)
def test_error_summaries_never_carry_values_from_params_or_stderr(error: CallError) -> None:
    summary = summarize_error(error)

    assert summary
    if isinstance(error, ToolNotFoundError):
        assert len(summary) == ERROR_CHARS  # the caller's own tool name, cut short
    else:
        assert SECRET not in summary


def test_error_summaries_keep_what_an_operator_needs() -> None:
    assert summarize_error(
        InvalidParamsError(tool="t", plugin="p", field="params.pin", reason="x")
    ) == ("invalid params at params.pin")
    assert summarize_error(
        ToolFailedError(tool="t", plugin="p", error_type="KeyError", message="x")
    ) == ("tool raised KeyError")
    assert summarize_error(
        PluginCrashedError(tool="t", plugin="p", detail="worker exited on SIGKILL; last stderr: x")
    ) == ("plugin 'p' crashed: worker exited on SIGKILL")
    timeout = ToolTimeoutError(tool="t", plugin="p", timeout=2)
    assert summarize_error(timeout) == str(timeout)


# ---- worker sampling -----------------------------------------------------------------------


def test_own_process_can_be_sampled() -> None:
    assert (worker_cpu_ns(os.getpid()) or 0) > 0
    assert (worker_peak_rss_bytes(os.getpid()) or 0) > 0


def test_a_pid_that_cannot_exist_has_no_samples() -> None:
    beyond = int(Path("/proc/sys/kernel/pid_max").read_text()) + 1

    assert worker_cpu_ns(beyond) is None
    assert worker_peak_rss_bytes(beyond) is None


def open_status_files() -> list[str]:
    targets = []
    for name in os.listdir("/proc/self/fd"):
        try:
            target = os.readlink(f"/proc/self/fd/{name}")
        except OSError:
            continue
        if target.startswith("/proc/") and target.endswith("/status"):
            targets.append(target)
    return sorted(targets)


def record_for(log: AuditLog, plugin: str, pid: int) -> None:
    log.record_call(
        started_at=time.time(),
        duration=0.001,
        caller=None,
        tool="t",
        plugin=plugin,
        params={},
        outcome="ok",
        error=None,
        pid=pid,
        cpu_ns=worker_cpu_ns(pid),
    )


def test_status_files_stay_open_per_plugin_and_close_with_the_log(tmp_path: Path) -> None:
    before = open_status_files()
    log = AuditLog(tmp_path / "audit.jsonl")
    record_for(log, "a", os.getpid())
    record_for(log, "a", os.getpid())
    record_for(log, "b", os.getpid())
    assert len(open_status_files()) == len(before) + 2

    record_for(log, "a", os.getppid())  # plugin a got a new worker: its old file is closed
    assert sorted(set(open_status_files()) - set(before)) == sorted(
        {f"/proc/{os.getpid()}/status", f"/proc/{os.getppid()}/status"}
    )
    log.close()

    assert open_status_files() == before
    entries = lines(tmp_path / "audit.jsonl")
    assert all(e["worker_peak_rss_bytes"] > 0 and e["worker_cpu_ms"] >= 0 for e in entries)
