"""A private, read-only copy of a plugin's folder for each version the supervisor runs.

Workers import from the copy, never from the folder an operator edits. That is what makes hot
reload exact: the gate reviews the very files the worker will import; a worker that imports a
module lazily, minutes later, still gets its own version's file; and an edit in progress (half a
file saved) can never reach a running worker, only the next reviewed version.
"""

from __future__ import annotations

import os
import shutil
import stat
from pathlib import Path
from typing import Final

from runtime.errors import ManifestError
from runtime.gate.cache import IGNORED_DIRS

__all__ = ["MAX_SNAPSHOT_BYTES", "MAX_SNAPSHOT_FILES", "snapshot_plugin"]

# A plugin folder is code and small data; models and corpora belong in granted data paths.
MAX_SNAPSHOT_BYTES: Final = 256 * 1024 * 1024
MAX_SNAPSHOT_FILES: Final = 10_000
_WRITE_BITS: Final = stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH


def snapshot_plugin(source: Path, destination: Path) -> None:
    """Copy ``source`` (a plugin folder) to ``destination`` (which must not exist), read-only.

    Symlinks are copied as links: what they point to is still subject to the sandbox's grants.
    Raises ``ManifestError`` naming the folder when it is too large or cannot be read.
    """
    manifest = source / "plugin.yaml"
    _check_size(source, manifest)
    try:
        # The same folders the version digest skips (caches, VCS data), so an unchanged plugin
        # has the same digest in its folder and in its snapshot.
        shutil.copytree(
            source, destination, symlinks=True, ignore=shutil.ignore_patterns(*IGNORED_DIRS)
        )
    except (OSError, shutil.Error) as exc:
        shutil.rmtree(destination, ignore_errors=True)
        raise ManifestError(manifest, "", f"cannot copy the plugin folder {source}: {exc}") from exc
    _make_read_only(destination)


def _check_size(source: Path, manifest: Path) -> None:
    files = total = 0
    for directory, dirnames, filenames in os.walk(source):
        dirnames[:] = [d for d in dirnames if d not in IGNORED_DIRS]
        for name in filenames:
            files += 1
            try:
                total += os.lstat(os.path.join(directory, name)).st_size
            except OSError:
                continue  # gone meanwhile; copytree reports what it cannot copy
            if files > MAX_SNAPSHOT_FILES or total > MAX_SNAPSHOT_BYTES:
                raise ManifestError(
                    manifest,
                    "",
                    f"the plugin folder {source} holds more than {MAX_SNAPSHOT_FILES} files or "
                    f"{MAX_SNAPSHOT_BYTES // (1024 * 1024)} MiB",
                    "keep models and data outside it, in a path granted under "
                    "permissions.filesystem",
                )


def _make_read_only(root: Path) -> None:
    """Belt and braces: Landlock already makes the plugin's code read-only in its worker."""
    for directory, _dirnames, filenames in os.walk(root):
        for name in filenames:
            path = os.path.join(directory, name)
            if not os.path.islink(path):
                os.chmod(path, os.lstat(path).st_mode & ~_WRITE_BITS)
