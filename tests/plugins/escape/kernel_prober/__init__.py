"""Each call here opens a large kernel attack surface (io_uring, eBPF, perf events, userfaultfd,
keyrings) or acts on the machine itself (modules, kexec). Arguments are chosen so that nothing
would happen even if a call got through; what matters is seccomp's EPERM before that."""

import ctypes
import errno
import os
from typing import Any

LIBC = ctypes.CDLL(None, use_errno=True)
# <linux/personality.h>
READ_IMPLIES_EXEC = 0x0400000
# <linux/keyctl.h>
KEYCTL_GET_KEYRING_ID = 0
KEY_SPEC_SESSION_KEYRING = -3
IO_URING_PARAMS_SIZE = 120
PERF_ATTR_SIZE = 128
# <asm/unistd_64.h>: name -> (number, arguments)
CALLS = {
    "io_uring_setup": (425, (4, ctypes.create_string_buffer(IO_URING_PARAMS_SIZE))),
    "bpf": (321, (0, None, 0)),
    "perf_event_open": (298, (ctypes.create_string_buffer(PERF_ATTR_SIZE), 0, -1, -1, 0)),
    "userfaultfd": (323, (0,)),
    "keyctl": (250, (KEYCTL_GET_KEYRING_ID, KEY_SPEC_SESSION_KEYRING, 0)),
    "add_key": (248, (b"user", b"hydrogen", None, 0, KEY_SPEC_SESSION_KEYRING)),
    "finit_module": (313, (-1, b"", 0)),
    "kexec_file_load": (320, (-1, -1, 0, None, 0)),
    "personality": (135, (READ_IMPLIES_EXEC,)),
}


class ProbeKernel:
    def execute(self, params: dict[str, Any]) -> dict[str, Any]:
        results = {}
        for name, (number, args) in CALLS.items():
            ctypes.set_errno(0)
            result = LIBC.syscall(number, *args)
            results[name] = errno.errorcode[ctypes.get_errno()] if result < 0 else "done"
        return results


class Ping:
    async def execute(self, params: dict[str, Any]) -> dict[str, Any]:
        return {"pid": os.getpid()}


class KernelProberPlugin:
    def __init__(self, manifest: dict[str, Any]) -> None:
        self.manifest = manifest

    def create_tool(self, name: str) -> Any:
        return {"probe_kernel": ProbeKernel, "kernel_prober_ping": Ping}[name]()
