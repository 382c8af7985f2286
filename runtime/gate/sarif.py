"""Verdicts as SARIF 2.1.0, the format GitHub code scanning and most CI dashboards ingest.

One run for the whole review (one tool, ``hydrogen-gate``); one rule per distinct finding id;
one result per finding, located at its file and line relative to the working directory so code
scanning can annotate the diff. Waived findings stay in the log as results with an external
suppression carrying the waiver's justification, which is how SARIF expresses "accepted".
"""

from __future__ import annotations

import os
from importlib import metadata
from pathlib import Path
from typing import Any, Final

from runtime.gate.findings import Finding, Severity
from runtime.gate.verdict import Verdict

__all__ = ["SARIF_SCHEMA_URI", "to_sarif"]

SARIF_VERSION: Final = "2.1.0"
SARIF_SCHEMA_URI: Final = "https://json.schemastore.org/sarif-2.1.0.json"
INFORMATION_URI: Final = "https://github.com/hydrogen-runtime/hydrogen"
_LEVELS: Final = {Severity.ERROR: "error", Severity.WARNING: "warning", Severity.NOTE: "note"}


def to_sarif(verdicts: list[Verdict], *, base: Path | None = None) -> dict[str, Any]:
    base = (base or Path.cwd()).resolve()
    rules: dict[str, dict[str, Any]] = {}
    results: list[dict[str, Any]] = []
    for verdict in verdicts:
        for finding in verdict.findings:
            rules.setdefault(finding.id, _rule(finding))
            results.append(_result(finding, verdict, base))
    try:
        version = metadata.version("hydrogen-runtime")
    except metadata.PackageNotFoundError:
        version = "0"
    return {
        "$schema": SARIF_SCHEMA_URI,
        "version": SARIF_VERSION,
        "runs": [
            {
                "tool": {
                    "driver": {
                        "name": "hydrogen-gate",
                        "version": version,
                        "informationUri": INFORMATION_URI,
                        "rules": list(rules.values()),
                    }
                },
                "results": results,
                "properties": {
                    "verdicts": {v.plugin: str(v.decision) for v in verdicts},
                },
            }
        ],
    }


def _rule(finding: Finding) -> dict[str, Any]:
    return {
        "id": finding.id,
        "name": finding.id.replace(":", "-"),
        "shortDescription": {"text": finding.message.split(";")[0][:200] or finding.id},
        "help": {"text": finding.hint or "see the finding's message"},
        "defaultConfiguration": {"level": _LEVELS[finding.severity]},
        "properties": {"scanner": finding.scanner},
    }


def _result(finding: Finding, verdict: Verdict, base: Path) -> dict[str, Any]:
    result: dict[str, Any] = {
        "ruleId": finding.id,
        "level": _LEVELS[finding.severity],
        "message": {"text": f"{finding.message} Fix: {finding.hint}".strip()},
        "locations": [_location(finding, verdict, base)],
        "properties": {"plugin": verdict.plugin, "decision": str(verdict.decision)},
    }
    if finding.waived_by is not None:
        result["suppressions"] = [{"kind": "external", "justification": finding.waived_by}]
    return result


def _location(finding: Finding, verdict: Verdict, base: Path) -> dict[str, Any]:
    target = Path(verdict.path) / (finding.file or "plugin.yaml")
    try:
        uri = Path(os.path.relpath(target.resolve(), base)).as_posix()
    except ValueError:
        uri = target.resolve().as_uri()
    physical: dict[str, Any] = {"artifactLocation": {"uri": uri}}
    if finding.line is not None and finding.line >= 1:
        physical["region"] = {"startLine": finding.line}
    return {"physicalLocation": physical}
