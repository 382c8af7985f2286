"""Classic BPF as seccomp runs it: the opcodes, a tiny assembler, and the ``sock_fprog`` to load.

The assembler knows only forward jumps to named labels (classic BPF cannot jump backwards) and
resolves them in ``assemble``; a jump farther than its one-byte offset, or to a label never
defined, is a bug in the program's builder and raises ``SandboxError``.
"""

from __future__ import annotations

import ctypes
from typing import Final, NamedTuple

from runtime.errors import SandboxError

__all__ = [
    "AND",
    "JUMP_EQ",
    "JUMP_GE",
    "JUMP_SET",
    "LOAD_WORD",
    "RETURN",
    "Assembler",
    "BpfInstruction",
    "sock_fprog",
]

LAYER: Final = "seccomp"

# <linux/bpf_common.h>: instruction classes, sizes, modes and operations.
BPF_LD: Final = 0x00
BPF_ALU: Final = 0x04
BPF_JMP: Final = 0x05
BPF_RET: Final = 0x06
BPF_W: Final = 0x00
BPF_ABS: Final = 0x20
BPF_K: Final = 0x00
BPF_AND: Final = 0x50
BPF_JEQ: Final = 0x10
BPF_JGE: Final = 0x30
BPF_JSET: Final = 0x40
BPF_MAXINSNS: Final = 4096
BPF_MAX_JUMP: Final = 255  # jt and jf are one byte each

# The only instructions a seccomp filter here needs; every operand is the constant ``k``.
LOAD_WORD: Final = BPF_LD | BPF_W | BPF_ABS  # A = seccomp_data[k:k+4]
AND: Final = BPF_ALU | BPF_AND | BPF_K  # A &= k
JUMP_EQ: Final = BPF_JMP | BPF_JEQ | BPF_K  # A == k
JUMP_GE: Final = BPF_JMP | BPF_JGE | BPF_K  # A >= k, unsigned
JUMP_SET: Final = BPF_JMP | BPF_JSET | BPF_K  # A & k != 0
RETURN: Final = BPF_RET | BPF_K  # the action k


class BpfInstruction(NamedTuple):
    """struct sock_filter: ``jt``/``jf`` count instructions skipped when the test is true/false."""

    code: int
    jt: int
    jf: int
    k: int


class Assembler:
    """Append instructions in order; jumps name labels, resolved by ``assemble``."""

    def __init__(self) -> None:
        self._code: list[tuple[int, str | None, str | None, int]] = []
        self._labels: dict[str, int] = {}

    def label(self, name: str) -> None:
        """The next instruction is ``name``."""
        if name in self._labels:
            raise SandboxError(LAYER, f"BPF label {name!r} defined twice")
        self._labels[name] = len(self._code)

    def load(self, offset: int) -> None:
        self._code.append((LOAD_WORD, None, None, offset))

    def mask(self, bits: int) -> None:
        self._code.append((AND, None, None, bits))

    def jump(self, op: int, k: int, true: str | None = None, false: str | None = None) -> None:
        """``if A <op> k goto true else goto false``; ``None`` falls through."""
        self._code.append((op, true, false, k))

    def jump_if_any(self, values: tuple[int, ...], true: str, false: str) -> None:
        """``goto true if A in values else goto false``."""
        for index, value in enumerate(values):
            self.jump(JUMP_EQ, value, true, false if index == len(values) - 1 else None)

    def ret(self, action: int) -> None:
        self._code.append((RETURN, None, None, action))

    def assemble(self) -> tuple[BpfInstruction, ...]:
        if len(self._code) > BPF_MAXINSNS:
            raise SandboxError(LAYER, f"BPF program of {len(self._code)} instructions is too long")
        return tuple(
            BpfInstruction(code, self._offset(pc, jt), self._offset(pc, jf), k)
            for pc, (code, jt, jf, k) in enumerate(self._code)
        )

    def _offset(self, pc: int, label: str | None) -> int:
        if label is None:
            return 0
        if label not in self._labels:
            raise SandboxError(LAYER, f"BPF label {label!r} is never defined")
        distance = self._labels[label] - pc - 1
        if not 0 <= distance <= BPF_MAX_JUMP:
            raise SandboxError(LAYER, f"BPF jump from {pc} to {label!r} is out of range")
        return distance


class SockFilter(ctypes.Structure):
    """struct sock_filter"""

    _fields_ = [
        ("code", ctypes.c_uint16),
        ("jt", ctypes.c_uint8),
        ("jf", ctypes.c_uint8),
        ("k", ctypes.c_uint32),
    ]


class SockFprog(ctypes.Structure):
    """struct sock_fprog"""

    _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.POINTER(SockFilter))]


def sock_fprog(program: tuple[BpfInstruction, ...]) -> SockFprog:
    """The program as the kernel takes it; it keeps its instruction array alive."""
    instructions = (SockFilter * len(program))(*(SockFilter(*insn) for insn in program))
    return SockFprog(len(program), instructions)
