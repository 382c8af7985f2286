"""Every error the rag plugin raises, in one tree; each message names its subject and the fix.

    RagError                      root
    +-- InputError (ValueError)   a tool parameter is wrong: names the field (``documents[2].text``)
    +-- ConfigError (ValueError)  plugin.yaml ``configuration`` is wrong: names the key
    +-- NotReadyError             the embedding model is still loading, or failed to load
    +-- ModelError                the model cannot be found or does not match the configuration
    +-- StoreError                the vector store refused an operation
    |   +-- StoreLockedError      another process holds the embedded store's write-ahead log
    +-- ProviderError             the AI provider could not answer (the caller gets an extractive
                                  answer instead, with this error's text)

The worker reports a raised error as ``ToolFailedError`` with the class name as its type, so
callers see ``InputError: documents[2].text: ...``. Errors of Qdrant, torch and HTTP are
translated into these where they are called, with ``raise ... from exc``.
"""

from __future__ import annotations

__all__ = [
    "ConfigError",
    "InputError",
    "ModelError",
    "NotReadyError",
    "ProviderError",
    "RagError",
    "StoreError",
    "StoreLockedError",
]


class RagError(Exception):
    """Root of the plugin's errors."""


class InputError(RagError, ValueError):
    """A tool parameter is wrong; the message starts with the field."""

    def __init__(self, field: str, reason: str) -> None:
        self.field = field
        self.reason = reason
        super().__init__(f"{field}: {reason}")


class ConfigError(RagError, ValueError):
    """A ``configuration`` key of plugin.yaml is wrong; the message starts with the key."""

    def __init__(self, field: str, reason: str) -> None:
        self.field = field
        self.reason = reason
        super().__init__(f"configuration.{field}: {reason}")


class NotReadyError(RagError):
    """The embedding model is not loaded (yet); the message says whether to wait or to fix."""


class ModelError(RagError):
    """The embedding model is missing or does not fit the configuration."""


class StoreError(RagError):
    """The vector store refused an operation."""


class StoreLockedError(StoreError):
    """Another process has the embedded store open (Qdrant Edge allows one per directory)."""


class ProviderError(RagError):
    """The OpenAI-compatible endpoint failed or answered something unusable."""
