"""Requirement names one edit away from a popular PyPI package: the typosquatting check.

One edit is one Damerau-Levenshtein operation (insert, delete, substitute, or swap two adjacent
characters) on PEP 503 normalized names, so ``reqeusts``, ``requestss``, ``numpyy`` and
``python-datetuil`` are caught while ``Python_DateUtil`` (the same name) is not. The popular
names are ``popular_packages.txt`` next to this module; names under ``[known-legitimate]`` there
are real packages that happen to be one edit from a popular one. Popular names shorter than
``MIN_COMPARED_LENGTH`` are not compared: almost every short name has legitimate neighbours.
"""

from __future__ import annotations

from collections.abc import Iterable
from functools import cache
from importlib import resources
from typing import Final

from packaging.utils import canonicalize_name

from runtime.gate.findings import Finding, Severity

__all__ = ["MIN_COMPARED_LENGTH", "popular_packages", "resembles", "typosquat_findings"]

MIN_COMPARED_LENGTH: Final = 4
DATA_FILE: Final = "popular_packages.txt"
LEGITIMATE_SECTION: Final = "[known-legitimate]"


@cache
def _lists() -> tuple[frozenset[str], frozenset[str]]:
    popular: set[str] = set()
    legitimate: set[str] = set()
    target = popular
    text = resources.files("runtime.gate").joinpath(DATA_FILE).read_text(encoding="utf-8")
    for raw in text.splitlines():
        line = raw.split("#", 1)[0].strip()
        if line == LEGITIMATE_SECTION:
            target = legitimate
        elif line:
            target.add(canonicalize_name(line))
    return frozenset(popular), frozenset(legitimate)


def popular_packages() -> frozenset[str]:
    return _lists()[0]


def resembles(name: str) -> list[str]:
    """The popular packages ``name`` is one edit away from (empty if it is one of them)."""
    canonical = canonicalize_name(name)
    popular, legitimate = _lists()
    if canonical in popular or canonical in legitimate:
        return []
    return sorted(
        p for p in popular if len(p) >= MIN_COMPARED_LENGTH and _one_edit_apart(canonical, p)
    )


def typosquat_findings(names: Iterable[tuple[str, str, int | None]]) -> list[Finding]:
    """One finding per distinct requirement name ``(name, file, line)`` that resembles another."""
    findings: list[Finding] = []
    seen: set[str] = set()
    for name, file, line in names:
        canonical = canonicalize_name(name)
        if canonical in seen:
            continue
        seen.add(canonical)
        similar = resembles(canonical)
        if not similar:
            continue
        listed = " or ".join(similar)
        findings.append(
            Finding(
                id=f"deps:typosquat:{canonical}",
                scanner="deps",
                severity=Severity.ERROR,
                message=(
                    f"requirement {canonical!r} is one typo away from the popular package "
                    f"{listed}: a typosquatted name installs an attacker's code"
                ),
                hint=(
                    f"if you meant {listed}, require that instead; if {canonical} is really "
                    f"the package you want, waive this finding with the reason"
                ),
                file=file,
                line=line,
            )
        )
    return findings


def _one_edit_apart(a: str, b: str) -> bool:
    if a == b or abs(len(a) - len(b)) > 1:
        return False
    if len(a) == len(b):
        diff = [i for i, (x, y) in enumerate(zip(a, b, strict=True)) if x != y]
        if len(diff) == 1:
            return True
        i, j = diff[0], diff[-1]
        return len(diff) == 2 and j == i + 1 and a[i] == b[j] and a[j] == b[i]
    shorter, longer = (a, b) if len(a) < len(b) else (b, a)
    i = 0
    while i < len(shorter) and shorter[i] == longer[i]:
        i += 1
    return shorter[i:] == longer[i + 1 :]
