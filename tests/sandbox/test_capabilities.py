"""After ``drop_all`` a uid-0 child holds no capability: every privileged call answers EPERM."""

from __future__ import annotations

import ctypes
import os
import signal
import subprocess
import threading
from pathlib import Path
from typing import Any, Final

import pytest

from runtime.errors import SandboxError
from runtime.sandbox.capabilities import current, drop_all
from runtime.sandbox.probe import LayerSupport
from tests.sandbox.conftest import OTHER_UID
from tests.sandbox.support import attempt, in_child

pytestmark = pytest.mark.sandbox

# <linux/sched.h>, <sys/mount.h>, <linux/ptrace.h>
CLONE_NEWNS: Final = 0x00020000
CLONE_NEWNET: Final = 0x40000000
MS_REC: Final = 0x4000
MS_PRIVATE: Final = 1 << 18
PTRACE_ATTACH: Final = 16
OWNER_ONLY: Final = 0o600

libc = ctypes.CDLL(None, use_errno=True)


def call(name: str, *args: object) -> None:
    """A libc call that raises OSError with its errno, like the os module would."""
    ctypes.set_errno(0)
    if getattr(libc, name)(*args) != 0:
        err = ctypes.get_errno()
        raise OSError(err, os.strerror(err))


def mount_tmpfs(target: Path) -> None:
    call("mount", b"none", str(target).encode(), b"tmpfs", 0, None)


@pytest.fixture(autouse=True)
def _need_capabilities(layers: LayerSupport) -> None:
    if not layers.capabilities:
        pytest.skip(f"capabilities cannot be dropped here: {layers.problems}")
    if not layers.root:
        pytest.skip("these prove what uid 0 loses; the tests run as another user")


def test_uid_0_without_capabilities_cannot_mount_unshare_setns_or_chroot(tmp_path: Path) -> None:
    def body() -> dict[str, Any]:
        # Controls, still privileged: a private mount namespace so a mount that wrongly
        # succeeded later could never reach the host, and a way back to the host's network.
        host_net = os.open("/proc/self/ns/net", os.O_RDONLY | os.O_CLOEXEC)
        before = {
            "unshare": attempt(lambda: call("unshare", CLONE_NEWNS | CLONE_NEWNET)),
            "make mounts private": attempt(
                lambda: call("mount", None, b"/", None, MS_REC | MS_PRIVATE, None)
            ),
        }
        drop_all()
        sets = current()
        return {
            "before": before,
            "sets": [sets.effective, sets.permitted, sets.inheritable, sets.bounding],
            "mount": attempt(lambda: mount_tmpfs(tmp_path)),
            "unshare": attempt(lambda: call("unshare", CLONE_NEWNS)),
            "setns back to the host network": attempt(
                lambda: call("setns", host_net, CLONE_NEWNET)
            ),
            "chroot": attempt(lambda: os.chroot("/")),
            "no_new_privs": "NoNewPrivs:\t1" in Path("/proc/self/status").read_text(),
        }

    assert in_child(body) == {
        "before": {"unshare": "ok", "make mounts private": "ok"},
        "sets": [0, 0, 0, 0],
        "mount": "EPERM",
        "unshare": "EPERM",
        "setns back to the host network": "EPERM",
        "chroot": "EPERM",
        "no_new_privs": True,
    }


def test_uid_0_without_capabilities_cannot_touch_another_users_process_or_file(
    other_user_target: subprocess.Popen[bytes], tmp_path: Path
) -> None:
    private = tmp_path / "private.txt"
    private.write_text("nobody's")
    os.chown(private, OTHER_UID, OTHER_UID)
    private.chmod(OWNER_ONLY)
    pid = other_user_target.pid

    def body() -> dict[str, Any]:
        before = {
            "signal": attempt(lambda: os.kill(pid, 0)),
            "read": attempt(private.read_text),
        }
        drop_all()
        return {
            "before": before,
            "SIGTERM": attempt(lambda: os.kill(pid, signal.SIGTERM)),
            "ptrace": attempt(lambda: call("ptrace", PTRACE_ATTACH, pid, None, None)),
            "read": attempt(private.read_text),
        }

    assert in_child(body) == {
        "before": {"signal": "ok", "read": "ok"},
        "SIGTERM": "EPERM",
        "ptrace": "EPERM",
        "read": "EACCES",
    }
    assert other_user_target.poll() is None


def test_drop_all_twice_is_harmless() -> None:
    def body() -> dict[str, Any]:
        drop_all()
        return {"second": attempt(drop_all), "effective": current().effective}

    assert in_child(body) == {"second": "ok", "effective": 0}


def test_drop_all_refuses_a_process_that_already_has_threads() -> None:
    def body() -> dict[str, Any]:
        release = threading.Event()
        thread = threading.Thread(target=release.wait)
        thread.start()
        try:
            drop_all()
        except SandboxError as exc:
            return {"layer": exc.layer, "still privileged": current().effective != 0}
        finally:
            release.set()
            thread.join()
        return {"raised": False}

    assert in_child(body) == {"layer": "capabilities", "still privileged": True}
