"""Hydrogen: a sandboxed subprocess plugin runtime. The public API is exactly ``__all__``."""

from typing import TYPE_CHECKING, Any

from runtime.errors import (
    CallError,
    ConfigError,
    DuplicateToolError,
    HydrogenError,
    InvalidParamsError,
    ManifestError,
    PermissionDeniedError,
    PluginBusyError,
    PluginCrashedError,
    PluginStartError,
    PluginUnavailableError,
    PolicyError,
    ProfileError,
    ProtocolError,
    ToolFailedError,
    ToolNotFoundError,
    ToolTimeoutError,
)

if TYPE_CHECKING:
    from runtime.host.supervisor import Supervisor, ToolInfo


def __getattr__(name: str) -> Any:
    # The supervisor (jsonschema, psutil, the host package) loads on first use, not on import:
    # every worker imports this package, and must not pay ~80 ms for a supervisor it never runs.
    if name in ("Supervisor", "ToolInfo"):
        from runtime.host import supervisor

        return getattr(supervisor, name)
    raise AttributeError(f"module 'runtime' has no attribute {name!r}")


__all__ = [
    "CallError",
    "ConfigError",
    "DuplicateToolError",
    "HydrogenError",
    "InvalidParamsError",
    "ManifestError",
    "PermissionDeniedError",
    "PluginBusyError",
    "PluginCrashedError",
    "PluginStartError",
    "PluginUnavailableError",
    "PolicyError",
    "ProfileError",
    "ProtocolError",
    "Supervisor",
    "ToolFailedError",
    "ToolInfo",
    "ToolNotFoundError",
    "ToolTimeoutError",
]
