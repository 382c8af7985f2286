"""Plugin log records (logger ``hydrogen.plugin.<name>``) as MCP ``notifications/message``.

The handler formats a record into one notification and hands it to ``send``, which must be
thread-safe: records may be emitted from any thread.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Final

from runtime.mcp.protocol import OutgoingNotification, encode, mcp_level

__all__ = ["DEFAULT_LEVEL", "PLUGIN_LOGGER", "McpLogHandler"]

PLUGIN_LOGGER: Final = "hydrogen.plugin"
# Forwarded until the client calls logging/setLevel.
DEFAULT_LEVEL: Final = logging.WARNING


class McpLogHandler(logging.Handler):
    """Forwards records at or above its level, once ``enabled`` (after the client's initialized)."""

    def __init__(self, send: Callable[[bytes], None]) -> None:
        super().__init__(DEFAULT_LEVEL)
        self._send = send
        self.enabled = False

    def emit(self, record: logging.LogRecord) -> None:
        if not self.enabled:
            return
        try:
            plugin = getattr(record, "plugin", None) or record.name.removeprefix(
                PLUGIN_LOGGER + "."
            )
            message = OutgoingNotification(
                "notifications/message",
                {
                    "level": mcp_level(record.levelno),
                    "logger": str(plugin),
                    "data": record.getMessage(),
                },
            )
            self._send(encode(message))
        except Exception:
            self.handleError(record)

    def set_threshold(self, python_level: int) -> None:
        """Forward records at or above ``python_level``; the plugin loggers must create them."""
        self.setLevel(python_level)
        logger = logging.getLogger(PLUGIN_LOGGER)
        if logger.getEffectiveLevel() > python_level:
            logger.setLevel(python_level)
