"""A plugin's declared requirements, read from plugin.yaml and its requirements.txt, as pins.

Both places are read and audited: ``requirements:`` in plugin.yaml (one requirement string per
item) and ``requirements.txt`` next to it (pip's format: comments, ``\\`` continuations,
``--hash`` options). Every requirement must be an exact pin, ``name==version`` (extras and
environment markers allowed; a marker never exempts a pin from the audit). Anything else is a
finding, because what would be installed is then not what was reviewed and cannot be audited:

- ``deps:unpinned:<name>``   a range, no version, a wildcard, ``===``, or a URL requirement
- ``deps:invalid:<text>``    not a PEP 508 requirement at all
- ``deps:option:<option>``   a pip option other than ``--hash`` (``-r``, ``-e``, an index URL...)
- ``deps:conflict:<name>``   one package pinned to two versions (both are still audited)

Names in ids are PEP 503 normalized (``Foo_Bar`` -> ``foo-bar``).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Final

import msgspec
from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import canonicalize_name
from packaging.version import InvalidVersion, Version

from runtime.gate.findings import Finding, PluginSource, Severity

__all__ = ["REQUIREMENTS_FILE", "Declared", "Pin", "read_requirements"]

REQUIREMENTS_FILE: Final = "requirements.txt"
# Options that change nothing about which files get installed.
HARMLESS_OPTIONS: Final = frozenset({"--require-hashes", "--only-binary", "--prefer-binary"})
# An option starts at whitespace followed by "-x" or "--x" (pip's own rule for trailing options).
_OPTION_SPLIT: Final = re.compile(r"\s+(?=--?[A-Za-z])")
_COMMENT: Final = re.compile(r"(^|\s)#.*$")


class Pin(msgspec.Struct, frozen=True):
    name: str  # PEP 503 normalized
    version: str  # as written after "=="
    text: str  # the requirement as written, without options
    file: str  # relative to the plugin folder
    line: int | None


class Declared(msgspec.Struct, frozen=True):
    pins: tuple[Pin, ...]
    # Every requirement name (pinned or not), PEP 503 normalized, with where it was declared.
    names: tuple[tuple[str, str, int | None], ...]
    findings: tuple[Finding, ...]


def read_requirements(source: PluginSource) -> Declared:
    reader = _Reader()
    manifest_file = _relative(source.manifest.path, source.root)
    for text in source.manifest.requirements:
        reader.entry(text, manifest_file, None)
    path = source.root / REQUIREMENTS_FILE
    if path.is_file():
        try:
            content = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            reader.invalid(REQUIREMENTS_FILE, REQUIREMENTS_FILE, None, f"cannot be read: {exc}")
        else:
            for line_no, text in _logical_lines(content):
                reader.entry(text, REQUIREMENTS_FILE, line_no)
    return Declared(tuple(reader.pins.values()), tuple(reader.names), tuple(reader.findings))


def _relative(path: Path, root: Path) -> str:
    try:
        return str(path.relative_to(root))
    except ValueError:
        return str(path)


def _logical_lines(content: str) -> list[tuple[int, str]]:
    """(first physical line number, text) per logical line, comments and continuations joined."""
    lines: list[tuple[int, str]] = []
    pending: list[str] = []
    start = 0
    for number, raw in enumerate(content.splitlines(), start=1):
        if not pending:
            start = number
        text = _COMMENT.sub("", raw).rstrip()
        if text.endswith("\\"):
            pending.append(text[:-1])
            continue
        pending.append(text)
        joined = " ".join(part.strip() for part in pending).strip()
        pending = []
        if joined:
            lines.append((start, joined))
    if pending and (joined := " ".join(p.strip() for p in pending).strip()):
        lines.append((start, joined))
    return lines


class _Reader:
    def __init__(self) -> None:
        # Keyed by (name, version): a repeated pin is audited once, a conflicting one too.
        self.pins: dict[tuple[str, str], Pin] = {}
        self._first: dict[str, Pin] = {}
        self.names: list[tuple[str, str, int | None]] = []
        self.findings: list[Finding] = []

    def entry(self, text: str, file: str, line: int | None) -> None:
        text = _COMMENT.sub("", text).strip()
        if not text:
            return
        requirement, *options = _OPTION_SPLIT.split(text)
        if requirement.startswith("-"):
            self._option(requirement, file, line)
            return
        for option in options:
            if not option.startswith("--hash"):
                self._option(option, file, line)
        try:
            parsed = Requirement(requirement)
        except InvalidRequirement as exc:
            self.invalid(requirement, file, line, f"is not a valid requirement: {exc}")
            return
        name = canonicalize_name(parsed.name)
        self.names.append((name, file, line))
        specs = list(parsed.specifier)
        exact = len(specs) == 1 and specs[0].operator == "==" and "*" not in specs[0].version
        if parsed.url is not None or not exact:
            why = "a URL requirement" if parsed.url is not None else "not an exact pin"
            self.findings.append(
                Finding(
                    id=f"deps:unpinned:{name}",
                    scanner="deps",
                    severity=Severity.ERROR,
                    message=(
                        f"requirement {requirement!r} is {why}: what gets installed is not "
                        f"what was reviewed, and it cannot be audited"
                    ),
                    hint=f"pin it: {name}==<version you tested>",
                    file=file,
                    line=line,
                )
            )
            return
        try:
            version = Version(specs[0].version)
        except InvalidVersion as exc:
            self.invalid(requirement, file, line, f"does not pin a PEP 440 version: {exc}")
            return
        pin = Pin(name, specs[0].version, requirement, file, line)
        first = self._first.setdefault(name, pin)
        key = (name, str(version))
        if key not in self.pins:
            self.pins[key] = pin
            if first is not pin:
                self._conflict(first, pin)

    def invalid(self, text: str, file: str, line: int | None, reason: str) -> None:
        self.findings.append(
            Finding(
                id=f"deps:invalid:{text}",
                scanner="deps",
                severity=Severity.ERROR,
                message=f"requirement {text!r} {reason}",
                hint="write it as name==version, e.g. requests==2.32.3",
                file=file,
                line=line,
            )
        )

    def _option(self, option: str, file: str, line: int | None) -> None:
        flag = option.split("=", 1)[0].split()[0]
        if flag in HARMLESS_OPTIONS:
            return
        self.findings.append(
            Finding(
                id=f"deps:option:{flag}",
                scanner="deps",
                severity=Severity.ERROR,
                message=(
                    f"pip option {option!r} is not allowed in a plugin's requirements: it can "
                    f"change what is installed or where from, and the gate cannot audit that"
                ),
                hint="list every requirement as name==version (optionally with --hash)",
                file=file,
                line=line,
            )
        )

    def _conflict(self, first: Pin, second: Pin) -> None:
        self.findings.append(
            Finding(
                id=f"deps:conflict:{first.name}",
                scanner="deps",
                severity=Severity.ERROR,
                message=(
                    f"{first.name} is pinned to {first.version} ({_where(first)}) and to "
                    f"{second.version} ({_where(second)}); only one of them can be installed"
                ),
                hint=f"keep one pin of {first.name}, the version you tested",
                file=second.file,
                line=second.line,
            )
        )


def _where(pin: Pin) -> str:
    return f"{pin.file} line {pin.line}" if pin.line is not None else pin.file
