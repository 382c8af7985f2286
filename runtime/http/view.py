"""What the HTTP front end needs from the Supervisor besides calls, in the shapes it uses.

The result cache answers some calls without ``Supervisor.call``, yet those answers must obey
the caller policy and reach the audit log exactly as a call would; and it needs each tool's
``cache_ttl`` and its plugin's code revision on every call, cheaply.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

import msgspec

from runtime.errors import HydrogenError
from runtime.host.supervisor import Supervisor
from runtime.manifest.model import NO_CACHE

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
        runtime = self._sup.plugin_of(tool)
        if runtime is None:
            return None
        manifest = runtime.manifest
        entry = manifest.tool(tool)
        # The digest of the version's files (a reload of changed code gets a new one); the
        # manifest's version for a version that never got one (its admission failed).
        revision = runtime.digest or f"version:{manifest.version}"
        return Route(
            plugin=runtime.name,
            revision=revision,
            cache_ttl=entry.cache_ttl if entry is not None else NO_CACHE,
        )

    def role_of(self, caller: str | None) -> str | None:
        """The role a call by ``caller`` runs as (the policy's default for None)."""
        policy = self._sup.policy
        return policy.role_for(caller) if policy is not None else caller

    def defined_roles(self) -> frozenset[str] | None:
        """The policy's roles; None without a policy (any role name is then just a label)."""
        policy = self._sup.policy
        return frozenset(policy.roles) if policy is not None else None

    def permits(self, role: str | None, tool: str, plugin: str) -> bool:
        policy = self._sup.policy
        return policy is None or policy.permits(role, tool, plugin)

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
        audit = self._sup.audit_log
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
        try:
            return self._sup.plugin_configuration(plugin)
        except HydrogenError as exc:
            log.warning("cannot read the configuration of plugin %r: %s", plugin, exc)
            return None
