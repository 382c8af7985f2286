"""Every process here runs as root, so without capabilities the uid check alone would let the
worker signal them all: Landlock's signal scope (ABI 6) is what confines signals to the
plugin's own sandbox."""

import ctypes
import errno
import os
from typing import Any

LIBC = ctypes.CDLL(None, use_errno=True)
SYS_PIDFD_SEND_SIGNAL = 424


class SignalProcess:
    def execute(self, params: dict[str, Any]) -> dict[str, Any]:
        try:
            os.kill(params["pid"], params["signal"])
        except OSError as exc:
            if exc.errno is None:  # the audit hook's Denial: let the caller read it
                raise
            return {"errno": errno.errorcode[exc.errno]}
        return {"kill": "sent"}


class SignalProcessRaw:
    def execute(self, params: dict[str, Any]) -> dict[str, Any]:
        pid, signum = params["pid"], params["signal"]
        results = {}
        ctypes.set_errno(0)
        sent = LIBC.kill(pid, signum)
        results["kill"] = errno.errorcode[ctypes.get_errno()] if sent < 0 else "sent"
        pidfd = os.pidfd_open(pid)
        try:
            ctypes.set_errno(0)
            sent = LIBC.syscall(SYS_PIDFD_SEND_SIGNAL, pidfd, signum, None, 0)
            results["pidfd_send_signal"] = (
                errno.errorcode[ctypes.get_errno()] if sent < 0 else "sent"
            )
        finally:
            os.close(pidfd)
        return results


class Ping:
    async def execute(self, params: dict[str, Any]) -> dict[str, Any]:
        return {"pid": os.getpid()}


class SupervisorSignalerPlugin:
    def __init__(self, manifest: dict[str, Any]) -> None:
        self.manifest = manifest

    def create_tool(self, name: str) -> Any:
        return {
            "signal_process": SignalProcess,
            "signal_process_raw": SignalProcessRaw,
            "supervisor_signaler_ping": Ping,
        }[name]()
