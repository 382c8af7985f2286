"""OSV advisory records as typed structs, and whether one affects a given package version.

Only the fields the dependency audit and pip-audit read are kept (id, aliases, text, dates,
``affected``); everything else in a record (references, credits, severity vectors) is dropped on
decode. No I/O here: ``runtime.gate.advisories`` reads files, ``runtime.gate.osv_server`` serves.

Version matching follows the OSV schema for the PyPI ecosystem: a version is affected when it is
listed in ``affected[].versions`` or falls inside an ``ECOSYSTEM`` range, evaluated by walking the
sorted ``introduced`` / ``fixed`` / ``last_affected`` events (``limit`` caps the range). Versions
compare with ``packaging`` (PEP 440). An event version that is not PEP 440 cannot be placed, so it
is read in the direction that reports more, never less: an unreadable ``introduced`` counts as
``"0"``, an unreadable ``fixed``, ``last_affected`` or ``limit`` is ignored.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Final

import msgspec
from packaging.utils import canonicalize_name
from packaging.version import InvalidVersion, Version

__all__ = ["PYPI", "Advisory", "Affected", "Event", "Package", "Range", "parse_version"]

PYPI: Final = "PyPI"
# The one range type whose events are package versions (GIT ranges name commits).
ECOSYSTEM_RANGE: Final = "ECOSYSTEM"


class Package(msgspec.Struct, frozen=True, omit_defaults=True):
    name: str
    ecosystem: str
    purl: str | None = None


class Event(msgspec.Struct, frozen=True, omit_defaults=True):
    introduced: str | None = None
    fixed: str | None = None
    last_affected: str | None = None
    limit: str | None = None


class Range(msgspec.Struct, frozen=True, omit_defaults=True):
    type: str
    events: tuple[Event, ...] = ()
    repo: str | None = None


class Affected(msgspec.Struct, frozen=True, omit_defaults=True):
    package: Package
    ranges: tuple[Range, ...] = ()
    versions: tuple[str, ...] = ()

    def is_pypi(self, canonical_name: str) -> bool:
        return (
            self.package.ecosystem == PYPI
            and canonicalize_name(self.package.name) == canonical_name
        )

    def affects(self, version: Version) -> bool:
        if any(_same_version(listed, version) for listed in self.versions):
            return True
        return any(
            _range_affects(r.events, version) for r in self.ranges if r.type == ECOSYSTEM_RANGE
        )

    def fixed_versions(self) -> list[str]:
        return [
            e.fixed
            for r in self.ranges
            if r.type == ECOSYSTEM_RANGE
            for e in r.events
            if e.fixed is not None
        ]


class Advisory(msgspec.Struct, frozen=True, omit_defaults=True):
    id: str
    modified: str | None = None
    published: str | None = None
    withdrawn: str | None = None
    aliases: tuple[str, ...] = ()
    summary: str | None = None
    details: str | None = None
    affected: tuple[Affected, ...] = ()
    schema_version: str | None = None

    def pypi_names(self) -> set[str]:
        """Canonical (PEP 503) names of the PyPI packages this advisory is about."""
        return {
            canonicalize_name(a.package.name) for a in self.affected if a.package.ecosystem == PYPI
        }

    def affects(self, canonical_name: str, version: Version) -> bool:
        """True if ``version`` of PyPI package ``canonical_name`` is affected (not withdrawn)."""
        if self.withdrawn is not None:
            return False
        return any(a.affects(version) for a in self.affected if a.is_pypi(canonical_name))


@lru_cache(maxsize=65536)
def parse_version(text: str) -> Version | None:
    """The PEP 440 version ``text`` names, or None when it is not one."""
    try:
        return Version(text)
    except InvalidVersion:
        return None


def _same_version(listed: str, version: Version) -> bool:
    parsed = parse_version(listed)
    return parsed == version if parsed is not None else listed == str(version)


# Sort order of events at one version: a range that opens and closes there is empty.
_INTRODUCED, _FIXED, _LAST_AFFECTED = 0, 1, 2


def _range_affects(events: tuple[Event, ...], version: Version) -> bool:
    # (opens from the very beginning, at, kind); "0" sorts below every version, even 0.dev0.
    points: list[tuple[bool, Version | None, int]] = []
    for event in events:
        if event.limit is not None:
            limit = parse_version(event.limit)
            if limit is not None and version >= limit:
                return False
        if event.introduced is not None:
            start = None if event.introduced == "0" else parse_version(event.introduced)
            points.append((start is None, start, _INTRODUCED))
        for kind, text in ((_FIXED, event.fixed), (_LAST_AFFECTED, event.last_affected)):
            end = parse_version(text) if text is not None else None
            if end is not None:
                points.append((False, end, kind))
    points.sort(key=lambda p: (not p[0], p[1] if p[1] is not None else _ZERO, p[2]))

    affected = False
    for _, at, kind in points:
        reached = at is None or version >= at
        if kind == _INTRODUCED:
            affected = affected or reached
        elif kind == _FIXED:
            affected = affected and not reached
        elif at is not None and version > at:
            affected = False
    return affected


_ZERO: Final = Version("0")
