"""Dials whatever it is asked to, so tests see which targets its resolved grant lets through."""

import errno
import socket
from typing import Any


class Dial:
    def execute(self, params: dict[str, Any]) -> dict[str, Any]:
        try:
            socket.create_connection((params["host"], params["port"]), timeout=2).close()
        except OSError as exc:
            return {"connect": errno.errorcode.get(exc.errno or 0, str(exc))}
        return {"connect": "connected"}


class EndpointDialerPlugin:
    def __init__(self, manifest: dict[str, Any]) -> None:
        self.manifest = manifest

    def create_tool(self, name: str) -> Any:
        return Dial()
