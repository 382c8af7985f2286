"""What every check of the security gate reports: findings with an id, a severity and a fix.

Each scanner (bandit, the dependency audit, the capability scan, the heuristics) takes a
``PluginSource`` and returns a list of ``Finding``. The verdict, waivers, cache and report
formats only ever see this type, so a new scanner plugs in without touching them.

Ids are stable strings a waiver can name: ``<scanner>:<rule>`` plus, where one rule can fire on
several things, a discriminator (``deps:vulnerable:requests:PYSEC-2018-28``).
"""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path

import msgspec

from runtime.manifest.model import Manifest

__all__ = ["Finding", "PluginSource", "Severity"]


class Severity(StrEnum):
    """``error`` refuses admission, ``warning`` admits with warnings, ``note`` is information."""

    ERROR = "error"
    WARNING = "warning"
    NOTE = "note"


class Finding(msgspec.Struct, frozen=True, kw_only=True):
    id: str  # stable, waivable: "bandit:B102", "deps:unpinned:requests", "capability:network"
    scanner: str  # "bandit", "deps", "capability", "heuristics", "gate"
    severity: Severity
    message: str  # what is wrong, naming the thing (file, call, requirement)
    hint: str  # how to fix it: the permission key to add, the pin to use, ...
    file: str | None = None  # relative to the plugin folder
    line: int | None = None
    # Set by the verdict when a waiver accepted this finding.
    waived_by: str | None = None


class PluginSource(msgspec.Struct, frozen=True):
    """A plugin as the gate sees it: its folder, its manifest and its Python files."""

    root: Path
    manifest: Manifest
    # Paths relative to ``root``, sorted; every *.py file under the folder.
    python_files: tuple[str, ...]

    @classmethod
    def from_manifest(cls, manifest: Manifest) -> PluginSource:
        root = manifest.root
        files = sorted(
            str(p.relative_to(root))
            for p in root.rglob("*.py")
            if "__pycache__" not in p.parts and p.is_file()
        )
        return cls(root, manifest, tuple(files))
