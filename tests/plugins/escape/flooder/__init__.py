"""Floods every channel the supervisor reads from: stdout and stderr (both drained into the
plugin's log, with a per-line cap), and log records (protocol notifications)."""

import logging
import os
from typing import Any

MIB = 1 << 20
LINE = b"x" * 1023 + b"\n"
ENDLESS = b"y" * MIB
RECORD = "z" * 1024
CRASH_STATUS = 9
log = logging.getLogger("flooder")


def write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]


class FloodStdio:
    def execute(self, params: dict[str, Any]) -> dict[str, Any]:
        lines = LINE * (MIB // len(LINE))
        half = params["mib"] // 2
        for _ in range(half):
            write_all(1, lines)
            write_all(2, lines)
        # No newline at all: the drain must not buffer an endless line.
        for _ in range(params["mib"] - half):
            write_all(2, ENDLESS)
        write_all(2, b"\n")
        return {"stdout_mib": half, "stderr_mib": params["mib"]}


class FloodLogs:
    def execute(self, params: dict[str, Any]) -> dict[str, Any]:
        for _ in range(params["count"]):
            log.info(RECORD)
        return {"records": params["count"]}


class FloodThenCrash:
    def execute(self, params: dict[str, Any]) -> dict[str, Any]:
        for _ in range(params["mib"]):
            write_all(2, ENDLESS)
        os._exit(CRASH_STATUS)


class Ping:
    async def execute(self, params: dict[str, Any]) -> dict[str, Any]:
        return {"pid": os.getpid()}


class FlooderPlugin:
    def __init__(self, manifest: dict[str, Any]) -> None:
        self.manifest = manifest

    def create_tool(self, name: str) -> Any:
        return {
            "flood_stdio": FloodStdio,
            "flood_logs": FloodLogs,
            "flood_then_crash": FloodThenCrash,
            "flooder_ping": Ping,
        }[name]()
