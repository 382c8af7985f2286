"""A private, empty network namespace for the current process: ``network: none``.

The new namespace holds only a loopback device, left down, so every socket family that routes
(TCP, UDP, raw, IPv4 and IPv6) fails with ENETUNREACH or EADDRNOTAVAIL, and no service on the
host's loopback is reachable. Abstract UNIX sockets are per namespace too, so the host's are
gone; path-based UNIX sockets are files and stay reachable (Landlock and seccomp cover those).
"""

from __future__ import annotations

import ctypes
import os
from typing import Final

from runtime.errors import SandboxError
from runtime.sandbox._libc import libc, require_single_thread
from runtime.sandbox.capabilities import current

__all__ = ["isolate_network", "netns_supported"]

LAYER: Final = "netns"

# <linux/sched.h>
CLONE_NEWNET: Final = 0x40000000
# <linux/capability.h>: unshare(CLONE_NEWNET) needs it in the owning user namespace.
CAP_SYS_ADMIN: Final = 21
NETNS_LINK: Final = "/proc/self/ns/net"


def netns_supported() -> bool:
    """Cheap static check: the kernel has network namespaces and we hold CAP_SYS_ADMIN.

    ``runtime.sandbox.probe`` proves it by unsharing in a throwaway child.
    """
    return os.path.exists(NETNS_LINK) and bool(current().effective >> CAP_SYS_ADMIN & 1)


def isolate_network() -> None:
    """Move this process into a new network namespace; irreversible. Raises ``SandboxError``."""
    require_single_thread(LAYER)
    ctypes.set_errno(0)
    if libc.unshare(CLONE_NEWNET) != 0:
        raise SandboxError(LAYER, "unshare(CLONE_NEWNET) failed", errno=ctypes.get_errno())
