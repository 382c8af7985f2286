"""``${VAR}`` and ``${VAR:-default}`` in permission and grant entries, resolved from an environment.

Addresses and data directories are deployment facts: the operator sets them, usually in
environment variables, and a plugin or profile refers to them instead of hard-coding them.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Final

__all__ = ["UnresolvedReference", "has_unresolvable", "substitute"]

REFERENCE: Final = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")


class UnresolvedReference(ValueError):
    """A reference that cannot be resolved; the message says what to set or declare."""


def substitute(
    entry: str,
    environ: Mapping[str, str],
    may_reference: Callable[[str], bool] = lambda name: True,
) -> str:
    """``entry`` with every reference replaced; ``UnresolvedReference`` names a bad one."""

    def one(match: re.Match[str]) -> str:
        name, default = match.group(1), match.group(2)
        if not may_reference(name):
            raise UnresolvedReference(
                f"references ${{{name}}}, which is not declared; add {name} to permissions.env"
            )
        if name in environ:
            return environ[name]
        if default is not None:
            return default
        raise UnresolvedReference(
            f"${{{name}}} is not set in the supervisor's environment; "
            f"set it or write ${{{name}:-default}}"
        )

    return REFERENCE.sub(one, entry)


def has_unresolvable(entry: str, may_reference: Callable[[str], bool]) -> bool:
    """Check the names in ``entry``; True when one has no default (its value is unknown until
    the environment is). Raises ``UnresolvedReference`` for an undeclared name."""
    found = list(REFERENCE.finditer(entry))
    substitute(entry, {m.group(1): "" for m in found}, may_reference)
    return any(m.group(2) is None for m in found)
