"""The audit log: one JSON line per tool call, appended by the supervisor, rotated by size.

The supervisor writes every line, never a worker, so a plugin that crashes cannot take lines
with it. Each line goes to the kernel in one ``os.write`` on an ``O_APPEND`` descriptor before
the call returns to its caller: nothing is buffered in this process, so lines also survive a
crash of the supervisor itself (not a power loss: there is no fsync per line). Lines hold a
digest of the params, never the params, and an error summary that cannot carry param values
(see ``summarize_error``).

Worker figures come straight from the kernel, cheaply enough to take on every call:

* ``worker_cpu_ms``: CPU time of the worker process (all its threads, not its children) while
  the call was in progress; concurrent calls on the same worker share it.
* ``worker_peak_rss_bytes``: ``VmHWM`` of ``/proc/PID/status``, the peak RSS of the worker over
  its whole lifetime up to the end of the call (read at most 1 ms before it), not of this
  call alone.

Either is null when the worker could not be sampled (it died, or was started during the call).
"""

from __future__ import annotations

import hashlib
import logging
import os
import time
import weakref
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Final

import msgspec

from runtime.errors import (
    CallError,
    ConfigError,
    InvalidParamsError,
    PluginCrashedError,
    PluginUnavailableError,
    ToolFailedError,
    ToolNotFoundError,
)

__all__ = [
    "DEFAULT_BACKUPS",
    "DEFAULT_MAX_BYTES",
    "ERROR_CHARS",
    "AuditLog",
    "AuditRecord",
    "params_digest",
    "summarize_error",
    "worker_cpu_ns",
    "worker_peak_rss_bytes",
]

DEFAULT_MAX_BYTES: Final = 64 * 1024 * 1024
DEFAULT_BACKUPS: Final = 5
# Characters of an error summary kept in a line; the full error went to the caller.
ERROR_CHARS: Final = 500
FILE_MODE: Final = 0o600
# The part of a crash detail after this marker is the plugin's stderr, which may echo params.
_STDERR_MARKER: Final = "; last stderr:"
# Linux encodes another process's CPU-time clock as ((~pid) << 3) | CPUCLOCK_SCHED; this is
# what glibc's clock_getcpuclockid() returns, so one clock_gettime reads the worker's CPU time
# in nanoseconds (psutil would read /proc/PID/stat, at 10 ms resolution and ~20x the cost).
_CPUCLOCK_SCHED: Final = 2
_STATUS_READ_BYTES: Final = 4096
# Calls that end this close together on one worker share one VmHWM reading: rendering
# /proc/PID/status is the costliest part of a line, and a peak that is at most this old
# misses at most the memory touched in that time.
PEAK_RSS_MAX_AGE_NS: Final = 1_000_000

log = logging.getLogger("hydrogen.audit")
_CANONICAL: Final = msgspec.json.Encoder(order="sorted")


class AuditRecord(msgspec.Struct, frozen=True):
    ts: datetime
    caller: str | None
    tool: str
    plugin: str | None
    params_sha256: str | None
    outcome: str
    error: str | None
    duration_ms: float
    worker_pid: int | None
    worker_cpu_ms: float | None
    worker_peak_rss_bytes: int | None


def params_digest(params: Mapping[str, Any]) -> str | None:
    """sha256 of the params as JSON with sorted keys; None if they are not JSON at all."""
    try:
        encoded = _CANONICAL.encode(params)
    except (TypeError, msgspec.EncodeError):
        return None
    return hashlib.sha256(encoded).hexdigest()


def summarize_error(exc: CallError) -> str:
    """A short error text for the log that can never include param values or tool output.

    Validation messages quote the offending value, tool exceptions and a crashed worker's
    stderr may quote the params, so those keep only the field, the type or the exit.
    """
    if isinstance(exc, InvalidParamsError):
        text = f"invalid params at {exc.field}"
    elif isinstance(exc, ToolFailedError):
        text = f"tool raised {exc.error_type}"
    elif isinstance(exc, PluginCrashedError):
        text = f"plugin {exc.plugin!r} crashed: {exc.detail.split(_STDERR_MARKER, 1)[0]}"
    elif isinstance(exc, PluginUnavailableError):
        text = f"plugin {exc.plugin!r} is {exc.state}"
    elif isinstance(exc, ToolNotFoundError):
        text = f"no plugin serves tool {exc.tool!r}"
    else:
        text = str(exc)
    return text[:ERROR_CHARS]


def worker_cpu_ns(pid: int) -> int | None:
    try:
        return time.clock_gettime_ns(((~pid) << 3) | _CPUCLOCK_SCHED)
    except OSError:
        return None


def worker_peak_rss_bytes(pid: int) -> int | None:
    """VmHWM of ``pid`` in bytes, read once (the log keeps the file open instead)."""
    try:
        fd = os.open(f"/proc/{pid}/status", os.O_RDONLY | os.O_CLOEXEC)
    except OSError:
        return None
    try:
        return _read_vmhwm(fd)
    finally:
        os.close(fd)


def _read_vmhwm(fd: int) -> int | None:
    # pread at offset 0 makes procfs render the file afresh on an already open descriptor.
    try:
        data = os.pread(fd, _STATUS_READ_BYTES, 0)
        start = data.index(b"VmHWM:") + len(b"VmHWM:")
        return int(data[start : data.index(b"kB", start)]) * 1024
    except (OSError, ValueError):
        return None  # gone, or a zombie (no memory lines left)


class _StatusFile:
    """A worker's ``/proc/PID/status``, kept open, and the last VmHWM read from it."""

    __slots__ = ("fd", "peak", "pid", "read_at")

    def __init__(self, pid: int, fd: int) -> None:
        self.pid = pid
        self.fd = fd
        self.peak: int | None = None
        self.read_at = 0


class _Descriptors:
    """Every descriptor an ``AuditLog`` holds, closable without a reference to the log."""

    __slots__ = ("log", "status")

    def __init__(self) -> None:
        self.log = -1
        # One status file per plugin, replaced when its worker changes: opening it costs more
        # than the rest of a line together. A descriptor that outlives its process reads
        # ESRCH, even if the pid is reused, so it never reports another process.
        self.status: dict[str, _StatusFile] = {}

    def close_log(self) -> None:
        if self.log >= 0:
            fd, self.log = self.log, -1
            os.close(fd)

    def close(self) -> None:
        self.close_log()
        for entry in self.status.values():
            os.close(entry.fd)
        self.status.clear()

    def peak_rss_bytes(self, plugin: str, pid: int) -> int | None:
        entry = self.status.get(plugin)
        if entry is None or entry.pid != pid:
            if entry is not None:
                del self.status[plugin]
                os.close(entry.fd)
            try:
                fd = os.open(f"/proc/{pid}/status", os.O_RDONLY | os.O_CLOEXEC)
            except OSError:
                return None
            entry = self.status[plugin] = _StatusFile(pid, fd)
        now = time.monotonic_ns()
        if entry.peak is not None and now - entry.read_at <= PEAK_RSS_MAX_AGE_NS:
            return entry.peak
        entry.peak, entry.read_at = _read_vmhwm(entry.fd), now
        if entry.peak is None:
            del self.status[plugin]
            os.close(entry.fd)
        return entry.peak


class AuditLog:
    """Append-only JSON-lines file, rotated ``path -> path.1 -> ... -> path.N`` by size.

    ``max_bytes`` 0 turns rotation off. One supervisor per file: the size is tracked here, so
    a second writer would make rotation late (never lose lines).
    """

    def __init__(
        self,
        path: Path | str,
        max_bytes: int = DEFAULT_MAX_BYTES,
        backups: int = DEFAULT_BACKUPS,
    ) -> None:
        if max_bytes < 0 or (max_bytes > 0 and backups < 1):
            raise ConfigError(
                f"audit log {path}: max_bytes must be >= 0 and backups >= 1 when rotating "
                f"(got max_bytes={max_bytes}, backups={backups})"
            )
        self.path = Path(path)
        self.max_bytes = max_bytes
        self.backups = backups
        self.write_errors = 0
        self._encoder = msgspec.json.Encoder()
        self._size = 0
        self._fds = _Descriptors()
        # Closes every descriptor even when the owner never calls close().
        weakref.finalize(self, self._fds.close)
        try:
            self._open()
        except OSError as exc:
            raise ConfigError(
                f"audit log {self.path}: cannot open for appending: {exc.strerror or exc} "
                f"(check --audit-log / HYDROGEN_AUDIT_LOG and the directory's permissions)"
            ) from exc

    def _open(self) -> None:
        flags = os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC
        self._fds.log = os.open(self.path, flags, FILE_MODE)
        self._size = os.fstat(self._fds.log).st_size

    def close(self) -> None:
        """Close the file and the workers' status files; a later ``write`` reopens it."""
        self._fds.close()

    def write(self, record: AuditRecord) -> None:
        """Append one line. A failure is logged and counted, never raised into the call."""
        line = self._encoder.encode(record) + b"\n"
        try:
            if self._fds.log < 0:
                self._open()
            if self.max_bytes and self._size and self._size + len(line) > self.max_bytes:
                self._rotate()
            view = memoryview(line)
            while view:
                written = os.write(self._fds.log, view)
                view = view[written:]
                self._size += written
        except OSError as exc:
            self.write_errors += 1
            log.error("audit log %s: line for tool %r not written: %s", self.path, record.tool, exc)

    def _rotate(self) -> None:
        """Shift the backups up by one (the oldest falls off), then start a fresh file.

        A rename that fails is logged and the line goes to the unrotated file instead.
        """
        self._fds.close_log()
        try:
            for index in range(self.backups - 1, 0, -1):
                older = self.path.with_name(f"{self.path.name}.{index}")
                if older.exists():
                    os.replace(older, self.path.with_name(f"{self.path.name}.{index + 1}"))
            os.replace(self.path, self.path.with_name(f"{self.path.name}.1"))
        except OSError as exc:
            log.error("audit log %s: rotation failed, appending without it: %s", self.path, exc)
        self._open()

    def record_call(
        self,
        *,
        started_at: float,
        duration: float,
        caller: str | None,
        tool: str,
        plugin: str | None,
        params: Mapping[str, Any] | None,
        outcome: str,
        error: str | None,
        pid: int | None,
        cpu_ns: int | None,
    ) -> None:
        """Write the line for one finished call; ``cpu_ns`` is the worker's CPU clock at start."""
        cpu_ms = peak = None
        if pid is not None and plugin is not None:
            if cpu_ns is not None:
                now = worker_cpu_ns(pid)
                cpu_ms = round((now - cpu_ns) / 1e6, 3) if now is not None else None
            peak = self._fds.peak_rss_bytes(plugin, pid)
        self.write(
            AuditRecord(
                ts=datetime.fromtimestamp(started_at, UTC),
                caller=caller,
                tool=tool,
                plugin=plugin,
                params_sha256=params_digest(params) if isinstance(params, Mapping) else None,
                outcome=outcome,
                error=error,
                duration_ms=round(duration * 1000, 3),
                worker_pid=pid,
                worker_cpu_ms=cpu_ms,
                worker_peak_rss_bytes=peak,
            )
        )
