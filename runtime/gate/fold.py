"""The constant a string expression always evaluates to, found without running any code.

Obfuscators spell names and payloads so that no one reading the file sees them:
``"o" + "s"``, ``chr(111) + chr(115)``, ``"so"[::-1]``, ``"".join(map(chr, [...]))``,
``base64.b64decode("b3M=").decode()``, ``codecs.decode("bf", "rot13")``. ``fold`` evaluates
exactly these forms over constants, with bounded depth and output, so the scans can read the
name or payload that was meant.
"""

from __future__ import annotations

import ast
import base64
import binascii
import codecs
from collections.abc import Callable
from typing import Final

__all__ = ["fold"]

# Folding recurses over attacker-written code: bound depth and size.
MAX_DEPTH: Final = 24
MAX_FOLDED: Final = 65536


def fold(expr: ast.expr, depth: int = 0) -> str | None:
    """The constant string ``expr`` always evaluates to, or None. Never runs plugin code."""
    value = _fold(expr, depth)
    if isinstance(value, bytes):
        try:
            return value.decode("utf-8")
        except UnicodeDecodeError:
            return None
    return value


def _fold(expr: ast.expr, depth: int) -> str | bytes | None:
    if depth > MAX_DEPTH:
        return None
    if isinstance(expr, ast.Constant):
        return expr.value if isinstance(expr.value, str | bytes) else None
    if isinstance(expr, ast.BinOp) and isinstance(expr.op, ast.Add):
        # "a" + "b" + ... nests to the left, one level per piece: flatten it, do not recurse.
        pieces = [expr.right]
        left = expr.left
        while isinstance(left, ast.BinOp) and isinstance(left.op, ast.Add):
            pieces.append(left.right)
            left = left.left
        pieces.append(left)
        parts = [_fold(piece, depth + 1) for piece in reversed(pieces)]
        if all(isinstance(p, str) for p in parts):
            return _capped("".join(p for p in parts if isinstance(p, str)))
        if all(isinstance(p, bytes) for p in parts):
            return _capped(b"".join(p for p in parts if isinstance(p, bytes)))
        return None
    if isinstance(expr, ast.JoinedStr):
        parts = [_fold_part(v, depth + 1) for v in expr.values]
        if all(isinstance(p, str) for p in parts):
            return _capped("".join(p for p in parts if isinstance(p, str)))
        return None
    if isinstance(expr, ast.Subscript) and isinstance(expr.slice, ast.Slice):
        inner = _fold(expr.value, depth + 1)
        step = expr.slice.step
        reversed_whole = (
            expr.slice.lower is None
            and expr.slice.upper is None
            and isinstance(step, ast.UnaryOp)
            and isinstance(step.op, ast.USub)
            and isinstance(step.operand, ast.Constant)
            and step.operand.value == 1
        )
        return inner[::-1] if inner is not None and reversed_whole else None
    if isinstance(expr, ast.Call):
        return _fold_call(expr, depth)
    return None


def _fold_part(value: ast.expr, depth: int) -> str | bytes | None:
    if not isinstance(value, ast.FormattedValue):
        return _fold(value, depth)
    if value.conversion != -1 or value.format_spec is not None:
        return None
    return _fold(value.value, depth)


def _capped(value: str | bytes) -> str | bytes | None:
    return value if len(value) <= MAX_FOLDED else None


def _fold_call(call: ast.Call, depth: int) -> str | bytes | None:
    func, args = call.func, call.args
    name = func.id if isinstance(func, ast.Name) else None
    attr = func.attr if isinstance(func, ast.Attribute) else None
    if name == "chr" and len(args) == 1:
        value = args[0]
        if isinstance(value, ast.Constant) and isinstance(value.value, int):
            return chr(value.value) if 0 <= value.value < 0x110000 else None
        return None
    if attr == "join" and len(args) == 1 and isinstance(func, ast.Attribute):
        sep = _fold(func.value, depth + 1)
        items = _fold_items(args[0], depth)
        if isinstance(sep, str) and items is not None:
            return _capped(sep.join(items))
        return None
    if attr == "decode" and isinstance(func, ast.Attribute):
        raw = _fold(func.value, depth + 1)
        if isinstance(raw, bytes):
            try:
                return raw.decode("utf-8")
            except UnicodeDecodeError:
                return raw.decode("latin-1")
        if len(args) == 2:  # codecs.decode(data, "rot13")
            data, encoding = _fold(args[0], depth + 1), _fold(args[1], depth + 1)
            if isinstance(data, str) and encoding in ("rot13", "rot_13"):
                return codecs.decode(data, "rot13")
        return None
    if len(args) != 1 or attr is None:
        return None
    data = _fold(args[0], depth + 1)
    if data is None:
        return None
    try:
        if attr == "fromhex" and isinstance(data, str):
            return bytes.fromhex(data)
        raw = data.encode("latin-1") if isinstance(data, str) else data
        if attr in _BASE64:
            return _BASE64[attr](raw)
        if attr in ("unhexlify", "a2b_hex"):
            return binascii.unhexlify(raw)
    except (ValueError, TypeError, binascii.Error):
        return None
    return None


def _fold_items(expr: ast.expr, depth: int) -> list[str] | None:
    """Items of a constant list/tuple, a generator of chr() over constants, or map(chr, ...)."""
    if isinstance(expr, ast.List | ast.Tuple):
        items = [_fold(e, depth + 1) for e in expr.elts]
        return [i for i in items if isinstance(i, str)] if all(
            isinstance(i, str) for i in items
        ) else None  # fmt: skip
    numbers: list[int] | None = None
    if isinstance(expr, ast.GeneratorExp | ast.ListComp) and len(expr.generators) == 1:
        gen = expr.generators[0]
        elt = expr.elt
        if (
            isinstance(elt, ast.Call)
            and isinstance(elt.func, ast.Name)
            and elt.func.id == "chr"
            and len(elt.args) == 1
            and isinstance(elt.args[0], ast.Name)
            and isinstance(gen.target, ast.Name)
            and elt.args[0].id == gen.target.id
            and not gen.ifs
        ):
            numbers = _int_items(gen.iter)
    elif (
        isinstance(expr, ast.Call)
        and isinstance(expr.func, ast.Name)
        and expr.func.id == "map"
        and len(expr.args) == 2
        and isinstance(expr.args[0], ast.Name)
        and expr.args[0].id == "chr"
    ):
        numbers = _int_items(expr.args[1])
    if numbers is None or not all(0 <= n < 0x110000 for n in numbers):
        return None
    return [chr(n) for n in numbers]


def _int_items(expr: ast.expr) -> list[int] | None:
    if not isinstance(expr, ast.List | ast.Tuple):
        return None
    values: list[int] = []
    for elt in expr.elts:
        if not isinstance(elt, ast.Constant) or not isinstance(elt.value, int):
            return None
        if isinstance(elt.value, bool):
            return None
        values.append(elt.value)
    return values


_BASE64: Final[dict[str, Callable[[bytes], bytes]]] = {
    "b64decode": base64.b64decode,
    "standard_b64decode": base64.standard_b64decode,
    "urlsafe_b64decode": base64.urlsafe_b64decode,
    "b32decode": base64.b32decode,
    "b16decode": base64.b16decode,
    "decodebytes": base64.decodebytes,
}
