"""Waivers: an operator accepts named findings of a named plugin, with a reason, an approver and
an expiry. Expired waivers stop applying and say so, so an acceptance cannot silently outlive
the review that granted it.

File format (``waivers.yaml``)::

    waivers:
      - plugin: system
        finding: "bandit:B404"          # a finding id, or a glob over ids ("capability:env:*")
        reason: psutil needs no subprocess; the import is for a type hint only
        approver: alice@example.com
        expires: 2027-06-30             # a date; the waiver stops applying after that day
"""

from __future__ import annotations

import datetime as dt
import fnmatch
from pathlib import Path
from typing import Any, Final

import msgspec

from runtime.errors import ConfigError
from runtime.manifest.yamlfile import YamlProblem, read_yaml_mapping

__all__ = ["Waiver", "WaiverError", "Waivers", "load_waivers"]

WAIVER_KEYS: Final = frozenset({"plugin", "finding", "reason", "approver", "expires"})


class WaiverError(ConfigError):
    def __init__(self, path: Path, field: str, reason: str) -> None:
        self.path, self.field, self.reason = path, field, reason
        where = f"{path}: {field}" if field else str(path)
        super().__init__(f"waiver file {where}: {reason}")


class Waiver(msgspec.Struct, frozen=True):
    plugin: str
    finding: str
    reason: str
    approver: str
    expires: dt.date

    def matches(self, plugin: str, finding_id: str) -> bool:
        return self.plugin == plugin and fnmatch.fnmatchcase(finding_id, self.finding)

    def expired(self, today: dt.date) -> bool:
        return today > self.expires

    def describe(self) -> str:
        return f"{self.approver} until {self.expires.isoformat()}: {self.reason}"


class Waivers(msgspec.Struct, frozen=True):
    entries: tuple[Waiver, ...] = ()
    source: str = ""

    def for_plugin(self, plugin: str) -> tuple[Waiver, ...]:
        return tuple(w for w in self.entries if w.plugin == plugin)


def load_waivers(path: Path) -> Waivers:
    """Read and strictly validate a waiver file; raises ``WaiverError`` naming the field."""
    try:
        data = read_yaml_mapping(path)
    except YamlProblem as exc:
        raise WaiverError(path, "", str(exc)) from exc
    unknown = set(data) - {"waivers"}
    if unknown:
        raise WaiverError(path, sorted(unknown)[0], "unknown key; allowed: waivers")
    items = data.get("waivers") or []
    if not isinstance(items, list):
        raise WaiverError(path, "waivers", "must be a list")
    return Waivers(tuple(_waiver(item, i, path) for i, item in enumerate(items)), str(path))


def _waiver(item: Any, index: int, path: Path) -> Waiver:
    where = f"waivers[{index}]"
    if not isinstance(item, dict):
        raise WaiverError(path, where, "must be a mapping")
    for key in item:
        if key not in WAIVER_KEYS:
            raise WaiverError(
                path, f"{where}.{key}", f"unknown key; allowed: {', '.join(sorted(WAIVER_KEYS))}"
            )
    values: dict[str, str] = {}
    for key in ("plugin", "finding", "reason", "approver"):
        value = item.get(key)
        if not isinstance(value, str) or not value.strip():
            raise WaiverError(path, f"{where}.{key}", "is required and must be non-empty text")
        values[key] = value.strip()
    expires = item.get("expires")
    if isinstance(expires, str):
        try:
            expires = dt.date.fromisoformat(expires)
        except ValueError:
            expires = None
    if not isinstance(expires, dt.date) or isinstance(expires, dt.datetime):
        raise WaiverError(path, f"{where}.expires", "is required: a date such as 2027-06-30")
    return Waiver(expires=expires, **values)
