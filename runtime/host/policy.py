"""Caller permissions: which roles may call which tools, read strictly from one YAML file.

    default_role: operator          # role of callers that name none; omit to deny them
    roles:
      operator: {allow: ["*"]}
      analyst: {allow: ["rag_*", "plugin:system"], deny: ["rag_delete_*"]}

A pattern is a shell glob (``fnmatch``, case-sensitive) over tool names; ``plugin:GLOB``
matches every tool of the plugins whose name matches GLOB. A tool is callable when some
``allow`` pattern matches it and no ``deny`` pattern does: deny wins. A role that is not
defined may call nothing. With no policy at all, the supervisor lets every caller call every
tool (the embedded, single-tenant default).
"""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Final

from runtime.errors import PermissionDeniedError, PolicyError
from runtime.manifest.yamlfile import YamlProblem, read_yaml_mapping

__all__ = ["PLUGIN_PREFIX", "Policy", "Role", "load_policy"]

PLUGIN_PREFIX: Final = "plugin:"
POLICY_KEYS: Final = frozenset({"default_role", "roles"})
ROLE_KEYS: Final = frozenset({"allow", "deny"})
# Decisions are cached per (role, tool, plugin); the set is bounded by roles x tools, but a
# caller-chosen tool name must not grow it without limit.
MAX_CACHED_DECISIONS: Final = 4096
_NOTHING: Final = re.compile(r"(?!)")


class _Patterns:
    """One list of globs, split into a tool matcher and a plugin matcher."""

    __slots__ = ("globs", "plugins", "tools")

    def __init__(self, globs: Iterable[str]) -> None:
        self.globs = tuple(globs)
        tools = [g for g in self.globs if not g.startswith(PLUGIN_PREFIX)]
        plugins = [g[len(PLUGIN_PREFIX) :] for g in self.globs if g.startswith(PLUGIN_PREFIX)]
        self.tools = _compile(tools)
        self.plugins = _compile(plugins)

    def matches(self, tool: str, plugin: str) -> bool:
        return self.tools.match(tool) is not None or self.plugins.match(plugin) is not None

    def first_match(self, tool: str, plugin: str) -> str | None:
        for glob in self.globs:
            if glob.startswith(PLUGIN_PREFIX):
                if fnmatch.fnmatchcase(plugin, glob[len(PLUGIN_PREFIX) :]):
                    return glob
            elif fnmatch.fnmatchcase(tool, glob):
                return glob
        return None


def _compile(globs: list[str]) -> re.Pattern[str]:
    if not globs:
        return _NOTHING
    return re.compile("|".join(f"(?:{fnmatch.translate(g)})" for g in globs))


class Role:
    """What one role may call: ``allow`` and ``deny`` glob lists."""

    __slots__ = ("allow", "deny")

    def __init__(self, allow: Iterable[str] = (), deny: Iterable[str] = ()) -> None:
        self.allow = _Patterns(allow)
        self.deny = _Patterns(deny)

    def __repr__(self) -> str:
        return f"Role(allow={list(self.allow.globs)!r}, deny={list(self.deny.globs)!r})"


class Policy:
    """Immutable caller policy. ``source`` names where it came from, for denial messages."""

    def __init__(
        self,
        roles: Mapping[str, Role],
        *,
        default_role: str | None = None,
        source: Path | str | None = None,
    ) -> None:
        self.source = str(source) if source is not None else "the policy given to Supervisor"
        if default_role is not None and default_role not in roles:
            raise PolicyError(self.source, "default_role", f"{default_role!r} is not a role")
        self.roles = dict(roles)
        self.default_role = default_role
        self._allowed: set[tuple[str, str, str]] = set()

    def role_for(self, caller: str | None) -> str | None:
        """The role a call runs as: the caller's own, else ``default_role`` (may be None)."""
        return self.default_role if caller is None else caller

    def check(self, role: str | None, tool: str, plugin: str) -> None:
        """Return if ``role`` may call ``tool`` of ``plugin``; else raise PermissionDeniedError.

        ``role`` None means a caller that named no role; ``default_role`` applies to it.
        """
        name = self.default_role if role is None else role
        if name is not None and (name, tool, plugin) in self._allowed:
            return
        self._decide(name, tool, plugin)
        assert name is not None  # _decide raised otherwise
        if len(self._allowed) >= MAX_CACHED_DECISIONS:
            self._allowed.clear()
        self._allowed.add((name, tool, plugin))

    def permits(self, role: str | None, tool: str, plugin: str) -> bool:
        try:
            self.check(role, tool, plugin)
        except PermissionDeniedError:
            return False
        return True

    def _decide(self, name: str | None, tool: str, plugin: str) -> None:
        def deny(reason: str, key: str) -> PermissionDeniedError:
            return PermissionDeniedError(
                tool=tool, plugin=plugin, role=name, reason=reason, source=self.source, key=key
            )

        if name is None:
            raise deny(
                "the caller names no role and the policy sets no default_role", "default_role"
            )
        role = self.roles.get(name)
        if role is None:
            defined = ", ".join(sorted(self.roles)) or "none"
            raise deny(f"role {name!r} is not defined (defined roles: {defined})", f"roles.{name}")
        denied_by = role.deny.first_match(tool, plugin)
        if denied_by is not None:
            raise deny(
                f"{denied_by!r} in roles.{name}.deny matches it, and deny wins over allow",
                f"roles.{name}.deny",
            )
        if not role.allow.matches(tool, plugin):
            raise deny(
                f"no pattern in roles.{name}.allow matches it "
                f"(such as {tool!r} or '{PLUGIN_PREFIX}{plugin}')",
                f"roles.{name}.allow",
            )


def load_policy(path: Path | str) -> Policy:
    """Read and validate a policy file; raises ``PolicyError`` naming the first bad field."""
    path = Path(path)
    try:
        data = read_yaml_mapping(path)
    except YamlProblem as exc:
        raise PolicyError(path, "", str(exc)) from exc
    for key in data:
        if key not in POLICY_KEYS:
            raise PolicyError(
                path, key, "unknown key", f"allowed: {', '.join(sorted(POLICY_KEYS))}"
            )
    raw_roles = data.get("roles")
    if not isinstance(raw_roles, dict) or not raw_roles:
        raise PolicyError(
            path, "roles", "must be a mapping of role name to {allow: [...], deny: [...]}"
        )
    roles = {}
    for name, spec in raw_roles.items():
        if not isinstance(name, str) or not name.strip():
            raise PolicyError(path, f"roles.{name!r}", "a role name must be a non-empty string")
        roles[name] = _parse_role(path, name, spec)
    default_role = data.get("default_role")
    if default_role is not None:
        if not isinstance(default_role, str):
            raise PolicyError(path, "default_role", "must be a role name (a string)")
        if default_role not in roles:
            raise PolicyError(
                path,
                "default_role",
                f"{default_role!r} is not defined under roles",
                f"defined: {', '.join(sorted(roles))}",
            )
    return Policy(roles, default_role=default_role, source=path)


def _parse_role(path: Path, name: str, spec: object) -> Role:
    if spec is None:
        spec = {}
    if not isinstance(spec, dict):
        raise PolicyError(path, f"roles.{name}", "must be a mapping with allow and/or deny")
    for key in spec:
        if key not in ROLE_KEYS:
            raise PolicyError(
                path,
                f"roles.{name}.{key}",
                "unknown key",
                f"allowed: {', '.join(sorted(ROLE_KEYS))}",
            )
    return Role(
        allow=_parse_globs(path, f"roles.{name}.allow", spec.get("allow")),
        deny=_parse_globs(path, f"roles.{name}.deny", spec.get("deny")),
    )


def _parse_globs(path: Path, field: str, value: object) -> list[str]:
    if value is None:
        return []
    if not isinstance(value, list):
        raise PolicyError(path, field, "must be a list of tool globs or 'plugin:GLOB'")
    globs = []
    for index, glob in enumerate(value):
        where = f"{field}[{index}]"
        if not isinstance(glob, str) or not glob.strip():
            raise PolicyError(path, where, f"must be a non-empty string, got {glob!r}")
        if glob != glob.strip():
            raise PolicyError(path, where, f"{glob!r} has leading or trailing spaces")
        if glob.startswith(PLUGIN_PREFIX) and not glob[len(PLUGIN_PREFIX) :]:
            raise PolicyError(path, where, "'plugin:' needs a plugin name or glob after it")
        globs.append(glob)
    return globs
