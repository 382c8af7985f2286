"""Landlock confines a child to its grants: exact errnos for files, links, exec, TCP, scopes."""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any
from unittest import mock

import pytest

from runtime.errors import SandboxError
from runtime.sandbox import landlock
from runtime.sandbox.landlock import (
    LandlockRules,
    abi_version,
    essential_execute_paths,
    essential_read_paths,
    essential_write_paths,
    restrict,
)
from runtime.sandbox.probe import LayerSupport
from tests.sandbox.support import attempt, in_child

pytestmark = pytest.mark.sandbox

SHADOW = "/etc/shadow"


@pytest.fixture(autouse=True)
def _need_landlock(layers: LayerSupport) -> None:
    if not layers.landlock:
        pytest.skip(f"Landlock cannot be enforced here: {layers.problems}")


def need_abi(abi: int, feature: str) -> None:
    if abi_version() < abi:
        pytest.skip(f"{feature} needs Landlock ABI {abi}, the kernel has {abi_version()}")


def rules(*, read: tuple[str, ...] = (), write: tuple[str, ...] = (), **kw: Any) -> LandlockRules:
    """What a worker keeps (the interpreter, /dev/null) plus the test's own grants."""
    return LandlockRules(
        read=(*essential_read_paths(), *read),
        write=(*essential_write_paths(), *write),
        **kw,
    )


class Tree:
    """ro/ granted for reading, rw/ for writing, outside/ not granted; all on one filesystem."""

    def __init__(self, root: Path) -> None:
        self.ro, self.rw, self.outside = root / "ro", root / "rw", root / "outside"
        for directory in (self.ro, self.rw, self.outside):
            directory.mkdir()
        self.ro_file = self.ro / "data.txt"
        self.ro_file.write_text("granted")
        self.secret = self.outside / "secret.txt"
        self.secret.write_text("not granted")

    def rules(self, **kw: Any) -> LandlockRules:
        return rules(read=(str(self.ro),), write=(str(self.rw),), **kw)


@pytest.fixture
def tree(tmp_path: Path) -> Tree:
    return Tree(tmp_path)


def read(path: Path | str) -> Callable[[], object]:
    return lambda: Path(path).read_bytes()


def write(path: Path | str, mode: str = "w") -> Callable[[], object]:
    def action() -> None:
        with open(path, mode) as f:
            f.write("x")

    return action


# ---- files --------------------------------------------------------------------------------


def test_reads_and_writes_outside_the_grants_are_denied_inside_allowed(tree: Tree) -> None:
    def body() -> dict[str, Any]:
        restrict(tree.rules())
        return {
            "shadow": attempt(read(SHADOW)),
            "read granted file": attempt(read(tree.ro_file)),
            "list granted dir": attempt(lambda: os.listdir(tree.ro)),
            "write read-only grant": attempt(write(tree.ro_file, "a")),
            "create in read-only grant": attempt(write(tree.ro / "new.txt")),
            "read outside": attempt(read(tree.secret)),
            "create outside": attempt(write(tree.outside / "new.txt")),
            "create in writable": attempt(write(tree.rw / "new.txt")),
            "mkdir in writable": attempt(lambda: (tree.rw / "sub").mkdir()),
            "rename in writable": attempt(lambda: (tree.rw / "new.txt").rename(tree.rw / "b")),
            "move across writable dirs": attempt(lambda: (tree.rw / "b").rename(tree.rw / "sub/b")),
            "remove in writable": attempt(lambda: (tree.rw / "sub/b").unlink()),
        }

    assert in_child(body) == {
        "shadow": "EACCES",
        "read granted file": "ok",
        "list granted dir": "ok",
        "write read-only grant": "EACCES",
        "create in read-only grant": "EACCES",
        "read outside": "EACCES",
        "create outside": "EACCES",
        "create in writable": "ok",
        "mkdir in writable": "ok",
        "rename in writable": "ok",
        "move across writable dirs": "ok",
        "remove in writable": "ok",
    }


def test_symlink_in_writable_dir_does_not_reach_its_target(tree: Tree) -> None:
    def body() -> dict[str, Any]:
        restrict(tree.rules())
        return {
            "make link to shadow": attempt(lambda: os.symlink(SHADOW, tree.rw / "shadow")),
            "open it": attempt(read(tree.rw / "shadow")),
            "make link to secret": attempt(lambda: os.symlink(tree.secret, tree.rw / "secret")),
            "open that": attempt(read(tree.rw / "secret")),
        }

    assert in_child(body) == {
        "make link to shadow": "ok",
        "open it": "EACCES",
        "make link to secret": "ok",
        "open that": "EACCES",
    }


def test_hard_links_cannot_carry_a_file_across_grants(tree: Tree) -> None:
    # Without Landlock every one of these links succeeds: same filesystem, root.
    os.link(tree.secret, tree.outside / "control")

    def body() -> dict[str, Any]:
        restrict(tree.rules())
        return {
            "granted file to outside": attempt(lambda: os.link(tree.ro_file, tree.outside / "l")),
            "secret into writable": attempt(lambda: os.link(tree.secret, tree.rw / "secret")),
            "read-only file into writable": attempt(lambda: os.link(tree.ro_file, tree.rw / "l")),
            "rename secret into writable": attempt(lambda: tree.secret.rename(tree.rw / "s")),
        }

    assert in_child(body) == {
        # No MAKE_REG right where the link would appear.
        "granted file to outside": "EACCES",
        # The link would give the file rights it lacks where it is: refused as a reparent.
        "secret into writable": "EXDEV",
        "read-only file into writable": "EXDEV",
        # No REMOVE_FILE right where the file is.
        "rename secret into writable": "EACCES",
    }


def test_written_files_cannot_be_executed_and_execution_needs_a_grant(tree: Tree) -> None:
    true = shutil.which("true")
    assert true is not None
    copy = tree.rw / "true"
    shutil.copy(true, copy)
    copy.chmod(0o755)
    allowed = (*essential_execute_paths(), true)

    def run(path: str | Path) -> Callable[[], object]:
        return lambda: subprocess.run([str(path)], check=True)

    def body() -> dict[str, Any]:
        restrict(tree.rules(execute=allowed))
        python = os.path.realpath(sys.executable)
        return {
            "granted binary": attempt(run(true)),
            "interpreter": attempt(lambda: subprocess.run([python, "-I", "-c", ""], check=True)),
            "binary written in the writable dir": attempt(run(copy)),
        }

    assert in_child(body) == {
        "granted binary": "ok",
        "interpreter": "ok",
        "binary written in the writable dir": "EACCES",
    }


def test_without_execute_grant_even_the_interpreter_cannot_be_run() -> None:
    def body() -> dict[str, Any]:
        restrict(rules())
        python = os.path.realpath(sys.executable)
        return {"interpreter": attempt(lambda: subprocess.run([python, "-c", ""], check=True))}

    assert in_child(body) == {"interpreter": "EACCES"}


def test_missing_paths_are_skipped_and_file_paths_get_file_rights(tree: Tree) -> None:
    missing = str(tree.outside / "does-not-exist")
    writable_file = tree.outside / "log.txt"
    writable_file.write_text("")

    def body() -> dict[str, Any]:
        report = restrict(rules(read=(missing,), write=(str(writable_file),)))
        return {
            "skipped": list(report.skipped),
            "append to granted file": attempt(write(writable_file, "a")),
            "create beside it": attempt(write(tree.outside / "other.txt")),
        }

    assert in_child(body) == {
        "skipped": [missing],
        "append to granted file": "ok",
        "create beside it": "EACCES",
    }


# ---- what Python needs --------------------------------------------------------------------


def fresh_mkstemp() -> object:
    """mkstemp as a new worker would run it: the temporary directory not yet chosen."""
    tempfile.tempdir = None
    return tempfile.mkstemp()


def test_python_keeps_working_on_the_essential_paths_and_proc_is_hidden() -> None:
    def body() -> dict[str, Any]:
        restrict(rules())
        from_thread: list[str] = []
        # Created after restrict_self: a new thread inherits the domain.
        thread = threading.Thread(target=lambda: from_thread.append(attempt(read(SHADOW))))

        def run_thread() -> str:
            thread.start()
            thread.join()
            return from_thread[0]

        return {
            # Not imported by pytest yet: a pure module, a C extension, a package.
            "import stdlib": attempt(lambda: __import__("decimal")),
            "import extension": attempt(lambda: __import__("_sqlite3")),
            "import package": attempt(lambda: __import__("xml.dom.minidom")),
            "shadow from a new thread": run_thread(),
            "event loop": attempt(lambda: asyncio.run(asyncio.sleep(0))),
            "cpu_count": attempt(lambda: os.cpu_count() or 1 / 0),
            "urandom": attempt(lambda: os.urandom(8)),
            "zoneinfo": attempt(lambda: __import__("zoneinfo").ZoneInfo("Europe/Paris")),
            "devnull read-write": attempt(write(os.devnull, "r+")),
            "own /proc": attempt(read("/proc/self/status")),
            "parent /proc": attempt(read(f"/proc/{os.getppid()}/status")),
            "tempfile": attempt(fresh_mkstemp),
        }

    assert in_child(body) == {
        "import stdlib": "ok",
        "import extension": "ok",
        "import package": "ok",
        "shadow from a new thread": "EACCES",
        "event loop": "ok",
        "cpu_count": "ok",
        "urandom": "ok",
        "zoneinfo": "ok",
        "devnull read-write": "ok",
        "own /proc": "EACCES",
        "parent /proc": "EACCES",
        # No writable temporary directory unless the profile grants one (and sets TMPDIR).
        "tempfile": "ENOENT",
    }


def test_granting_own_proc_dir_does_not_expose_the_parent() -> None:
    def body() -> dict[str, Any]:
        restrict(rules(read=(f"/proc/{os.getpid()}",)))
        return {
            "own /proc": attempt(read("/proc/self/status")),
            "parent /proc": attempt(read(f"/proc/{os.getppid()}/status")),
            "/proc listing": attempt(lambda: os.listdir("/proc")),
        }

    assert in_child(body) == {
        "own /proc": "ok",
        "parent /proc": "EACCES",
        "/proc listing": "EACCES",
    }


# ---- network --------------------------------------------------------------------------------


def connect(port: int) -> Callable[[], object]:
    def action() -> None:
        with socket.create_connection(("127.0.0.1", port)):
            pass

    return action


def bind(port: int) -> Callable[[], object]:
    def action() -> None:
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", port))

    return action


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def test_tcp_connect_only_to_listed_ports(tcp_listener: Callable[[], int]) -> None:
    need_abi(landlock.ABI_NET, "TCP rules")
    listed, unlisted = tcp_listener(), tcp_listener()

    def body() -> dict[str, Any]:
        restrict(rules(tcp_connect=(listed,)))
        return {"listed": attempt(connect(listed)), "unlisted": attempt(connect(unlisted))}

    assert in_child(body) == {"listed": "ok", "unlisted": "EACCES"}


def test_tcp_bind_only_to_listed_ports_and_never_by_default() -> None:
    need_abi(landlock.ABI_NET, "TCP rules")
    listed, unlisted = free_port(), free_port()

    def body() -> dict[str, Any]:
        restrict(rules(tcp_bind=(listed,)))
        return {
            "listed": attempt(bind(listed)),
            "unlisted": attempt(bind(unlisted)),
            "ephemeral": attempt(bind(0)),
        }

    assert in_child(body) == {"listed": "ok", "unlisted": "EACCES", "ephemeral": "EACCES"}


def test_tcp_connect_none_leaves_connect_unrestricted(tcp_listener: Callable[[], int]) -> None:
    need_abi(landlock.ABI_NET, "TCP rules")
    port = tcp_listener()

    def body() -> dict[str, Any]:
        report = restrict(rules(tcp_connect=None))
        return {"net": report.net, "connect": attempt(connect(port)), "bind": attempt(bind(0))}

    assert in_child(body) == {"net": True, "connect": "ok", "bind": "EACCES"}


def test_landlock_leaves_udp_and_path_unix_sockets_open(tmp_path: Path) -> None:
    """A known gap up to ABI 7: the network namespace and seccomp must close these."""
    need_abi(landlock.ABI_NET, "TCP rules")
    path = str(tmp_path / "listener.sock")
    with (
        socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp,
        socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as unix,
    ):
        udp.bind(("127.0.0.1", 0))
        unix.bind(path)
        unix.listen()
        udp_address = udp.getsockname()

        def body() -> dict[str, Any]:
            restrict(rules(tcp_connect=()))

            def send_udp() -> None:
                with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
                    sock.sendto(b"x", udp_address)

            def connect_unix() -> None:
                with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
                    sock.connect(path)

            return {"udp": attempt(send_udp), "path unix": attempt(connect_unix)}

        assert in_child(body) == {"udp": "ok", "path unix": "ok"}


# ---- scopes ---------------------------------------------------------------------------------


@pytest.mark.parametrize("scoped", [True, False])
def test_signal_scope_denies_signals_outside_the_domain(
    target: subprocess.Popen[bytes], scoped: bool
) -> None:
    need_abi(landlock.ABI_SCOPE, "signal scoping")

    def body() -> dict[str, Any]:
        restrict(rules(scope_signals=scoped))
        return {
            "SIGTERM to a process outside": attempt(lambda: os.kill(target.pid, signal.SIGTERM)),
            "probe the parent": attempt(lambda: os.kill(os.getppid(), 0)),
            "probe itself": attempt(lambda: os.kill(os.getpid(), 0)),
        }

    outcome = in_child(body)

    if scoped:
        assert outcome == {
            "SIGTERM to a process outside": "EPERM",
            "probe the parent": "EPERM",
            "probe itself": "ok",
        }
        assert target.poll() is None
    else:
        assert outcome["SIGTERM to a process outside"] == "ok"
        assert outcome["probe the parent"] == "ok"


@pytest.mark.parametrize("scoped", [True, False])
def test_abstract_unix_scope_denies_connecting_outside_the_domain(
    abstract_listener: str, scoped: bool
) -> None:
    need_abi(landlock.ABI_SCOPE, "abstract UNIX socket scoping")

    def body() -> dict[str, Any]:
        restrict(rules(scope_abstract_unix=scoped))

        def connect_abstract() -> None:
            with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
                sock.connect(abstract_listener)

        return {"connect": attempt(connect_abstract)}

    assert in_child(body) == {"connect": "EPERM" if scoped else "ok"}


# ---- report and degradation -----------------------------------------------------------------


def test_report_names_everything_enforced_at_the_running_abi() -> None:
    need_abi(landlock.ABI_SCOPE, "the full report")

    def body() -> dict[str, Any]:
        report = restrict(rules())
        return {
            "abi": report.abi,
            "fs": report.fs,
            "net": report.net,
            "scopes": list(report.scopes),
            "unhandled": list(report.unhandled),
        }

    assert in_child(body) == {
        "abi": abi_version(),
        "fs": True,
        "net": True,
        "scopes": ["signal", "abstract_unix"],
        "unhandled": [],
    }


@pytest.mark.parametrize(
    ("abi", "unhandled", "cross_dir_move"),
    [
        (
            3,
            [
                "fs.ioctl_dev",
                "net.tcp_bind",
                "net.tcp_connect",
                "scope.signal",
                "scope.abstract_unix",
            ],
            "ok",
        ),
        (
            1,
            [
                "fs.truncate",
                "fs.ioctl_dev",
                "net.tcp_bind",
                "net.tcp_connect",
                "scope.signal",
                "scope.abstract_unix",
            ],
            "EXDEV",
        ),
    ],
)
def test_older_abi_masks_unknown_rights_and_reports_the_gaps(
    tree: Tree,
    tcp_listener: Callable[[], int],
    abi: int,
    unhandled: list[str],
    cross_dir_move: str,
) -> None:
    """Restricting as an older kernel would: the newer rights are neither sent nor enforced."""
    port = tcp_listener()
    (tree.rw / "a").mkdir()
    (tree.rw / "b").mkdir()
    (tree.rw / "a" / "f").write_text("")

    def body() -> dict[str, Any]:
        with mock.patch.object(landlock, "abi_version", return_value=abi):
            report = restrict(tree.rules(tcp_connect=()))
        return {
            "abi": report.abi,
            "net": report.net,
            "scopes": list(report.scopes),
            "unhandled": list(report.unhandled),
            "shadow": attempt(read(SHADOW)),
            "unlisted connect": attempt(connect(port)),
            "cross-dir move": attempt(lambda: (tree.rw / "a/f").rename(tree.rw / "b/f")),
        }

    assert in_child(body) == {
        "abi": abi,
        "net": False,
        "scopes": [],
        "unhandled": unhandled,
        "shadow": "EACCES",
        "unlisted connect": "ok",
        # ABI 1 cannot grant REFER: every reparenting is denied, even inside a grant.
        "cross-dir move": cross_dir_move,
    }


# ---- errors ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("bad", "reason"),
    [
        (LandlockRules(tcp_bind=(70_000,)), "TCP port 70000"),
        (LandlockRules(read=("relative/dir",)), "must be absolute"),
    ],
)
def test_bad_rules_raise_before_anything_is_applied(bad: LandlockRules, reason: str) -> None:
    def body() -> dict[str, Any]:
        try:
            restrict(bad)
        except SandboxError as exc:
            return {
                "layer": exc.layer,
                "reason": reason in str(exc),
                "shadow": attempt(read(SHADOW)),
            }
        return {"raised": False}

    assert in_child(body) == {"layer": "landlock", "reason": True, "shadow": "ok"}


def test_restrict_refuses_a_process_that_already_has_threads() -> None:
    def body() -> dict[str, Any]:
        release = threading.Event()
        thread = threading.Thread(target=release.wait)
        thread.start()
        try:
            restrict(rules())
        except SandboxError as exc:
            return {
                "layer": exc.layer,
                "says why": "one thread" in str(exc),
                "shadow": attempt(read(SHADOW)),
            }
        finally:
            release.set()
            thread.join()
        return {"raised": False}

    assert in_child(body) == {"layer": "landlock", "says why": True, "shadow": "ok"}
