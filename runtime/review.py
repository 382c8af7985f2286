"""``hydrogen review PATH...``: the admission gate as a command, for reviewers and CI.

Exit status: 0 every plugin admitted (possibly with warnings), 1 at least one refused, 2 the gate
itself could not decide (a broken manifest, a check that failed to run). ``--fail-on warning``
makes warnings refuse too.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Final

import msgspec
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn
from rich.table import Table

from runtime.gate.findings import Severity
from runtime.gate.gate import Gate
from runtime.gate.sarif import to_sarif
from runtime.gate.verdict import Decision, Verdict
from runtime.manifest.discovery import discover

__all__ = ["EXIT_ADMIT", "EXIT_GATE_ERROR", "EXIT_REFUSE", "review_paths"]

EXIT_ADMIT: Final = 0
EXIT_REFUSE: Final = 1
EXIT_GATE_ERROR: Final = 2
_STYLE: Final = {
    Decision.ADMIT: "[green]admit[/green]",
    Decision.ADMIT_WITH_WARNINGS: "[yellow]admit with warnings[/yellow]",
    Decision.REFUSE: "[red]refuse[/red]",
}


def review_paths(
    paths: list[Path], gate: Gate, *, output_format: str, out: Console, err: Console
) -> int:
    found = discover(paths)
    verdicts: list[Verdict] = []
    with Progress(
        TextColumn("reviewing {task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        console=err,
        transient=True,
        disable=not err.is_terminal,
    ) as progress:
        task = progress.add_task("plugins", total=len(found.manifests))
        for manifest in found.manifests:
            progress.update(task, description=manifest.name)
            verdicts.append(gate.review_sync(manifest))
            progress.advance(task)
    problems = [str(p) for p in found.problems]
    if output_format == "sarif":
        out.file.write(json.dumps(to_sarif(verdicts), indent=2) + "\n")
    elif output_format == "json":
        payload = {"verdicts": msgspec.to_builtins(verdicts), "problems": problems}
        out.file.write(json.dumps(payload, indent=2) + "\n")
    else:
        _print_tables(verdicts, out)
    for problem in problems:
        err.print(f"[red]cannot review:[/red] {problem}")
    if problems or any(v.gate_error for v in verdicts):
        return EXIT_GATE_ERROR
    if not verdicts and not problems:
        err.print(f"[red]no plugin.yaml found under:[/red] {', '.join(map(str, paths))}")
        return EXIT_GATE_ERROR
    if any(v.decision == Decision.REFUSE for v in verdicts):
        return EXIT_REFUSE
    return EXIT_ADMIT


def _print_tables(verdicts: list[Verdict], out: Console) -> None:
    summary = Table("plugin", "version", "verdict", "findings", "time", title="Security gate")
    for v in verdicts:
        timing = f"{v.duration_ms:.0f} ms" + (" (cached)" if v.cached else "")
        summary.add_row(v.plugin, v.version, _STYLE[v.decision], v.summary(), timing)
    out.print(summary)
    for v in verdicts:
        # Notes are information, not decisions: counted in the summary, listed in json/sarif.
        shown = [f for f in v.findings if f.severity != Severity.NOTE or f.waived_by]
        if not shown:
            continue
        table = Table("id", "severity", "where", "finding", "fix", title=f"{v.plugin}: {v.path}")
        for f in shown:
            where = f"{f.file}:{f.line}" if f.file and f.line else (f.file or "plugin.yaml")
            severity = f"waived ({f.waived_by})" if f.waived_by else str(f.severity)
            table.add_row(f.id, severity, where, f.message, f.hint)
        out.print(table)
