"""The dependency audit end to end: real pip-audit, the real advisory database, no mocks."""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator

import pytest

from runtime.gate.advisories import Advisories
from runtime.gate.deps import (
    PIP_AUDIT_TIMEOUT,
    _AuditFailed,
    _report_decoder,
    _report_findings,
    _run_pip_audit,
    audit_requirements,
    live_osv_reachable,
    osv_source_revision,
)
from runtime.gate.findings import Finding, PluginSource, Severity
from runtime.gate.requirements import Pin, read_requirements
from runtime.gate.typosquat import popular_packages, resembles
from tests.gate.conftest import MakePlugin


def _ids(findings: list[Finding]) -> list[str]:
    return sorted(f.id for f in findings)


def _audit(
    source: PluginSource,
    advisories: Advisories | None,
    *,
    osv_url: str | None = None,
    timeout: float = PIP_AUDIT_TIMEOUT,
) -> list[Finding]:
    # Never the live API here: its answers change, the snapshot's do not.
    return audit_requirements(
        source, advisories=advisories, live_osv=False, osv_url=osv_url, timeout=timeout
    )


# ---- vulnerabilities --------------------------------------------------------------------------


def test_vulnerable_pin_is_an_error_naming_the_advisory_aliases_and_fix(
    make_plugin: MakePlugin, advisories: Advisories
) -> None:
    findings = _audit(make_plugin(["requests==2.19.0"]), advisories)

    by_id = {f.id: f for f in findings}
    finding = by_id["deps:vulnerable:requests:PYSEC-2018-28"]
    assert finding.severity is Severity.ERROR
    assert finding.scanner == "deps"
    assert "requests==2.19.0" in finding.message
    assert "CVE-2018-18074" in finding.message
    assert "2.20.0" in finding.message
    assert finding.hint == "upgrade to requests==2.20.0"
    assert finding.file == "plugin.yaml"
    assert all(f.id.startswith("deps:vulnerable:requests:") for f in findings)


def test_clean_pins_have_no_findings(make_plugin: MakePlugin, advisories: Advisories) -> None:
    source = make_plugin(["requests==2.32.3", "psutil==7.2.2"], "click==8.1.7\n")
    assert _audit(source, advisories) == []


def test_requirements_txt_is_audited_with_its_line_numbers(
    make_plugin: MakePlugin, advisories: Advisories
) -> None:
    text = (
        "# pinned and hashed\n"
        "click==8.1.7 \\\n"
        "    --hash=sha256:ae74fb96c20a0277a1d615f1e4d73c8414f5a98db8b799a7931d1582f3390c28\n"
        "\n"
        "jinja2==2.10  # old on purpose\n"
    )
    findings = _audit(make_plugin([], text), advisories)

    vulnerable = [f for f in findings if f.id.startswith("deps:vulnerable:jinja2:")]
    assert vulnerable
    assert {(f.file, f.line) for f in findings} == {("requirements.txt", 5)}


def test_one_package_pinned_twice_is_a_conflict_and_both_versions_are_audited(
    make_plugin: MakePlugin, advisories: Advisories
) -> None:
    findings = _audit(make_plugin(["requests==2.32.3"], "requests==2.19.0\n"), advisories)

    ids = _ids(findings)
    assert "deps:conflict:requests" in ids
    assert "deps:vulnerable:requests:PYSEC-2018-28" in ids


# ---- pins -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "requirement",
    [
        "requests>=2",
        "requests",
        "requests==2.*",
        "requests===2.19.0",
        "requests==2.32.3,<3",
        "requests @ https://example.invalid/requests-2.32.3-py3-none-any.whl",
    ],
)
def test_anything_but_an_exact_pin_is_an_unpinned_error(
    make_plugin: MakePlugin, advisories: Advisories, requirement: str
) -> None:
    findings = _audit(make_plugin([requirement]), advisories)

    assert _ids(findings) == ["deps:unpinned:requests"]
    assert findings[0].severity is Severity.ERROR
    assert findings[0].hint == "pin it: requests==<version you tested>"


def test_extras_and_markers_keep_a_pin_exact_and_audited(
    make_plugin: MakePlugin, advisories: Advisories
) -> None:
    # A false marker must not exempt the pin: it is audited all the same.
    source = make_plugin(['requests[socks]==2.19.0; python_version < "3"'])
    assert "deps:vulnerable:requests:PYSEC-2018-28" in _ids(_audit(source, advisories))


def test_unparsable_requirement_and_pip_options_are_errors(
    make_plugin: MakePlugin, advisories: Advisories
) -> None:
    text = "-r other.txt\n--index-url https://mirror.invalid/simple\n-e .\nclick==8.1.7\n"
    findings = _audit(make_plugin(["requests==not a version"], text), advisories)

    assert _ids(findings) == [
        "deps:invalid:requests==not a version",
        "deps:option:--index-url",
        "deps:option:-e",
        "deps:option:-r",
    ]
    assert {f.line for f in findings if f.file == "requirements.txt"} == {1, 2, 3}


def test_names_are_pep503_normalized_in_ids(make_plugin: MakePlugin) -> None:
    declared = read_requirements(make_plugin(["Python_DateUtil==2.9.0", "Jinja2>=3"]))

    assert [p.name for p in declared.pins] == ["python-dateutil"]
    assert [f.id for f in declared.findings] == ["deps:unpinned:jinja2"]


# ---- typosquats -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "real"),
    [("reqeusts", "requests"), ("numpyy", "numpy"), ("python-datetuil", "python-dateutil")],
)
def test_name_one_edit_from_a_popular_package_is_a_typosquat_naming_it(
    make_plugin: MakePlugin, advisories: Advisories, name: str, real: str
) -> None:
    findings = _audit(make_plugin([f"{name}==1.0"]), advisories)

    assert _ids(findings) == [f"deps:typosquat:{name}"]
    assert real in findings[0].message
    assert real in findings[0].hint


def test_popular_and_known_legitimate_names_are_not_typosquats() -> None:
    assert len(popular_packages()) > 300
    assert resembles("requests") == []
    assert resembles("Python_DateUtil") == []
    assert resembles("pyaml") == []  # a real package one edit from pyyaml
    assert resembles("requestss") == ["requests"]
    assert resembles("sixx") == []  # names under four characters are not compared


# ---- never fail open --------------------------------------------------------------------------


@pytest.fixture
def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


@pytest.fixture
def silent_server() -> Iterator[int]:
    """A port that accepts connections (kernel backlog) and never answers."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen(8)
        yield sock.getsockname()[1]


def test_unreachable_osv_source_makes_every_pin_unaudited(
    make_plugin: MakePlugin, advisories: Advisories, closed_port: int
) -> None:
    url = f"http://127.0.0.1:{closed_port}/v1/query"
    findings = _audit(make_plugin(["requests==2.32.3", "click==8.1.7"]), advisories, osv_url=url)

    assert _ids(findings) == ["deps:unaudited:click", "deps:unaudited:requests"]
    assert all(f.severity is Severity.ERROR for f in findings)
    assert "Connection refused" in findings[0].message or "ConnectionError" in findings[0].message


def test_osv_source_that_never_answers_makes_pins_unaudited_within_the_timeout(
    make_plugin: MakePlugin, advisories: Advisories, silent_server: int
) -> None:
    url = f"http://127.0.0.1:{silent_server}/v1/query"
    started = time.monotonic()
    findings = _audit(make_plugin(["requests==2.32.3"]), advisories, osv_url=url, timeout=4)

    assert time.monotonic() - started < 10
    assert _ids(findings) == ["deps:unaudited:requests"]


def test_pip_audit_over_its_deadline_is_killed_and_reported(advisories: Advisories) -> None:
    pin = Pin("requests", "2.32.3", "requests==2.32.3", "plugin.yaml", None)
    with pytest.raises(_AuditFailed, match="did not finish within"):
        _run_pip_audit([pin], "http://127.0.0.1:9/v1/query", timeout=0.05)


def test_no_advisory_source_at_all_is_unaudited_not_clean(make_plugin: MakePlugin) -> None:
    findings = _audit(make_plugin(["requests==2.32.3"]), None)

    assert _ids(findings) == ["deps:unaudited:requests"]
    assert "no advisory source" in findings[0].message


def test_skipped_or_missing_dependency_in_pip_audits_report_is_unaudited() -> None:
    # The report pip-audit 2.10 prints for the PyPI service when PyPI's JSON API is out of reach
    # (it says "No known vulnerabilities found" and exits 0).
    output = (
        b'{"dependencies": [{"name": "requests", "skip_reason": "Dependency not found on PyPI '
        b'and could not be audited: requests (2.19.0)"}], "fixes": []}'
    )
    report = {d.name: d for d in _report_decoder.decode(output).dependencies}
    pins = [
        Pin("requests", "2.19.0", "requests==2.19.0", "plugin.yaml", None),
        Pin("click", "8.1.7", "click==8.1.7", "plugin.yaml", None),
    ]

    findings = _report_findings(pins, report)

    assert _ids(findings) == ["deps:unaudited:click", "deps:unaudited:requests"]
    assert "skipped" in {f.id: f for f in findings}["deps:unaudited:requests"].message


# ---- the live API and the cache key -------------------------------------------------------


def test_live_probe_is_answered_from_cache_after_the_first_call() -> None:
    first = live_osv_reachable()
    started = time.perf_counter()
    again = live_osv_reachable()

    assert again == first
    assert time.perf_counter() - started < 0.01


def test_source_revision_names_the_local_database_when_live_is_off(
    advisories: Advisories,
) -> None:
    assert osv_source_revision(advisories, live_osv=False) == f"local:{advisories.revision}"
    assert osv_source_revision(None, live_osv=False) == "none"
