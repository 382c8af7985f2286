"""What the HTTP front end needs from the Supervisor beyond its public API, read in one place.

The result cache answers some calls without ``Supervisor.call``, yet those answers must obey
the caller policy and reach the audit log exactly as a call would; and it needs each tool's
``cache_ttl`` and its plugin's code revision on every call, cheaply. The Supervisor does not
expose these yet, so this module reads its internals, and nothing else in ``runtime.http``
does. Every read tolerates the attribute being absent (the supervisor is changing for hot
reload), and docs/http.md lists the public hooks that would let this module go away.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

import msgspec

from runtime.errors import HydrogenError
from runtime.host.supervisor import Supervisor
from runtime.manifest.model import NO_CACHE
from runtime.manifest.variables import resolve_configuration

__all__ = ["Route", "SupervisorView"]

log = logging.getLogger("hydrogen.http")


class Route(msgspec.Struct, frozen=True):
    """Where a tool's calls go: its plugin, that plugin's code revision, its cache TTL."""

    plugin: str
    revision: str
    cache_ttl: float


class SupervisorView:
    def __init__(self, supervisor: Supervisor) -> None:
        self._sup = supervisor

    def route(self, tool: str) -> Route | None:
        runtime = getattr(self._sup, "_routes", {}).get(tool)
        if runtime is None:
            return None
        manifest = runtime.manifest
        entry = manifest.tool(tool)
        # The digest of the plugin's files when the supervisor keeps one (a reload of changed
        # code gets a new one); the manifest's version otherwise.
        revision = getattr(runtime, "digest", "") or f"version:{manifest.version}"
        return Route(
            plugin=runtime.name,
            revision=revision,
            cache_ttl=getattr(entry, "cache_ttl", NO_CACHE) if entry is not None else NO_CACHE,
        )

    def role_of(self, caller: str | None) -> str | None:
        """The role a call by ``caller`` runs as (the policy's default for None)."""
        policy = getattr(self._sup, "_policy", None)
        return policy.role_for(caller) if policy is not None else caller

    def defined_roles(self) -> frozenset[str] | None:
        """The policy's roles; None without a policy (any role name is then just a label)."""
        policy = getattr(self._sup, "_policy", None)
        return frozenset(policy.roles) if policy is not None else None

    def permits(self, role: str | None, tool: str, plugin: str) -> bool:
        policy = getattr(self._sup, "_policy", None)
        return policy is None or bool(policy.permits(role, tool, plugin))

    def audit_cache_hit(
        self,
        *,
        started_at: float,
        duration: float,
        role: str | None,
        tool: str,
        plugin: str,
        params: Mapping[str, Any],
    ) -> None:
        """One audit line for a call answered from the cache: outcome ok, no worker ran."""
        audit = getattr(self._sup, "_audit", None)
        if audit is None:
            return
        audit.record_call(
            started_at=started_at,
            duration=duration,
            caller=role,
            tool=tool,
            plugin=plugin,
            params=params,
            outcome="ok",
            error=None,
            pid=None,
            cpu_ns=None,
        )

    def plugin_configuration(self, plugin: str) -> dict[str, Any] | None:
        """A plugin's ``configuration`` with ``${VAR}`` resolved; None if absent or broken."""
        runtime = getattr(self._sup, "_plugins", {}).get(plugin)
        if runtime is None:
            return None
        try:
            return resolve_configuration(runtime.manifest, getattr(self._sup, "_environ", {}))
        except HydrogenError as exc:
            log.warning("cannot read the configuration of plugin %r: %s", plugin, exc)
            return None
