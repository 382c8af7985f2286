"""Every error the mongodb plugin raises, in one tree.

    MongoPluginError                  root
    +-- InvalidArgumentError          a parameter or configuration value is wrong: ``field`` names
    |   |                             it and the message says how to fix it (also a ValueError)
    |   +-- CollectionNotFoundError   the named collection does not exist
    +-- ServerUnreachableError        no server answered in time; names the URI, never credentials
    +-- OperationTimeoutError         the server did not finish within the call's budget
    +-- ServerCommandError            the server refused a command: ``code`` and ``code_name``

pymongo's exceptions become these in exactly one place, ``tools.client.server_errors``. The worker
reports the class name as the caller's ``ToolFailedError.error_type``.
"""

from __future__ import annotations

__all__ = [
    "CollectionNotFoundError",
    "InvalidArgumentError",
    "MongoPluginError",
    "OperationTimeoutError",
    "ServerCommandError",
    "ServerUnreachableError",
]


class MongoPluginError(Exception):
    """Root of every error this plugin raises on purpose."""


class InvalidArgumentError(MongoPluginError, ValueError):
    """``field`` is wrong; the message starts with the field and ends with the fix."""

    def __init__(self, field: str, problem: str, fix: str = "") -> None:
        self.field = field
        self.problem = problem
        self.fix = fix
        super().__init__(f"{field}: {problem}" + (f"; {fix}" if fix else ""))


class CollectionNotFoundError(InvalidArgumentError):
    pass


class ServerUnreachableError(MongoPluginError, ConnectionError):
    pass


class OperationTimeoutError(MongoPluginError, TimeoutError):
    pass


class ServerCommandError(MongoPluginError):
    def __init__(self, message: str, *, code: int | None, code_name: str | None) -> None:
        self.code = code
        self.code_name = code_name
        super().__init__(message)
