"""Bandit over a plugin's Python files: in-process, every test on, ``# nosec`` ignored.

A plugin must not be able to silence the gate, so bandit runs with ``ignore_nosec`` and with no
configuration of the plugin's own. Severity mapping: bandit rates an issue by severity (how bad
if real) and confidence (how likely real); the gate maps

    severity HIGH    -> error      (warning if bandit's confidence is LOW)
    severity MEDIUM  -> warning    (note if bandit's confidence is LOW)
    severity LOW     -> note

so an issue bandit is sure is serious (``shell=True`` with a variable, ``yaml.load``, a TLS
check turned off) refuses admission, bandit's own doubt lowers a finding one step, and hygiene
issues (``assert``, ``random``, ``try/except/pass``) never block. ``exec`` and ``eval`` are
MEDIUM in bandit: the capability scan and the heuristics decide how bad a particular one is.

A file bandit cannot parse is ``code:unparsable``, an error: code the gate cannot read is code
it has not checked. A bandit check that crashes on a file is ``code:bandit-error``, an error
too, for the same reason: the gate never fails open.
"""

from __future__ import annotations

import ast
import functools
import logging
import re
import threading
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Final

from runtime.gate.findings import Finding, PluginSource, Severity

with warnings.catch_warnings():
    # Bandit's plugin loader passes stevedore an argument stevedore has deprecated; that is
    # bandit's to fix and says nothing about the plugin under review.
    warnings.filterwarnings("ignore", "The verify_requirements argument", DeprecationWarning)
    from bandit.core import config as b_config  # type: ignore[import-untyped]
    from bandit.core import docs_utils as b_docs
    from bandit.core import manager as b_manager

__all__ = ["bandit_severity", "scan_code"]

SCANNER: Final = "bandit"
# Bandit draws a rich progress bar on stdout above this many files when logging is at INFO;
# stdout may be the MCP transport, so files go in batches that never reach it.
BATCH_SIZE: Final = min(50, b_manager.PROGRESS_THRESHOLD)
# Bandit's test set and blacklist configuration are module globals: one scan at a time.
_LOCK: Final = threading.Lock()
_INTERNAL_ERROR: Final = re.compile(
    r"Bandit internal error running: (?P<test>\S+) on file (?P<file>.+?) at line (?P<line>\d+)"
)

_SEVERITY: Final = {
    ("HIGH", False): Severity.ERROR,
    ("HIGH", True): Severity.WARNING,
    ("MEDIUM", False): Severity.WARNING,
    ("MEDIUM", True): Severity.NOTE,
}

# Short fixes for the tests that fire most; bandit's page (linked in every hint) has the rest.
_FIXES: Final = {
    "B101": "use an explicit check that raises; asserts vanish under python -O",
    "B102": "remove exec; call the code directly",
    "B103": "do not make files group/world writable or executable",
    "B104": "bind to 127.0.0.1 or a configured address, not all interfaces",
    "B105": "read secrets from a variable declared under permissions.env",
    "B106": "read secrets from a variable declared under permissions.env",
    "B107": "read secrets from a variable declared under permissions.env",
    "B108": "use tempfile (the worker's TMPDIR is its private work dir)",
    "B110": "handle or log the exception instead of passing silently",
    "B112": "handle or log the exception instead of continuing silently",
    "B113": "pass timeout= to every request",
    "B301": "never unpickle data you did not produce; use JSON",
    "B302": "never unmarshal data you did not produce; use JSON",
    "B307": "use ast.literal_eval or a parser, not eval",
    "B310": "validate the URL scheme (https only) before urlopen",
    "B311": "use the secrets module for anything security-relevant",
    "B324": "use hashlib.sha256, or pass usedforsecurity=False for non-security hashes",
    "B403": "prefer JSON to pickle for data you exchange",
    "B404": "declare subprocess: true in plugin.yaml, or remove the subprocess import",
    "B501": "keep TLS certificate verification on",
    "B506": "use yaml.safe_load",
    "B602": "pass a list of arguments and drop shell=True",
    "B603": "pass only trusted, validated arguments to the subprocess",
    "B605": "use subprocess with a list of arguments instead of a shell",
    "B607": "call executables by absolute path",
    "B608": "use parameterised queries",
    "B613": "remove the bidirectional control characters from the source",
    "B614": "use torch.load(..., weights_only=True)",
}


def scan_code(source: PluginSource) -> list[Finding]:
    """Bandit's findings and the files it could not read, sorted by file, line and id."""
    by_path = {str(source.root / rel): rel for rel in source.python_files}
    with _LOCK, _bandit_errors() as errors:
        manager = b_manager.BanditManager(_config(), "file", quiet=True, ignore_nosec=True)
        paths = list(by_path)
        for start in range(0, len(paths), BATCH_SIZE):
            manager.files_list = paths[start : start + BATCH_SIZE]
            manager.run_tests()
        issues: list[Any] = list(manager.results)
        skipped: list[tuple[str, str]] = manager.get_skipped()
    findings = [_issue_finding(issue, by_path.get(issue.fname, issue.fname)) for issue in issues]
    findings += [_unparsable(source.root, by_path.get(path, path), why) for path, why in skipped]
    findings += _error_findings(errors, by_path)
    return sorted(findings, key=lambda f: (f.file or "", f.line or 0, f.id))


@functools.cache
def _config() -> Any:
    # No config file: bandit's defaults run every test, and nothing the plugin ships is read.
    return b_config.BanditConfig()


def bandit_severity(severity: str, confidence: str) -> Severity:
    """The gate's severity for a bandit issue (the table in this module's docstring)."""
    low_confidence = confidence in ("LOW", "UNDEFINED")
    return _SEVERITY.get((severity, low_confidence), Severity.NOTE)


def _issue_finding(issue: Any, rel: str) -> Finding:
    severity = bandit_severity(issue.severity, issue.confidence)
    fix = _FIXES.get(issue.test_id, "review the code at this line")
    return Finding(
        id=f"bandit:{issue.test_id}",
        scanner=SCANNER,
        severity=severity,
        message=(
            f"{rel}:{issue.lineno}: {issue.text} ({issue.test_id} {issue.test}; "
            f"bandit severity {issue.severity}, confidence {issue.confidence})"
        ),
        hint=f"{fix}; see {b_docs.get_url(issue.test_id)}",
        file=rel,
        line=issue.lineno,
    )


def _unparsable(root: Path, rel: str, why: str) -> Finding:
    line: int | None = None
    try:
        ast.parse((root / rel).read_bytes(), filename=rel)
    except SyntaxError as exc:
        line, why = exc.lineno, f"{exc.msg}"
    except (ValueError, OSError) as exc:
        why = str(exc)
    except RecursionError:
        why = "nested too deeply to parse"
    where = f"{rel}:{line}" if line else rel
    return Finding(
        id="code:unparsable",
        scanner="code",
        severity=Severity.ERROR,
        message=f"{where}: bandit cannot read this file ({why}); code the gate cannot read "
        "is code it has not checked, so admission is blocked",
        hint="make the file valid Python for the interpreter the worker runs, or remove it",
        file=rel,
        line=line,
    )


def _error_findings(errors: list[re.Match[str]], by_path: dict[str, str]) -> list[Finding]:
    """One finding per check and file; a check that crashes once usually crashes on every node."""
    lines: dict[tuple[str, str], list[int]] = {}
    for match in errors:
        rel = by_path.get(match["file"], match["file"])
        lines.setdefault((rel, match["test"]), []).append(int(match["line"]))
    findings = []
    for (rel, test), found in lines.items():
        first, *rest = sorted(set(found))
        more = f"; also at {len(rest)} more line(s)" if rest else ""
        findings.append(
            Finding(
                id="code:bandit-error",
                scanner="code",
                severity=Severity.ERROR,
                message=f"{rel}:{first}: bandit's check {test} crashed on this file, so the "
                f"file was not fully checked{more}",
                hint="simplify the code at this line, or have an operator review the file and "
                "waive code:bandit-error",
                file=rel,
                line=first or None,
            )
        )
    return findings


class _Collector(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.matches: list[re.Match[str]] = []

    def emit(self, record: logging.LogRecord) -> None:
        match = _INTERNAL_ERROR.search(record.getMessage())
        if match:
            self.matches.append(match)


@contextmanager
def _bandit_errors() -> Iterator[list[re.Match[str]]]:
    """Bandit logs, and otherwise swallows, a check that raised; collect those."""
    logger = logging.getLogger("bandit.core.tester")
    collector = _Collector()
    logger.addHandler(collector)
    try:
        yield collector.matches
    finally:
        logger.removeHandler(collector)
