"""Disarms the CPU limit's warning shot: ignores SIGXCPU and raises its soft RLIMIT_CPU to the
hard limit (allowed without privileges). Only the hard limit's SIGKILL is left to stop it."""

import os
import resource
import signal
from typing import Any

# At import, on the main thread, after the worker applied its limits.
signal.signal(signal.SIGXCPU, signal.SIG_IGN)
_, HARD = resource.getrlimit(resource.RLIMIT_CPU)
resource.setrlimit(resource.RLIMIT_CPU, (HARD, HARD))


class SpinStubbornly:
    def execute(self, params: dict[str, Any]) -> dict[str, Any]:
        n = 0
        while True:
            n += 1


class CpuLimits:
    async def execute(self, params: dict[str, Any]) -> dict[str, Any]:
        soft, hard = resource.getrlimit(resource.RLIMIT_CPU)
        return {
            "soft": soft,
            "hard": hard,
            "sigxcpu_ignored": signal.getsignal(signal.SIGXCPU) == signal.SIG_IGN,
        }


class Ping:
    async def execute(self, params: dict[str, Any]) -> dict[str, Any]:
        return {"pid": os.getpid()}


class CpuStubbornPlugin:
    def __init__(self, manifest: dict[str, Any]) -> None:
        self.manifest = manifest

    def create_tool(self, name: str) -> Any:
        return {
            "spin_stubbornly": SpinStubbornly,
            "cpu_limits": CpuLimits,
            "cpu_stubborn_ping": Ping,
        }[name]()
