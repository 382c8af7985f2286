"""Resolve ``${VAR}`` and ``${VAR:-default}`` references in a plugin's configuration.

Only variables the plugin declares under ``permissions.env`` may be referenced: a manifest must
not be able to read the operator's secrets just by naming them.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any, Final

from runtime.errors import ManifestError
from runtime.manifest.model import Manifest

__all__ = ["resolve_configuration"]

_REFERENCE: Final = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")


def resolve_configuration(manifest: Manifest, environ: Mapping[str, str]) -> dict[str, Any]:
    """Return the whole manifest mapping with every reference in ``configuration`` replaced."""
    allowed = set(manifest.permissions.env)

    def substitute(value: Any, field: str) -> Any:
        if isinstance(value, str):
            return _substitute_text(value, field)
        if isinstance(value, dict):
            return {k: substitute(v, f"{field}.{k}") for k, v in value.items()}
        if isinstance(value, list):
            return [substitute(v, f"{field}[{i}]") for i, v in enumerate(value)]
        return value

    def _substitute_text(text: str, field: str) -> str:
        def one(match: re.Match[str]) -> str:
            var, default = match.group(1), match.group(2)
            if var not in allowed:
                raise ManifestError(
                    manifest.path,
                    field,
                    f"references ${{{var}}}, which is not declared",
                    f"add {var} to permissions.env",
                )
            if var in environ:
                return environ[var]
            if default is not None:
                return default
            raise ManifestError(
                manifest.path,
                field,
                f"${{{var}}} is not set in the environment",
                f"set {var} or write ${{{var}:-default}}",
            )

        return _REFERENCE.sub(one, text)

    resolved = dict(manifest.raw)
    resolved["configuration"] = substitute(manifest.raw.get("configuration") or {}, "configuration")
    return resolved
