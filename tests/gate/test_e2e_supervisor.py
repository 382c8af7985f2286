"""The runtime enforces the gate: a refused plugin never gets a worker, its tools say why, and
every other plugin keeps serving. Real workers, real scanners; this module runs gated (no
``HYDROGEN_GATE`` in the environment), like a production supervisor.
"""

from __future__ import annotations

import json
import logging
import sys
from pathlib import Path
from typing import Any, Final

import anyio
import pytest

from runtime import Supervisor
from runtime.errors import PluginUnavailableError
from runtime.gate.gate import GateConfig
from tests.conftest import REPO_ROOT, TEST_PLUGINS
from tests.gate.scanning import FIXTURES

pytestmark = [pytest.mark.integration, pytest.mark.anyio]

ECHO: Final = TEST_PLUGINS / "echo"
# Seconds: supervisor start (gate review, pip-audit for pinned plugins, worker start) and a call.
START_TIMEOUT: Final = 90.0
CALL_TIMEOUT: Final = 10.0

# A refused fixture, a tool it registers, and the open error findings its refusal must name.
REFUSED: Final = {
    "env_exfil": (
        "weather",
        {
            "heuristics:exfiltration",
            "capability:network",
            "capability:env",
            "capability:env:AWS_SECRET_ACCESS_KEY",
        },
    ),
    "deps_vulnerable": ("fetch_title", {"deps:vulnerable:requests:PYSEC-2018-28"}),
}


@pytest.fixture(autouse=True)
def gated_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """The default gate, a private scan cache, the local advisory database only."""
    monkeypatch.delenv("HYDROGEN_GATE", raising=False)
    monkeypatch.delenv("HYDROGEN_WAIVERS", raising=False)
    monkeypatch.setenv("HYDROGEN_GATE_CACHE", str(tmp_path / "env-gate-cache"))
    monkeypatch.setenv("HYDROGEN_OSV_LIVE", "0")


def gate_config(tmp_path: Path, **kwargs: Any) -> GateConfig:
    return GateConfig(cache_dir=tmp_path / "gate-cache", **kwargs)


async def call_echo(sup: Supervisor) -> None:
    with anyio.fail_after(CALL_TIMEOUT):
        assert await sup.call("echo", {"text": "still here"}) == {"echo": {"text": "still here"}}


@pytest.mark.parametrize("fixture", sorted(REFUSED))
async def test_runtime_refuses_what_the_gate_refuses_and_keeps_serving_the_rest(
    tmp_path: Path, fixture: str
) -> None:
    tool, blocking = REFUSED[fixture]
    with anyio.fail_after(START_TIMEOUT):
        async with Supervisor([FIXTURES / fixture, ECHO], gate=gate_config(tmp_path)) as sup:
            status = sup.status()
            entry = status["plugins"][fixture]
            assert status["gate"] == "on"
            assert entry["state"] == "refused"
            assert entry["pid"] is None  # never got a worker
            reason = entry["reason"]
            assert reason.startswith("refused by the security gate: ")
            for finding_id in blocking:
                assert finding_id in reason
            assert f"hydrogen review {FIXTURES / fixture}" in reason
            assert ":None" not in reason  # a finding without a line is shown at its file

            gate = entry["gate"]
            assert gate["decision"] == "refuse"
            assert gate["summary"].startswith("refuse: ")
            assert blocking <= {f["id"] for f in gate["findings"]}

            with pytest.raises(PluginUnavailableError) as refused:
                await sup.call(tool, {})
            message = str(refused.value)
            assert f"plugin {fixture!r} is refused: refused by the security gate" in message
            assert all(finding_id in message for finding_id in blocking)

            assert tool not in {t.name for t in sup.tools()}
            assert status["plugins"]["echo"]["state"] == "active"
            assert status["plugins"]["echo"]["gate"]["decision"] == "admit"
            await call_echo(sup)


async def test_gate_off_admits_the_same_plugin_and_says_so_loudly(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="hydrogen.supervisor")
    with anyio.fail_after(START_TIMEOUT):
        async with Supervisor([FIXTURES / "env_exfil", ECHO], gate=False) as sup:
            status = sup.status()
            assert status["gate"].startswith("DISABLED")
            assert status["plugins"]["env_exfil"]["state"] == "active"
            assert status["plugins"]["env_exfil"]["gate"] is None
            assert "weather" in {t.name for t in sup.tools()}
            await call_echo(sup)

    warnings = [
        r
        for r in caplog.records
        if r.name == "hydrogen.supervisor" and r.levelno >= logging.WARNING
    ]
    assert any("SECURITY GATE DISABLED" in r.getMessage() for r in warnings), caplog.text
    assert "2 plugin(s) admitted without review" in caplog.text


async def test_default_supervisor_is_gated_and_hydrogen_gate_off_disables_it(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="hydrogen.supervisor")
    with anyio.fail_after(START_TIMEOUT):
        async with Supervisor([FIXTURES / "env_exfil", ECHO]) as sup:
            assert sup.status()["gate"] == "on"
            assert sup.status()["plugins"]["env_exfil"]["state"] == "refused"
            await call_echo(sup)
    assert "SECURITY GATE DISABLED" not in caplog.text

    monkeypatch.setenv("HYDROGEN_GATE", "off")
    with anyio.fail_after(START_TIMEOUT):
        async with Supervisor([FIXTURES / "env_exfil", ECHO]) as sup:
            assert sup.status()["gate"].startswith("DISABLED")
            assert sup.status()["plugins"]["env_exfil"]["state"] == "active"
    assert "SECURITY GATE DISABLED" in caplog.text


def write_waivers(path: Path, finding: str, expires: str) -> Path:
    path.write_text(
        "waivers:\n"
        "  - plugin: deps_vulnerable\n"
        f"    finding: {finding!r}\n"
        "    reason: the tool never follows a redirect\n"
        "    approver: alice@example.com\n"
        f"    expires: {expires}\n"
    )
    return path


async def test_live_waiver_admits_a_refused_plugin_and_status_lists_what_it_waived(
    tmp_path: Path,
) -> None:
    waivers = write_waivers(tmp_path / "w.yaml", "deps:vulnerable:requests:*", "2099-12-31")
    with anyio.fail_after(START_TIMEOUT):
        config = gate_config(tmp_path, waivers=waivers)
        async with Supervisor([FIXTURES / "deps_vulnerable", ECHO], gate=config) as sup:
            entry = sup.status()["plugins"]["deps_vulnerable"]
            assert entry["state"] == "active"
            assert entry["gate"]["decision"] == "admit"
            assert entry["gate"]["findings"] == []
            assert "deps:vulnerable:requests:PYSEC-2018-28" in entry["gate"]["waived"]
            await call_echo(sup)


async def test_expired_waiver_refuses_again_naming_the_expiry_date(tmp_path: Path) -> None:
    target = "deps:vulnerable:requests:PYSEC-2018-28"
    waivers = write_waivers(tmp_path / "w.yaml", target, "2020-01-31")
    with anyio.fail_after(START_TIMEOUT):
        config = gate_config(tmp_path, waivers=waivers)
        async with Supervisor([FIXTURES / "deps_vulnerable", ECHO], gate=config) as sup:
            entry = sup.status()["plugins"]["deps_vulnerable"]
            assert entry["state"] == "refused"
            assert target in entry["reason"]
            findings = {f["id"]: f for f in entry["gate"]["findings"]}
            assert findings[target]["waived_by"] is None
            expired = findings[f"gate:waiver-expired:{target}"]
            assert "expired on 2020-01-31" in expired["message"]
            assert entry["gate"]["waived"] == []
            await call_echo(sup)


# ---- reviews run concurrently ----------------------------------------------------------------

PINNED_PLUGIN: Final = """\
name: {name}
version: 1.0.0
description: Pins a requests release with no known vulnerability
class: PinnedPlugin
requirements:
  - requests==2.32.3
tools:
  - {{name: {name}_tool, description: Does nothing, timeout: 5}}
"""

CONCURRENT_REVIEWS: Final = """
import json, sys
from pathlib import Path
import anyio
from runtime.gate.gate import Gate, GateConfig
from runtime.manifest.discovery import discover

async def main() -> None:
    gate = Gate(GateConfig(cache_dir=Path(sys.argv[1])))
    decisions = {}

    async def review(manifest):
        verdict = await gate.review(manifest)
        decisions[manifest.name] = [verdict.decision, [f.id for f in verdict.open_findings]]

    async with anyio.create_task_group() as tg:
        for manifest in discover(sys.argv[2:]).manifests:
            tg.start_soon(review, manifest)
    print(json.dumps(decisions))

anyio.run(main)
"""


async def test_concurrent_first_reviews_in_a_fresh_process_all_see_the_advisory_database(
    tmp_path: Path,
) -> None:
    """As a supervisor starts: every plugin reviewed at once, none of them loaded the database.

    A review that took "not loaded yet" for "no database" would refuse a clean pin as
    ``deps:unaudited``.
    """
    plugins = []
    for name in ("pinned_a", "pinned_b", "pinned_c"):
        root = tmp_path / name
        root.mkdir()
        (root / "plugin.yaml").write_text(PINNED_PLUGIN.format(name=name))
        (root / "__init__.py").write_text('"""Nothing to run."""\n')
        plugins.append(str(root))

    # A fresh interpreter: in this one an earlier test may have loaded the database already.
    with anyio.fail_after(START_TIMEOUT):
        done = await anyio.run_process(
            [sys.executable, "-c", CONCURRENT_REVIEWS, str(tmp_path / "cache"), *plugins],
            cwd=REPO_ROOT,
        )

    assert json.loads(done.stdout) == {
        "pinned_a": ["admit", []],
        "pinned_b": ["admit", []],
        "pinned_c": ["admit", []],
    }
