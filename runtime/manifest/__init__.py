"""plugin.yaml: the typed model, the strict loader and discovery across plugin directories."""

from runtime.manifest.discovery import Discovery, discover
from runtime.manifest.loader import MANIFEST_FILENAME, load_manifest
from runtime.manifest.model import Manifest, Parameter, Permissions, ToolEntry
from runtime.manifest.variables import resolve_configuration

__all__ = [
    "MANIFEST_FILENAME",
    "Discovery",
    "Manifest",
    "Parameter",
    "Permissions",
    "ToolEntry",
    "discover",
    "load_manifest",
    "resolve_configuration",
]
