"""The validated, typed form of a plugin.yaml. Built only by ``runtime.manifest.loader``."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Final

import msgspec

__all__ = [
    "DEFAULT_CLASS",
    "DEFAULT_MAX_IN_FLIGHT",
    "DEFAULT_MAX_QUEUED",
    "DEFAULT_PROFILE",
    "DEFAULT_TOOL_TIMEOUT",
    "NO_CACHE",
    "Concurrency",
    "Manifest",
    "Parameter",
    "Permissions",
    "ToolEntry",
]

DEFAULT_CLASS: Final = "Plugin"
DEFAULT_PROFILE: Final = "strict"
# Seconds. Long enough for a real query, short enough that a hung tool is noticed.
DEFAULT_TOOL_TIMEOUT: Final = 30.0
# Enough for 32-way fan-out from one caller with room to spare; queue absorbs short bursts.
DEFAULT_MAX_IN_FLIGHT: Final = 64
DEFAULT_MAX_QUEUED: Final = 256
# A tool's result is cached only when it declares a positive cache_ttl (seconds).
NO_CACHE: Final = 0.0


class Parameter(msgspec.Struct, frozen=True):
    """One entry of a tool's ``parameters:`` list in plugin.yaml."""

    name: str
    type: str = "string"
    required: bool = False
    default: Any = msgspec.UNSET
    description: str = ""
    enum: list[Any] | None = None


class ToolEntry(msgspec.Struct, frozen=True):
    name: str
    description: str = ""
    type: str = "function"
    timeout: float = DEFAULT_TOOL_TIMEOUT
    parameters: tuple[Parameter, ...] = ()
    # Seconds an identical call (same params, same caller role) may be answered from the
    # result cache; NO_CACHE for tools whose answer must always be fresh.
    cache_ttl: float = NO_CACHE


class Permissions(msgspec.Struct, frozen=True):
    """What a plugin declares it needs. Enforcement is the sandbox's job, not the manifest's."""

    fs_read: tuple[str, ...] = ()
    fs_write: tuple[str, ...] = ()
    # None means no network at all; otherwise "host:port" strings.
    network: tuple[str, ...] | None = None
    subprocess: bool = False
    # Path-based UNIX sockets the plugin connects to (Landlock cannot scope these; seccomp does).
    unix_sockets: tuple[str, ...] = ()
    env: tuple[str, ...] = ()


class Concurrency(msgspec.Struct, frozen=True):
    max_in_flight: int = DEFAULT_MAX_IN_FLIGHT
    max_queued: int = DEFAULT_MAX_QUEUED


class Manifest(msgspec.Struct, frozen=True):
    path: Path
    name: str
    version: str
    description: str
    class_name: str
    author: str
    category: str
    sandbox: str
    tools: tuple[ToolEntry, ...]
    enabled: bool
    auto_start: bool
    # The whole plugin.yaml as parsed; the plugin class is built with it.
    raw: dict[str, Any]
    requirements: tuple[str, ...] = ()
    permissions: Permissions = Permissions()
    concurrency: Concurrency = Concurrency()

    @property
    def root(self) -> Path:
        """The plugin's folder."""
        return self.path.parent

    def tool(self, name: str) -> ToolEntry | None:
        for entry in self.tools:
            if entry.name == name:
                return entry
        return None
