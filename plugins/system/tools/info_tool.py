"""``system_info``: what this host and interpreter are, for diagnostics and bug reports.

Environment variables are summarised, never echoed: values such as tokens and passwords end up
in logs and transcripts once a tool returns them.
"""

from __future__ import annotations

import os
import platform
import re
import socket
import sys
from datetime import UTC, datetime
from importlib import metadata
from typing import Any, Final

import psutil

__all__ = ["SystemInfoTool"]

# PEP 503 normalisation, so "typing_extensions" and "typing-extensions" count as one.
_NAME_SEPARATORS: Final = re.compile(r"[-_.]+")


class SystemInfoTool:
    name: Final = "system_info"
    description: Final = (
        "Operating system, Python interpreter, installed packages and hardware summary."
    )

    def get_schema(self) -> dict[str, Any]:
        return {
            "type": "object",
            "properties": {
                "include_packages": {
                    "type": "boolean", "default": True,
                    "description": "List installed distributions with their versions.",
                },
                "package_filter": {
                    "type": "string",
                    "description": "Only packages whose name contains this (case-insensitive).",
                },
            },
            "additionalProperties": False,
        }  # fmt: skip

    def execute(self, params: dict[str, Any]) -> dict[str, Any]:
        """Sync because scanning installed distributions reads many files from disk."""
        params = params or {}
        unknown = set(params) - set(self.get_schema()["properties"])
        if unknown:
            raise ValueError(f"unknown parameter(s): {', '.join(sorted(unknown))}")
        include = params.get("include_packages", True)
        if not isinstance(include, bool):
            raise ValueError(f"include_packages must be true or false, got {include!r}")
        needle = params.get("package_filter")
        if needle is not None and not isinstance(needle, str):
            raise ValueError(f"package_filter must be a string, got {type(needle).__name__}")

        result: dict[str, Any] = {
            "os": _os_info(),
            "python": {
                "version": platform.python_version(),
                "implementation": platform.python_implementation(),
                "executable": sys.executable,
                "prefix": sys.prefix,
            },
            "environment": _environment(),
            "hardware": _hardware(),
        }
        if include:
            result["packages"] = _packages(needle)
        return result


def _os_info() -> dict[str, Any]:
    uname = platform.uname()
    return {
        "system": uname.system,
        "release": uname.release,
        "version": uname.version,
        "machine": uname.machine,
        "hostname": socket.gethostname(),
    }


def _environment() -> dict[str, Any]:
    path = os.environ.get("PATH", "")
    return {
        # The standard venv test: a venv's prefix differs from the interpreter it was made from.
        "in_virtualenv": sys.prefix != sys.base_prefix,
        "path_entries": len([entry for entry in path.split(os.pathsep) if entry]),
    }


def _packages(needle: str | None) -> list[dict[str, str]]:
    wanted = needle.lower() if needle else None
    found: dict[str, dict[str, str]] = {}
    for dist in metadata.distributions():
        name = dist.metadata["Name"]
        if not name:
            # A half-removed install leaves metadata without a name; nothing useful to report.
            continue
        key = _NAME_SEPARATORS.sub("-", name).lower()
        # The first distribution on sys.path wins, matching what `import` would load.
        if key in found or (wanted is not None and wanted not in name.lower()):
            continue
        found[key] = {"name": name, "version": dist.version}
    return sorted(found.values(), key=lambda p: p["name"].lower())


def _hardware() -> dict[str, Any]:
    try:
        freq = psutil.cpu_freq()
    except (OSError, NotImplementedError):
        # Virtual machines and containers often expose no frequency; null says "unknown".
        freq = None
    return {
        "cpu_count_logical": psutil.cpu_count(logical=True),
        "cpu_count_physical": psutil.cpu_count(logical=False),
        "cpu_freq_mhz": round(freq.current, 1) if freq else None,
        "memory_total": psutil.virtual_memory().total,
        "boot_time": datetime.fromtimestamp(psutil.boot_time(), UTC).isoformat(),
    }
