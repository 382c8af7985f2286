"""What a confined Python worker must still be able to read, write and execute.

Landlock denies everything not granted, including the interpreter's own files; these lists are
the floor every profile's grants are added to. Measured on Linux 6.18 with CPython 3.11: imports
(pure, C extensions, packages), threads, ``os.urandom``, ``os.cpu_count`` (glibc uses
sched_getaffinity), zoneinfo and ``subprocess.DEVNULL`` work on these alone. Not granted, and
what needs them: /proc (psutil, ``/proc/self``: grant ``/proc/<own pid>``, never /proc), a
writable temporary directory (``tempfile``; grant one and set TMPDIR), /dev/shm
(``multiprocessing`` locks), /etc/passwd and /etc/nsswitch.conf (``pwd``, ``getpass``), and for
network clients ``NETWORK_CLIENT_READ_PATHS`` (name resolution, TLS trust).
"""

from __future__ import annotations

import os
import struct
import sys
from pathlib import Path
from typing import Final

__all__ = [
    "NETWORK_CLIENT_READ_PATHS",
    "RUNTIME_PACKAGE",
    "SYSTEM_READ_PATHS",
    "essential_execute_paths",
    "essential_read_paths",
    "essential_write_paths",
]

# The ``runtime`` package itself, wherever it is installed.
RUNTIME_PACKAGE: Final = Path(__file__).resolve().parents[1]


def essential_read_paths() -> list[str]:
    """What a Python worker reads to keep running and importing once confined.

    The interpreter and its libraries, every existing ``sys.path`` entry, this package, the
    dynamic loader's cache, time zones and the harmless character devices. Not /proc: that
    would expose the supervisor's /proc/<pid> (grant ``/proc/<own pid>`` for self-inspection).
    """
    return _existing(
        sys.prefix,
        sys.base_prefix,
        sys.exec_prefix,
        sys.base_exec_prefix,
        os.path.realpath(sys.executable),
        *sys.path,
        str(RUNTIME_PACKAGE),
        *SYSTEM_READ_PATHS,
    )


def essential_write_paths() -> list[str]:
    """Writable without risk and opened read-write by common code (``subprocess.DEVNULL``)."""
    return _existing("/dev/null")


def essential_execute_paths() -> list[str]:
    """What re-running this interpreter needs: the binary and its ELF loader (``PT_INTERP``)."""
    binary = os.path.realpath(sys.executable)
    loader = _elf_interpreter(binary)
    return _existing(binary, *([loader, os.path.realpath(loader)] if loader else []))


def _existing(*paths: str) -> list[str]:
    """Absolute paths that exist, in order, without duplicates."""
    return list(dict.fromkeys(p for p in paths if os.path.isabs(p) and os.path.exists(p)))


SYSTEM_READ_PATHS: Final = (
    "/usr/lib",
    "/usr/lib64",
    "/lib",
    "/lib64",
    "/etc/ld.so.cache",
    "/etc/localtime",
    "/usr/share/zoneinfo",
    "/dev/null",
    "/dev/urandom",
    "/dev/zero",
)
# Name resolution and TLS trust for plugins granted network access; not essential otherwise.
NETWORK_CLIENT_READ_PATHS: Final = (
    "/etc/hosts",
    "/etc/resolv.conf",
    "/etc/nsswitch.conf",
    "/etc/host.conf",
    "/etc/gai.conf",
    "/etc/ssl",
    "/etc/ca-certificates",
    "/usr/share/ca-certificates",
)

# <elf.h>: just enough of an ELF64 little-endian header to find the program interpreter.
ELFMAG: Final = b"\x7fELF"
ELFCLASS64: Final = 2
ELFDATA2LSB: Final = 1
EI_CLASS: Final = 4
EI_DATA: Final = 5
# e_ident, e_type, e_machine, e_version, e_entry, e_phoff, e_shoff, e_flags, e_ehsize,
# e_phentsize, e_phnum, e_shentsize, e_shnum, e_shstrndx
ELF64_EHDR: Final = struct.Struct("<16sHHIQQQIHHHHHH")
# p_type, p_flags, p_offset, p_vaddr, p_paddr, p_filesz, p_memsz, p_align
ELF64_PHDR: Final = struct.Struct("<IIQQQQQQ")
PT_INTERP: Final = 3


def _elf_interpreter(path: str) -> str | None:
    """The dynamic loader a kernel execve of ``path`` opens (and must be allowed to execute)."""
    try:
        with open(path, "rb") as f:
            header = f.read(ELF64_EHDR.size)
            if (
                len(header) < ELF64_EHDR.size
                or header[:4] != ELFMAG
                or header[EI_CLASS] != ELFCLASS64
                or header[EI_DATA] != ELFDATA2LSB
            ):
                return None
            _, _, _, _, _, phoff, _, _, _, phentsize, phnum, _, _, _ = ELF64_EHDR.unpack(header)
            for index in range(phnum):
                f.seek(phoff + index * phentsize)
                p_type, _, p_offset, _, _, p_filesz, _, _ = ELF64_PHDR.unpack(
                    f.read(ELF64_PHDR.size)
                )
                if p_type == PT_INTERP:
                    f.seek(p_offset)
                    return f.read(p_filesz).rstrip(b"\0").decode()
    except (OSError, struct.error, UnicodeDecodeError):
        return None
    return None
