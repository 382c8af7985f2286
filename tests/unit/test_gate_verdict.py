"""Verdicts from findings and waivers, waiver files, the scan cache and SARIF output."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import jsonschema
import pytest

from runtime.gate.cache import ScanCache, plugin_digest
from runtime.gate.findings import Finding, Severity
from runtime.gate.sarif import to_sarif
from runtime.gate.verdict import Decision, FailOn, Verdict, decide
from runtime.gate.waivers import Waiver, WaiverError, load_waivers
from tests.conftest import REPO_ROOT

TODAY = dt.date(2026, 11, 24)
SARIF_SCHEMA = REPO_ROOT / ".venv" / "share" / "hydrogen" / "sarif-2.1.0.json"


def _finding(fid: str, severity: Severity, line: int | None = 3) -> Finding:
    return Finding(
        id=fid,
        scanner=fid.split(":")[0],
        severity=severity,
        message=f"{fid} fired",
        hint="do the fix",
        file="tool.py",
        line=line,
    )


def _decide(findings: list[Finding], waivers: tuple[Waiver, ...] = (), **kw: object) -> Verdict:
    return decide(
        plugin="p",
        version="1.0",
        path="/plugins/p",
        findings=findings,
        waivers=waivers,
        fail_on=kw.get("fail_on", FailOn.ERROR),  # type: ignore[arg-type]
        today=TODAY,
        duration_ms=1.0,
        cached=False,
    )


def _waiver(finding: str, expires: dt.date, plugin: str = "p") -> Waiver:
    return Waiver(
        plugin=plugin, finding=finding, reason="reviewed", approver="a@x", expires=expires
    )


def test_no_findings_admit_warnings_admit_with_warnings_errors_refuse() -> None:
    assert _decide([]).decision == Decision.ADMIT
    assert _decide([_finding("bandit:B1", Severity.NOTE)]).decision == Decision.ADMIT
    warned = _decide([_finding("bandit:B2", Severity.WARNING)])
    assert warned.decision == Decision.ADMIT_WITH_WARNINGS
    refused = _decide([_finding("deps:unpinned:x", Severity.ERROR)])
    assert refused.decision == Decision.REFUSE
    assert "deps:unpinned:x at tool.py:3" in refused.refusal_reason()


def test_fail_on_warning_refuses_warnings_too() -> None:
    verdict = _decide([_finding("bandit:B2", Severity.WARNING)], fail_on=FailOn.WARNING)
    assert verdict.decision == Decision.REFUSE


def test_a_live_waiver_accepts_the_named_finding_of_the_named_plugin_only() -> None:
    waiver = _waiver("deps:unpinned:*", TODAY + dt.timedelta(days=1))
    verdict = _decide([_finding("deps:unpinned:x", Severity.ERROR)], (waiver,))
    assert verdict.decision == Decision.ADMIT
    assert verdict.findings[0].waived_by is not None
    assert "reviewed" in verdict.findings[0].waived_by
    other = _waiver("deps:unpinned:*", TODAY + dt.timedelta(days=1), plugin="q")
    assert _decide([_finding("deps:unpinned:x", Severity.ERROR)], (other,)).decision == (
        Decision.REFUSE
    )


def test_an_expired_waiver_stops_applying_and_says_so() -> None:
    waiver = _waiver("deps:unpinned:x", TODAY - dt.timedelta(days=1))
    verdict = _decide([_finding("deps:unpinned:x", Severity.ERROR)], (waiver,))
    assert verdict.decision == Decision.REFUSE
    expired = [f for f in verdict.findings if f.id.startswith("gate:waiver-expired")]
    assert len(expired) == 1
    assert "expired on 2026-11-23" in expired[0].message


def test_a_waiver_on_its_expiry_day_still_applies() -> None:
    waiver = _waiver("bandit:B2", TODAY)
    assert _decide([_finding("bandit:B2", Severity.ERROR)], (waiver,)).decision == Decision.ADMIT


def test_waiver_file_is_read_strictly(tmp_path: Path) -> None:
    good = tmp_path / "w.yaml"
    good.write_text(
        "waivers:\n  - {plugin: p, finding: 'bandit:B1', reason: ok, approver: me,"
        " expires: 2027-01-31}\n"
    )
    (loaded,) = load_waivers(good).entries
    assert loaded.expires == dt.date(2027, 1, 31)
    cases = {
        "waivers:\n  - {plugin: p, finding: x, reason: ok, approver: me}\n": "waivers[0].expires",
        "waivers:\n  - {plugin: p, finding: x, approver: me, expires: 2027-01-01}\n": (
            "waivers[0].reason"
        ),
        "waivers:\n  - {plugin: p, finding: x, reason: r, approver: me, expires: 2027-01-01,"
        " until: 1}\n": "waivers[0].until",
        "other: []\n": "other",
        "waivers:\n  - {plugin: p, finding: x, reason: r, approver: me, expires: soon}\n": (
            "waivers[0].expires"
        ),
    }
    for text, field in cases.items():
        bad = tmp_path / "bad.yaml"
        bad.write_text(text)
        with pytest.raises(WaiverError) as caught:
            load_waivers(bad)
        assert caught.value.field == field, text


def test_cache_key_changes_with_content_and_advisory_revision(tmp_path: Path) -> None:
    plugin = tmp_path / "p"
    plugin.mkdir()
    (plugin / "a.py").write_text("x = 1\n")
    cache = ScanCache(tmp_path / "cache")
    key = cache.key(plugin, config="c", advisory_revision="r1")
    assert cache.get(key) is None
    findings = [_finding("bandit:B1", Severity.NOTE)]
    cache.put(key, findings)
    assert cache.get(key) == findings
    assert cache.key(plugin, config="c", advisory_revision="r2") != key
    assert cache.key(plugin, config="other", advisory_revision="r1") != key
    before = plugin_digest(plugin)
    (plugin / "a.py").write_text("x = 2\n")
    assert plugin_digest(plugin) != before
    assert cache.key(plugin, config="c", advisory_revision="r1") != key
    changed = cache.key(plugin, config="c", advisory_revision="r1")
    (plugin / "__pycache__").mkdir()
    (plugin / "__pycache__" / "a.pyc").write_bytes(b"\0")
    assert cache.key(plugin, config="c", advisory_revision="r1") == changed


def test_a_corrupt_cache_entry_is_a_miss(tmp_path: Path) -> None:
    cache = ScanCache(tmp_path)
    (tmp_path / "k.json").write_text("{not json")
    assert cache.get("k") is None


def test_sarif_output_validates_against_the_official_2_1_0_schema(tmp_path: Path) -> None:
    if not SARIF_SCHEMA.is_file():
        pytest.skip(f"{SARIF_SCHEMA} missing: scripts/setup.sh fetches it from npm")
    schema = json.loads(SARIF_SCHEMA.read_text())
    waiver = _waiver("bandit:B2", TODAY + dt.timedelta(days=9))
    verdicts = [
        _decide(
            [_finding("bandit:B2", Severity.WARNING), _finding("deps:x", Severity.ERROR, None)],
            (waiver,),
        ),
        _decide([]),
    ]
    log = to_sarif(verdicts, base=Path("/"))
    jsonschema.Draft4Validator(schema).validate(log)
    results = log["runs"][0]["results"]
    assert [r["ruleId"] for r in results] == ["bandit:B2", "deps:x"]
    assert results[0]["suppressions"][0]["kind"] == "external"
    assert results[0]["locations"][0]["physicalLocation"]["region"] == {"startLine": 3}
    assert results[1]["level"] == "error"
    assert results[1]["locations"][0]["physicalLocation"]["artifactLocation"]["uri"] == (
        "plugins/p/tool.py"
    )
