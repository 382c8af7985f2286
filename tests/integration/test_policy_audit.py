"""Caller permissions and the audit log, with real workers.

A denied call must never reach a worker; every call, whatever its outcome, must leave exactly
one intact JSON line that holds a digest of the params and never the params themselves.
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Final

import anyio
import pytest

from runtime import (
    CallError,
    PermissionDeniedError,
    PluginCrashedError,
    PolicyError,
    Supervisor,
    ToolFailedError,
    ToolNotFoundError,
)
from runtime.host.audit import AuditLog
from tests.conftest import REPO_ROOT
from tests.integration.support import (
    ECHO,
    TEST_PROFILES,
    assert_canary,
    plugin_status,
    supervisor,
)

pytestmark = [pytest.mark.integration, pytest.mark.anyio]

SECRET: Final = "s3cr3t-token-never-logged"
POLICY: Final = """\
default_role: reader
roles:
  operator: {allow: ["*"]}
  reader: {allow: ["echo*", "leaky_count", "plugin:sleepy"], deny: ["block_*"]}
  locked: {}
"""
MIB: Final = 1024 * 1024
# Seconds for a handful of calls on warm workers, including one worker restart.
CALLS_WAIT: Final = 20.0
HYDROGEN: Final = Path(sys.executable).parent / "hydrogen"
CLI_TIMEOUT: Final = 30.0


@pytest.fixture
def policy_file(tmp_path: Path) -> Path:
    path = tmp_path / "policy.yaml"
    path.write_text(POLICY)
    return path


@pytest.fixture
def audit_path(tmp_path: Path) -> Path:
    return tmp_path / "audit.jsonl"


def audit_text(path: Path) -> str:
    return path.read_text()


def audit_lines(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in audit_text(path).splitlines()]


def audit_files(directory: Path) -> list[Path]:
    """The log and its rotated backups."""
    return sorted(directory.glob("audit.jsonl*"))


def digest(params: dict[str, Any]) -> str:
    canonical = json.dumps(params, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()


async def outcome_of(sup: Supervisor, tool: str, params: dict[str, Any], **kw: Any) -> str:
    try:
        await sup.call(tool, params, **kw)
    except CallError as exc:
        return exc.code
    return "ok"


# ---- permissions ---------------------------------------------------------------------------


async def test_a_denied_call_never_reaches_the_worker(policy_file: Path, audit_path: Path) -> None:
    async with supervisor("leaky", policy=policy_file, audit_log=audit_path) as sup:
        with anyio.fail_after(CALLS_WAIT):
            with pytest.raises(PermissionDeniedError) as caught:
                await sup.call("leaky_bump", {"n": 1}, caller="reader")
            with pytest.raises(PermissionDeniedError):
                await sup.call("leaky_bump", {}, caller="locked")
            served = await sup.call("leaky_count", {}, caller="reader")
            await sup.call("leaky_bump", {}, caller="operator")
            after = await sup.call("leaky_count", {})

        assert served == {"count": 0}, "the worker counted a denied call"
        assert after == {"count": 1}, "an allowed call did reach it"
        assert plugin_status(sup, "leaky")["tools"]["leaky_bump"]["calls"] == 1
    error = caught.value
    assert (error.role, error.tool, error.plugin) == ("reader", "leaky_bump", "leaky")
    assert error.key == "roles.reader.allow"
    assert str(policy_file) in str(error)
    denied = [line for line in audit_lines(audit_path) if line["outcome"] == "denied"]
    assert [line["caller"] for line in denied] == ["reader", "locked"]
    assert all(line["worker_pid"] is None for line in denied)
    assert all(line["plugin"] == "leaky" for line in denied)


async def test_a_caller_without_a_role_runs_as_the_default_role(
    policy_file: Path, audit_path: Path
) -> None:
    async with supervisor(policy=policy_file, audit_log=audit_path) as sup:
        await assert_canary(sup)

    (line,) = audit_lines(audit_path)
    assert line["caller"] == "reader"


async def test_an_unknown_role_is_denied_naming_the_defined_roles(policy_file: Path) -> None:
    async with supervisor(policy=policy_file) as sup:
        with anyio.fail_after(CALLS_WAIT), pytest.raises(PermissionDeniedError) as caught:
            await sup.call("echo", {}, caller="intern")
        await assert_canary(sup)

    assert "role 'intern' is not defined (defined roles: locked, operator, reader)" in str(
        caught.value
    )


async def test_an_unknown_tool_lists_only_the_tools_the_caller_may_call(
    policy_file: Path,
) -> None:
    async with supervisor("leaky", policy=policy_file) as sup:
        with pytest.raises(ToolNotFoundError) as caught:
            await sup.call("nope", {}, caller="reader")

    assert "known tools: echo, echo_sync, leaky_count)" in str(caught.value)


async def test_without_a_policy_every_caller_may_call_everything(audit_path: Path) -> None:
    async with supervisor("leaky", audit_log=audit_path) as sup:
        with anyio.fail_after(CALLS_WAIT):
            assert await sup.call("leaky_bump", {}, caller="anyone") == {"count": 1}
            assert await sup.call("leaky_bump", {}) == {"count": 2}

    assert [line["caller"] for line in audit_lines(audit_path)] == ["anyone", None]


def test_a_bad_policy_file_stops_the_supervisor_before_any_worker(tmp_path: Path) -> None:
    bad = tmp_path / "policy.yaml"
    bad.write_text("roles: {reader: {allow: [echo], alow: [x]}}\n")

    with pytest.raises(PolicyError) as caught:
        Supervisor([ECHO], profiles_dir=TEST_PROFILES, policy=bad)

    assert caught.value.field == "roles.reader.alow"


async def test_policy_and_audit_log_come_from_the_environment(
    policy_file: Path, audit_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HYDROGEN_POLICY", str(policy_file))
    monkeypatch.setenv("HYDROGEN_AUDIT_LOG", str(audit_path))

    async with supervisor() as sup:
        with anyio.fail_after(CALLS_WAIT), pytest.raises(PermissionDeniedError):
            await sup.call("echo", {}, caller="locked")

    assert [line["outcome"] for line in audit_lines(audit_path)] == ["denied"]


# ---- the audit log -------------------------------------------------------------------------


async def test_every_outcome_leaves_one_line_with_the_right_fields(
    policy_file: Path, audit_path: Path
) -> None:
    before = datetime.now(UTC)
    async with supervisor("sleepy", "crashy", policy=policy_file, audit_log=audit_path) as sup:
        with anyio.fail_after(CALLS_WAIT):
            outcomes = [
                await outcome_of(sup, "echo", {"text": "hi"}),
                await outcome_of(sup, "block_sync", {"seconds": 1}, caller="reader"),
                await outcome_of(sup, "sleep_async", {"seconds": 5}, timeout=0.2),
                await outcome_of(sup, "exit_now", {}, caller="operator"),
                await outcome_of(sup, "no_such_tool", {}, caller="operator"),
                await outcome_of(sup, "echo_sync", {"text": 7}),
            ]
            with anyio.move_on_after(0.2):
                await sup.call("sleep_async", {"seconds": 5})
        echo_pid = plugin_status(sup, "echo")["pid"]
    after = datetime.now(UTC)

    assert outcomes == [
        "ok",
        "denied",
        "timeout",
        "plugin_crashed",
        "tool_not_found",
        "invalid_params",
    ]
    lines = audit_lines(audit_path)
    assert [line["outcome"] for line in lines] == [*outcomes, "cancelled"]
    ok, denied, timeout, crash, missing, invalid, cancelled = lines
    for line in lines:
        stamp = datetime.fromisoformat(line["ts"])
        assert stamp.utcoffset() == timedelta(0)
        assert before <= stamp <= after
        assert line["duration_ms"] >= 0
    assert ok["params_sha256"] == digest({"text": "hi"})
    assert (ok["caller"], ok["tool"], ok["plugin"], ok["error"]) == ("reader", "echo", "echo", None)
    assert ok["worker_pid"] == echo_pid
    assert ok["worker_cpu_ms"] >= 0
    assert ok["worker_peak_rss_bytes"] > MIB
    assert denied["error"].startswith("permission denied: caller role 'reader'")
    assert "'block_*' in roles.reader.deny" in denied["error"]
    assert denied["worker_pid"] is None
    assert timeout["plugin"] == "sleepy"
    assert timeout["duration_ms"] >= 200
    assert isinstance(timeout["worker_pid"], int)
    assert crash["error"] == "plugin 'crashy' crashed: worker exited with status 3"
    assert crash["worker_cpu_ms"] is None, "a dead worker cannot be sampled"
    assert (missing["plugin"], missing["worker_pid"]) == (None, None)
    assert invalid["error"] == "invalid params at params.text"
    assert cancelled["error"] == "CancelledError"


async def test_params_never_appear_in_the_audit_log(policy_file: Path, audit_path: Path) -> None:
    params = {"text": SECRET}
    async with supervisor("leaky", policy=policy_file, audit_log=audit_path) as sup:
        with anyio.fail_after(CALLS_WAIT):
            await sup.call("echo", params)
            with pytest.raises(PermissionDeniedError):
                await sup.call("leaky_bump", params, caller="reader")
            with pytest.raises(ToolFailedError, match=SECRET):
                await sup.call("leaky_fail", params, caller="operator")
            with pytest.raises(CallError):
                await sup.call("echo_sync", {"text": [SECRET]})
            # The worker writes the params to stderr, which the crash error quotes.
            with pytest.raises(PluginCrashedError):
                await sup.call("leaky_crash", params, caller="operator")
            await assert_canary(sup)

    text = audit_text(audit_path)
    assert SECRET not in text
    assert len(text.splitlines()) == 6
    assert audit_lines(audit_path)[2]["error"] == "tool raised ValueError"


async def test_worker_cpu_and_peak_memory_are_sampled_around_the_call(
    audit_path: Path,
) -> None:
    async with supervisor("leaky", audit_log=audit_path) as sup:
        with anyio.fail_after(CALLS_WAIT):
            await sup.call("leaky_count", {})
            await sup.call("leaky_burn", {"ms": 300, "mb": 96})
            await sup.call("leaky_count", {})
        pid = plugin_status(sup, "leaky")["pid"]

    quiet, burn, later = audit_lines(audit_path)
    assert quiet["worker_pid"] == burn["worker_pid"] == pid
    assert burn["worker_cpu_ms"] >= 250
    assert quiet["worker_cpu_ms"] < 250
    assert burn["worker_peak_rss_bytes"] >= 96 * MIB
    assert quiet["worker_peak_rss_bytes"] < 96 * MIB
    # VmHWM is the peak over the worker's life, so it stays up after the block is freed.
    assert later["worker_peak_rss_bytes"] >= burn["worker_peak_rss_bytes"]


async def test_the_log_rotates_by_size_and_keeps_every_line(tmp_path: Path) -> None:
    path = tmp_path / "audit.jsonl"
    log = AuditLog(path, max_bytes=2048, backups=10)
    async with supervisor(audit_log=log) as sup, anyio.create_task_group() as tg:
        for index in range(30):
            tg.start_soon(sup.call, "echo", {"text": f"call {index}"})

    files = audit_files(tmp_path)
    assert len(files) >= 3
    assert all(f.stat().st_size <= 2048 for f in files)
    lines = [line for f in files for line in audit_lines(f)]
    assert len(lines) == 30
    assert sorted(line["params_sha256"] for line in lines) == sorted(
        digest({"text": f"call {index}"}) for index in range(30)
    )


async def test_lines_stay_intact_when_a_plugin_crashes_mid_burst(audit_path: Path) -> None:
    calls = 40
    async with supervisor("leaky", audit_log=audit_path) as sup:
        with anyio.fail_after(CALLS_WAIT):
            async with anyio.create_task_group() as tg:
                for index in range(calls):
                    tool = "leaky_crash" if index == calls // 2 else "leaky_bump"
                    tg.start_soon(outcome_of, sup, tool, {})
                    tg.start_soon(outcome_of, sup, "echo", {"text": str(index)})
            # Served by the restarted worker once it is up.
            assert "count" in await sup.call("leaky_count", {})

    assert audit_text(audit_path).endswith("}\n")
    lines = audit_lines(audit_path)  # every line parses
    assert len(lines) == 2 * calls + 1
    by_tool: dict[str, list[str]] = {}
    for line in lines:
        by_tool.setdefault(line["tool"], []).append(line["outcome"])
    assert by_tool["leaky_crash"] == ["plugin_crashed"]
    assert set(by_tool["echo"]) == {"ok"}
    assert len(by_tool["leaky_bump"]) == calls - 1


# ---- the CLI -------------------------------------------------------------------------------


async def hydrogen(*args: str) -> tuple[int, str, str]:
    env = {**os.environ, "COLUMNS": "400"}
    for name in ("HYDROGEN_PROFILES", "HYDROGEN_POLICY", "HYDROGEN_AUDIT_LOG"):
        env.pop(name, None)
    with anyio.fail_after(CLI_TIMEOUT):
        done = await anyio.run_process(
            [str(HYDROGEN), "--plugins", "tests/plugins", *args],
            cwd=REPO_ROOT,
            env=env,
            check=False,
        )
    return done.returncode, done.stdout.decode(), " ".join(done.stderr.decode().split())


async def test_cli_call_as_a_role_is_denied_and_audited(
    policy_file: Path, audit_path: Path
) -> None:
    options = ("--policy", str(policy_file), "--audit-log", str(audit_path))

    denied = await hydrogen(*options, "call", "echo", '{"text": "x"}', "--caller", "locked")
    allowed = await hydrogen(*options, "call", "echo", '{"text": "x"}', "--caller", "operator")

    assert denied[0] == 1
    assert "error: permission denied: caller role 'locked' may not call tool 'echo'" in denied[2]
    assert allowed[0] == 0, allowed[2]
    assert json.loads(allowed[1]) == {"echo": {"text": "x"}}
    assert [(line["caller"], line["outcome"]) for line in audit_lines(audit_path)] == [
        ("locked", "denied"),
        ("operator", "ok"),
    ]


async def test_cli_demo_as_a_role_reports_denied_tools(policy_file: Path) -> None:
    code, out, _ = await hydrogen(
        "--policy", str(policy_file), "demo", "--json", "--caller", "locked"
    )

    assert code == 1
    calls = json.loads(out)["calls"]
    assert calls
    assert all(not c["ok"] and c["error"].startswith("permission denied") for c in calls)


async def test_cli_bad_policy_is_an_error_naming_the_field(tmp_path: Path) -> None:
    bad = tmp_path / "policy.yaml"
    bad.write_text("roles: {a: {allow: [x]}}\ndefault_role: b\n")

    code, _, err = await hydrogen("--policy", str(bad), "tools")

    assert code == 1
    assert f"error: policy {bad}: default_role: 'b' is not defined under roles" in err
