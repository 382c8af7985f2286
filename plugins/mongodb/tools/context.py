"""What every tool of one worker shares: the settings, the client pool and the call deadline."""

from __future__ import annotations

from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import Any

from .client import Client, ClientPool, server_errors
from .errors import InvalidArgumentError
from .settings import Settings

__all__ = ["ToolContext", "reject_unknown"]


@dataclass(frozen=True)
class ToolContext:
    settings: Settings
    pool: ClientPool

    def client(self) -> Client:
        """Call inside ``server_call``: waits for a usable server, briefly."""
        return self.pool.reachable()

    def server_call(self, tool: str, action: str) -> AbstractContextManager[None]:
        """Server round trips of one call of ``tool``, under its deadline, errors translated."""
        return server_errors(self.settings, self.settings.budget(tool), action)


def reject_unknown(params: dict[str, Any], properties: dict[str, Any]) -> None:
    """The supervisor's schema check already refuses these; in-process callers get it here."""
    unknown = sorted(set(params) - set(properties))
    if unknown:
        raise InvalidArgumentError(
            unknown[0], "is not a parameter of this tool", f"use {', '.join(sorted(properties))}"
        )
