"""Scan results cached by what could change them, so an unchanged plugin is not re-scanned.

The key is a SHA-256 over: every file of the plugin folder (path and content), the versions of
Hydrogen's gate rules, bandit and pip-audit, the scan configuration, and the advisory database
revision. Only raw findings are stored; waivers and the fail-on policy are applied on every
lookup (``runtime.gate.verdict``), because a waiver's expiry depends on the day.

Entries are JSON files written atomically (write to a temporary name, then rename), so a crash
mid-write leaves no half entry; an unreadable entry is treated as a miss.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import tempfile
from collections.abc import Iterable
from importlib import metadata
from pathlib import Path
from typing import Final

import msgspec

from runtime.gate.findings import Finding

__all__ = [
    "GATE_RULES_VERSION",
    "ScanCache",
    "default_cache_dir",
    "plugin_digest",
    "write_atomically",
]

# Bump when a scanner's rules change, so old results stop being reused.
GATE_RULES_VERSION: Final = "1"
CACHE_ENV: Final = "HYDROGEN_GATE_CACHE"
# Files that never change a verdict and churn constantly.
IGNORED_DIRS: Final = frozenset({"__pycache__", ".git", ".mypy_cache", ".ruff_cache"})

_entry_decoder = msgspec.json.Decoder(list[Finding])


def default_cache_dir() -> Path:
    configured = os.environ.get(CACHE_ENV)
    if configured:
        return Path(configured)
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "hydrogen" / "gate"


def plugin_digest(root: Path) -> str:
    """SHA-256 over every file's relative path and bytes, in a stable order."""
    digest = hashlib.sha256()
    for path in sorted(_files(root)):
        digest.update(str(path.relative_to(root)).encode() + b"\0")
        digest.update(path.read_bytes())
        digest.update(b"\0")
    return digest.hexdigest()


def _files(root: Path) -> Iterable[Path]:
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = [d for d in dirnames if d not in IGNORED_DIRS]
        for name in filenames:
            yield Path(dirpath) / name


def _tool_versions() -> str:
    versions = [f"rules={GATE_RULES_VERSION}"]
    for dist in ("bandit", "pip-audit", "hydrogen-runtime"):
        try:
            versions.append(f"{dist}={metadata.version(dist)}")
        except metadata.PackageNotFoundError:
            versions.append(f"{dist}=absent")
    return ",".join(versions)


class ScanCache:
    def __init__(self, directory: Path | None = None) -> None:
        self.directory = directory or default_cache_dir()
        self._versions = _tool_versions()

    def key(self, root: Path, *, config: str, advisory_revision: str) -> str:
        digest = hashlib.sha256()
        for part in (plugin_digest(root), self._versions, config, advisory_revision):
            digest.update(part.encode() + b"\0")
        return digest.hexdigest()

    def derived_key(self, kind: str, data: bytes, *, advisory_revision: str) -> str:
        """A key for one check's findings computed from ``data`` alone (not the whole plugin)."""
        digest = hashlib.sha256()
        for part in (kind.encode(), data, self._versions.encode(), advisory_revision.encode()):
            digest.update(part + b"\0")
        return digest.hexdigest()

    def get(self, key: str) -> list[Finding] | None:
        try:
            return _entry_decoder.decode((self.directory / f"{key}.json").read_bytes())
        except (OSError, msgspec.DecodeError, msgspec.ValidationError):
            return None

    def put(self, key: str, findings: list[Finding]) -> None:
        # A cache that cannot be written only costs a re-scan next time.
        write_atomically(self.directory / f"{key}.json", msgspec.json.encode(findings))


def write_atomically(path: Path, data: bytes) -> bool:
    """Write ``data`` to ``path`` via a temporary file and a rename, so a reader never sees half
    of it and a crash leaves no partial file. False (and no temporary file) when it fails."""
    tmp: str | None = None
    try:
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}-")
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        os.replace(tmp, path)
        return True
    except OSError:
        if tmp is not None:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
        return False
