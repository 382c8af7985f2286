"""Find plugin.yaml files under the plugin directories and validate each one independently."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

import msgspec

from runtime.errors import ManifestError
from runtime.manifest.loader import MANIFEST_FILENAME, load_manifest
from runtime.manifest.model import Manifest

__all__ = ["Discovery", "discover"]


class Discovery(msgspec.Struct, frozen=True):
    manifests: tuple[Manifest, ...]
    # Every problem found; a plugin with problems is absent from ``manifests``, nothing else is.
    problems: tuple[ManifestError, ...]


def _candidates(directory: Path) -> list[Path]:
    """A directory is either one plugin (holds plugin.yaml) or a folder of plugin folders."""
    own = directory / MANIFEST_FILENAME
    if own.is_file():
        return [own]
    return sorted(p for p in directory.glob(f"*/{MANIFEST_FILENAME}") if p.is_file())


def discover(plugin_dirs: Iterable[Path | str]) -> Discovery:
    manifests: dict[str, Manifest] = {}
    problems: list[ManifestError] = []
    for raw_dir in plugin_dirs:
        directory = Path(raw_dir).resolve()
        if not directory.is_dir():
            problems.append(ManifestError(directory, "", "plugin directory does not exist"))
            continue
        for path in _candidates(directory):
            manifest, found = load_manifest(path)
            problems.extend(found)
            if manifest is None:
                continue
            if not (manifest.root / "__init__.py").is_file():
                problems.append(
                    ManifestError(
                        path,
                        "class",
                        f"the plugin folder has no __init__.py exposing {manifest.class_name!r}",
                        f"create {manifest.root / '__init__.py'}",
                    )
                )
                continue
            clash = manifests.get(manifest.name)
            if clash is not None:
                problems.append(
                    ManifestError(
                        path,
                        "name",
                        f"plugin name {manifest.name!r} is also used by {clash.path}",
                        "plugin names must be unique across all plugin directories",
                    )
                )
                continue
            manifests[manifest.name] = manifest
    return Discovery(tuple(manifests.values()), tuple(problems))
