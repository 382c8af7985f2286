"""Heuristics against malicious packages, in the spirit of GuardDog: the shapes malware takes.

    id                              severity  what
    heuristics:exec-decoded         error     exec/eval/compile/pickle.loads of decoded data
    heuristics:download-exec        error     downloaded data run, or saved then chmod-ed or run
    heuristics:exfiltration         error     environment or credential files plus the network
    heuristics:obfuscated-import    error     a module or builtin named by a string built at run
                                              time (chr(), reversal, concatenation, decoding)
    heuristics:encoded-blob         warning   a base64/hex literal of 512+ characters and high
                                              entropy, or a high-entropy bytes literal
    heuristics:binary               error     an executable, library, bytecode or archive, or
                                              any non-text file that is not an allowed data type
    heuristics:symlink              error     a link out of the plugin folder

The first three come from ``runtime.gate.dataflow``. A plain variable passed to
``importlib.import_module`` is not obfuscation (the capability scan already warns about it);
a name that was spelled so that no one reading the file sees it is.
"""

from __future__ import annotations

import ast
import importlib.util
import math
import os
import re
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Final

from runtime.gate.dataflow import DECODERS, analyse_module
from runtime.gate.findings import Finding, PluginSource, Severity
from runtime.gate.fold import fold
from runtime.gate.pyscan import DYNAMIC_IMPORTS, Module, Project
from runtime.gate.rules import SENSITIVE_MODULES

__all__ = ["scan_heuristics"]

SCANNER: Final = "heuristics"
BLOB_MIN_CHARS: Final = 512
# Bits per character: random base64 is ~6.0, random hex ~4.0, English prose ~4.2 but has spaces.
BASE64_MIN_ENTROPY: Final = 4.5
HEX_MIN_ENTROPY: Final = 3.0
BYTES_MIN_ENTROPY: Final = 5.0
SNIFF_BYTES: Final = 8192
# Folders no Python import reads from; caches are rebuilt by the interpreter itself.
IGNORED_DIRS: Final = frozenset(
    {"__pycache__", ".git", ".mypy_cache", ".ruff_cache", ".pytest_cache"}
)
BINARY_SUFFIXES: Final = frozenset(
    {".so", ".pyd", ".dll", ".exe", ".dylib", ".o", ".a", ".bin", ".elf", ".pyc", ".pyo",
     ".whl", ".egg", ".zip", ".jar", ".class", ".pkl", ".pickle", ".joblib", ".pt", ".pth"}
)  # fmt: skip
# Non-text files a plugin may ship: media and formats no loader executes.
DATA_SUFFIXES: Final = frozenset(
    {".png", ".jpg", ".jpeg", ".gif", ".webp", ".ico", ".bmp", ".woff", ".woff2", ".ttf",
     ".otf", ".pdf", ".parquet", ".safetensors", ".mo", ".sqlite", ".db"}
)  # fmt: skip
MAGIC: Final = (
    (b"\x7fELF", "an ELF executable or library"),
    (b"MZ", "a Windows PE executable"),
    (b"\xfe\xed\xfa\xce", "a Mach-O binary"),
    (b"\xfe\xed\xfa\xcf", "a Mach-O binary"),
    (b"\xce\xfa\xed\xfe", "a Mach-O binary"),
    (b"\xcf\xfa\xed\xfe", "a Mach-O binary"),
    (b"\xca\xfe\xba\xbe", "a Mach-O universal binary or Java class"),
    (b"PK\x03\x04", "a zip archive (importable through zipimport)"),
    (importlib.util.MAGIC_NUMBER, "Python bytecode"),
)
_BASE64: Final = re.compile(r"[A-Za-z0-9+/_-]+={0,2}")
_HEX: Final = re.compile(r"[0-9a-fA-F]+")
# Encoders wrap lines; they never put spaces inside, and prose always has them.
_LINE_BREAKS: Final = re.compile(r"[\r\n]+")
_HIDDEN_BUILTINS: Final = frozenset({"exec", "eval", "compile", "__import__", "open", "getattr"})

_HINTS: Final = {
    "exec-decoded": "remove the encoded payload and ship the code as plain, reviewable source",
    "download-exec": "ship the code with the plugin instead of fetching it at run time",
    "exfiltration": "read only declared variables and send only what the tool's answer needs; "
    "if this is intended, have an operator review it and waive heuristics:exfiltration",
    "obfuscated-import": "import the module by its plain name (import os)",
    "encoded-blob": "ship data as a reviewed data file, not an encoded literal; if it is "
    "legitimate (an icon, a test vector), waive heuristics:encoded-blob with the reason",
    "binary": "remove the file; depend on a published package through requirements instead",
    "symlink": "replace the link with the file itself",
}


def scan_heuristics(source: PluginSource) -> list[Finding]:
    """Every heuristic finding, sorted by file, line and id."""
    project = Project(source)
    declared_env = frozenset(source.manifest.permissions.env)
    findings: list[Finding] = []
    for module in project.modules:
        seen: set[str] = set()
        for flow in analyse_module(project, module, declared_env):
            if flow.rule not in seen:  # one per rule and file: the first, in source order
                seen.add(flow.rule)
                findings.append(_finding(flow.rule, Severity.ERROR, module.rel, flow.line,
                                         flow.message))  # fmt: skip
        findings += _obfuscated_imports(project, module)
        findings += _blobs(module)
    findings += _files(source.root)
    return sorted(findings, key=lambda f: (f.file or "", f.line or 0, f.id))


def _finding(rule: str, severity: Severity, rel: str, line: int | None, text: str) -> Finding:
    where = f"{rel}:{line}" if line else rel
    return Finding(
        id=f"heuristics:{rule}",
        scanner=SCANNER,
        severity=severity,
        message=f"{where}: {text}",
        hint=_HINTS[rule],
        file=rel,
        line=line,
    )


# -- obfuscated imports ---------------------------------------------------------------------


def _obfuscated_imports(project: Project, module: Module) -> Iterator[Finding]:
    for node in ast.walk(module.tree):
        found = _name_lookup(project, module, node)
        if found is None or not isinstance(node, ast.expr):
            continue
        target, subject = found
        reason = _spelled(project, module, target)
        shown = fold(target)
        if reason is None and subject == "the builtin":
            if shown in _HIDDEN_BUILTINS:
                reason = "getattr on builtins"
            elif shown is None:
                reason = "a name computed at run time"
        if reason is not None:
            name = repr(shown) if shown is not None else "a hidden name"
            text = f"names {subject} {name} through {reason}"
            yield _finding("obfuscated-import", Severity.ERROR, module.rel, node.lineno, text)


def _name_lookup(project: Project, module: Module, node: ast.AST) -> tuple[ast.expr, str] | None:
    """(the name expression, what it names) for imports and lookups by a string name."""
    if isinstance(node, ast.Call) and node.args:
        name = project.qualname(module, node.func)
        if name in DYNAMIC_IMPORTS:
            return node.args[0], "the module"
        if name == "builtins.getattr" and len(node.args) >= 2:
            owner = project.qualname(module, node.args[0])
            if owner == "builtins":
                return node.args[1], "the builtin"
            if owner is not None and owner.split(".")[0] in SENSITIVE_MODULES:
                return node.args[1], f"an attribute of {owner}"
    elif isinstance(node, ast.Subscript):
        owner = project.qualname(module, node.value)
        if owner == "sys.modules":
            return node.slice, "the module"
        if owner in ("builtins", "builtins.__dict__"):
            return node.slice, "the builtin"
    return None


def _spelled(project: Project, module: Module, expr: ast.expr, depth: int = 0) -> str | None:
    """Why ``expr`` reads as a name disguised on purpose, or None for a literal or a variable."""
    if isinstance(expr, ast.Constant) or depth > 4:
        return None
    for node in ast.walk(expr):
        if isinstance(node, ast.Call):
            called = project.qualname(module, node.func)
            if called in DECODERS:
                return "chr() codes" if called == "builtins.chr" else f"decoding ({called})"
        elif isinstance(node, ast.Name) and project.qualname(module, node) == "builtins.chr":
            return "chr() codes"
        elif isinstance(node, ast.Subscript) and isinstance(node.slice, ast.Slice):
            return "a sliced or reversed string"
        elif isinstance(node, ast.Name) and node.id in module.aliases:
            reason = _spelled(project, module, module.aliases[node.id], depth + 1)
            if reason is not None:
                return reason
    if fold(expr) is not None:
        return "a constant spelled in pieces"
    return None


# -- encoded blobs --------------------------------------------------------------------------


def _entropy(data: str | bytes) -> float:
    counts = Counter(data)
    total = len(data)
    return -sum(n / total * math.log2(n / total) for n in counts.values())


def _blobs(module: Module) -> Iterator[Finding]:
    inside: set[int] = set()
    for node in ast.walk(module.tree):
        if id(node) in inside:
            continue
        value: str | bytes | None = None
        if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add):
            # Fold a whole chain once, from its outermost "+"; its inner "+" are the same chain.
            spine = node.left
            while isinstance(spine, ast.BinOp) and isinstance(spine.op, ast.Add):
                inside.add(id(spine))
                spine = spine.left
            value = fold(node)
            if value is not None:
                inside.update(id(n) for n in ast.walk(node))
        elif isinstance(node, ast.Constant) and isinstance(node.value, str | bytes):
            value = node.value
        kind = _blob_kind(value) if value is not None else None
        if kind is not None and isinstance(node, ast.expr) and value is not None:
            text = f"{kind} literal of {len(value):,} characters"
            yield _finding("encoded-blob", Severity.WARNING, module.rel, node.lineno, text)


def _blob_kind(value: str | bytes) -> str | None:
    if len(value) < BLOB_MIN_CHARS:
        return None
    if isinstance(value, bytes):
        if _entropy(value) >= BYTES_MIN_ENTROPY:
            return f"a binary bytes (entropy {_entropy(value):.1f} bits/byte)"
        value = value.decode("latin-1")
    compact = _LINE_BREAKS.sub("", value)
    if len(compact) < BLOB_MIN_CHARS:
        return None
    entropy = _entropy(compact)
    if _HEX.fullmatch(compact) and entropy >= HEX_MIN_ENTROPY:
        return f"a hex (entropy {entropy:.1f} bits/char)"
    if _BASE64.fullmatch(compact) and entropy >= BASE64_MIN_ENTROPY:
        return f"a base64 (entropy {entropy:.1f} bits/char)"
    return None


# -- bundled files --------------------------------------------------------------------------


def _files(root: Path) -> Iterator[Finding]:
    real_root = root.resolve()
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = sorted(d for d in dirnames if d not in IGNORED_DIRS)
        for name in sorted([*filenames, *(d for d in dirnames if Path(dirpath, d).is_symlink())]):
            path = Path(dirpath, name)
            rel = str(path.relative_to(root))
            if path.is_symlink():
                target = path.resolve()
                if not target.is_relative_to(real_root):
                    text = f"is a symbolic link out of the plugin folder, to {target}"
                    yield _finding("symlink", Severity.ERROR, rel, None, text)
                continue
            reason = _binary_reason(path)
            if reason is not None:
                yield _finding("binary", Severity.ERROR, rel, None, f"bundles {reason}")


def _binary_reason(path: Path) -> str | None:
    suffix = path.suffix.lower()
    try:
        with path.open("rb") as f:
            head = f.read(SNIFF_BYTES)
    except OSError as exc:
        return f"a file the gate cannot read ({exc.strerror})"
    for magic, kind in MAGIC:
        if head.startswith(magic) and (magic != b"MZ" or not _is_text(head)):
            return kind
    if suffix in BINARY_SUFFIXES:
        return f"a {suffix} file (native code, bytecode, archive or pickle)"
    if _is_text(head) or suffix in DATA_SUFFIXES:
        return None
    return f"a non-text file of a type plugins may not ship ({suffix or 'no extension'})"


def _is_text(head: bytes) -> bool:
    if b"\0" in head:
        return False
    try:
        head.decode("utf-8")
    except UnicodeDecodeError as exc:
        # A read that stops inside a multi-byte character is still text.
        return exc.start >= len(head) - 3 and len(head) == SNIFF_BYTES
    return True
