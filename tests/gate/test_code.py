"""Bandit in the gate: every test, ``# nosec`` ignored, unparsable files block, stdout untouched."""

from __future__ import annotations

import json
import logging
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from runtime.gate.code import bandit_severity, scan_code
from runtime.gate.findings import Severity
from tests.conftest import BUNDLED_PLUGINS, REPO_ROOT
from tests.gate.scanning import by_id, fixture_source, located, plugin_at, write_plugin


def test_clean_plugin_has_no_bandit_findings() -> None:
    assert scan_code(fixture_source("clean")) == []


def test_nosec_does_not_silence_exec_or_eval() -> None:
    findings = scan_code(fixture_source("nosec_exec"))
    assert located(findings) == {
        ("bandit:B102", "__init__.py", 7),  # exec(code)  # nosec
        ("bandit:B307", "__init__.py", 11),  # eval(expression)  # nosec B307
    }
    exec_finding = by_id(findings, "bandit:B102")
    assert exec_finding.severity == Severity.WARNING
    assert exec_finding.scanner == "bandit"
    assert exec_finding.message.startswith("__init__.py:7: Use of exec detected")
    assert "https://bandit.readthedocs.io/" in exec_finding.hint
    assert "remove exec" in exec_finding.hint


def test_file_bandit_cannot_parse_blocks_admission_naming_file_and_line() -> None:
    findings = scan_code(fixture_source("syntax_error"))
    assert located(findings) == {("code:unparsable", "helpers.py", 5)}
    finding = findings[0]
    assert finding.severity == Severity.ERROR
    assert "helpers.py:5" in finding.message
    assert finding.message.startswith("helpers.py:5: bandit cannot read this file (invalid syntax)")


def test_null_bytes_in_source_are_unparsable(tmp_path: Path) -> None:
    source = write_plugin(tmp_path / "p", {"__init__.py": b"x = 1\n\0\n"})
    assert [(f.id, f.file, f.severity) for f in scan_code(source)] == [
        ("code:unparsable", "__init__.py", Severity.ERROR)
    ]


@pytest.mark.parametrize(
    ("severity", "confidence", "expected"),
    [
        ("HIGH", "HIGH", Severity.ERROR),
        ("HIGH", "MEDIUM", Severity.ERROR),
        ("HIGH", "LOW", Severity.WARNING),
        ("MEDIUM", "HIGH", Severity.WARNING),
        ("MEDIUM", "LOW", Severity.NOTE),
        ("LOW", "HIGH", Severity.NOTE),
        ("UNDEFINED", "UNDEFINED", Severity.NOTE),
    ],
)
def test_severity_follows_bandit_severity_lowered_by_low_confidence(
    severity: str, confidence: str, expected: Severity
) -> None:
    assert bandit_severity(severity, confidence) == expected


def test_high_severity_issue_is_an_error_and_asserts_are_notes(tmp_path: Path) -> None:
    source = write_plugin(
        tmp_path / "p",
        {
            "__init__.py": """
                import subprocess


                def run(command: str) -> None:
                    subprocess.call(command, shell=True)


                def check(value: int) -> None:
                    assert value > 0
            """
        },
    )
    findings = scan_code(source)
    assert by_id(findings, "bandit:B602").severity == Severity.ERROR
    assert by_id(findings, "bandit:B602").line == 5
    assert by_id(findings, "bandit:B101").severity == Severity.NOTE
    assert by_id(findings, "bandit:B404").severity == Severity.NOTE


def test_findings_name_files_relative_to_the_plugin_folder(tmp_path: Path) -> None:
    source = write_plugin(
        tmp_path / "p",
        {"__init__.py": "", "tools/deep/run.py": "def f(code: str) -> None:\n    exec(code)\n"},
    )
    assert located(scan_code(source)) == {("bandit:B102", "tools/deep/run.py", 2)}


@pytest.fixture
def bandit_logging_at_info() -> Iterator[None]:
    """Bandit draws a progress bar on stdout for many files when its log level is INFO."""
    logger = logging.getLogger("bandit")
    level = logger.level
    logger.setLevel(logging.INFO)
    yield
    logger.setLevel(level)


@pytest.mark.usefixtures("bandit_logging_at_info")
def test_scan_of_many_files_writes_nothing_to_stdout(
    tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    files: dict[str, str | bytes] = {f"m{i}.py": "x = 1\n" for i in range(120)}
    files["m7.py"] = "def f(code: str) -> None:\n    exec(code)\n"
    findings = scan_code(write_plugin(tmp_path / "p", files))
    assert located(findings) == {("bandit:B102", "m7.py", 2)}
    assert capfd.readouterr().out == ""


def test_check_that_crashes_inside_bandit_is_a_finding(monkeypatch: pytest.MonkeyPatch) -> None:
    # Imported here, after runtime.gate.code has loaded bandit with its deprecation silenced.
    from bandit.core import extension_loader  # type: ignore[import-untyped]

    extension = extension_loader.MANAGER.plugins_by_id["B102"]
    original = extension.plugin

    def exploding(context: object) -> None:
        raise RuntimeError("check crashed")

    exploding._test_id = original._test_id  # type: ignore[attr-defined]
    exploding._checks = original._checks  # type: ignore[attr-defined]
    monkeypatch.setattr(extension, "plugin", exploding)
    findings = scan_code(fixture_source("nosec_exec"))
    crashed = by_id(findings, "code:bandit-error")
    assert (crashed.file, crashed.line, crashed.severity) == ("__init__.py", 7, Severity.ERROR)
    # The exec check runs on every call: it crashed on exec(...) and again on eval(...).
    assert crashed.message == (
        "__init__.py:7: bandit's check exploding crashed on this file, so the file was not "
        "fully checked; also at 1 more line(s)"
    )
    assert "bandit:B102" not in {f.id for f in findings}


def test_bundled_system_plugin_has_only_notes() -> None:
    """plugins/system: asserts in its own tests (B101), nothing else."""
    findings = scan_code(plugin_at(BUNDLED_PLUGINS / "system"))
    assert {f.id for f in findings} == {"bandit:B101"}
    assert {f.severity for f in findings} == {Severity.NOTE}
    assert {f.file for f in findings} == {"tests/test_system_tools.py"}


COLD_SCAN = """
import json, sys, time
started = time.perf_counter()
from runtime.gate.code import scan_code
from runtime.gate.capabilities import scan_capabilities
from runtime.gate.heuristics import scan_heuristics
from tests.gate.scanning import synthetic_plugin
from pathlib import Path
source = synthetic_plugin(Path(sys.argv[1]))
lines = sum((source.root / f).read_text().count("\\n") for f in source.python_files)
timings = {"import": time.perf_counter() - started, "lines": lines}
for scan in (scan_code, scan_capabilities, scan_heuristics):
    begun = time.perf_counter()
    count = len(scan(source))
    timings[scan.__name__] = time.perf_counter() - begun
    timings[scan.__name__ + "_findings"] = count
print(json.dumps(timings))
"""


def test_cold_scan_of_a_1000_line_plugin_is_well_under_a_second(tmp_path: Path) -> None:
    """In a fresh interpreter, so bandit's import and plugin loading are counted."""
    done = subprocess.run(
        [sys.executable, "-c", COLD_SCAN, str(tmp_path / "synthetic")],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    timings = json.loads(done.stdout)
    assert timings["lines"] >= 1000
    scans = timings["scan_code"] + timings["scan_capabilities"] + timings["scan_heuristics"]
    assert timings["import"] + scans < 1.0, timings
