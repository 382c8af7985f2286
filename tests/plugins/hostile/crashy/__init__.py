import ctypes
import os
import signal
from typing import Any


class ExitNow:
    def execute(self, params: dict[str, Any]) -> dict[str, Any]:
        os._exit(3)


class SigkillSelf:
    async def execute(self, params: dict[str, Any]) -> dict[str, Any]:
        os.kill(os.getpid(), signal.SIGKILL)
        return {}


class Segfault:
    def execute(self, params: dict[str, Any]) -> dict[str, Any]:
        ctypes.string_at(0)
        return {}


class Ping:
    async def execute(self, params: dict[str, Any]) -> dict[str, Any]:
        return {"pid": os.getpid()}


class CrashyPlugin:
    def __init__(self, manifest: dict[str, Any]) -> None:
        self.manifest = manifest

    def create_tool(self, name: str) -> Any:
        return {
            "exit_now": ExitNow,
            "sigkill_self": SigkillSelf,
            "segfault": Segfault,
            "crashy_ping": Ping,
        }[name]()
