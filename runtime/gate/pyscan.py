"""A plugin's Python files as syntax trees, with every name resolved to what it really is.

Theory of operation. The capability scan and the heuristics both ask "what is this, really?":
``r(...)`` after ``from subprocess import run as r`` is ``subprocess.run``; ``e["KEY"]`` after
``e = os.environ`` reads ``os.environ``; ``__import__("o" + "s").system`` is ``os.system``.
``Project.qualname`` answers with a dotted name (``builtins.exec`` for builtins) or None.

Resolution is static and flow-insensitive per file: imports anywhere in a file bind for the whole
file, and a name assigned exactly once to a resolvable expression is an alias. Imports of the
plugin's own modules (relative, or absolute ones that name a file in the plugin folder, which
the worker puts first on ``sys.path``) are followed, so re-exporting ``subprocess`` through a
helper module does not hide it. Standard-library names always mean the standard library.

``fold`` evaluates the constant string expressions obfuscators use (concatenation, ``chr``,
reversal, ``"".join``, base64 and hex of constants) without running any plugin code.
"""

from __future__ import annotations

import ast
import base64
import binascii
import builtins
import codecs
import sys
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Final

from runtime.gate.findings import PluginSource

__all__ = [
    "Local",
    "Module",
    "Project",
    "fold",
    "is_test_file",
    "scope_nodes",
]

BUILTIN_NAMES: Final = frozenset(dir(builtins))
# Low-level twins that expose the same calls; a scan keyed on "os" must see them as "os".
CANONICAL_MODULES: Final = {"posix": "os", "_socket": "socket", "nt": "os"}
# Resolution and folding are recursive over attacker-written code: bound both.
MAX_DEPTH: Final = 24
MAX_FOLDED: Final = 65536
DYNAMIC_IMPORTS: Final = frozenset(
    {"builtins.__import__", "importlib.import_module", "importlib.__import__"}
)
_SCOPES: Final = (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)


@dataclass(frozen=True)
class Local:
    """A module of the plugin itself (``tools/config``; ``""`` is the package) plus attributes."""

    module: str
    attrs: tuple[str, ...] = ()


Target = str | Local


@dataclass
class Module:
    rel: str  # file relative to the plugin folder
    name: str  # module path: "tools/config", "" for the package's __init__.py
    package: str  # where its relative imports start
    tree: ast.Module
    imports: dict[str, Target] = field(default_factory=dict)
    aliases: dict[str, ast.expr] = field(default_factory=dict)
    stars: list[Target] = field(default_factory=list)
    # ids of Name nodes naming a builtin that a local binding shadows in that scope
    shadowed: set[int] = field(default_factory=set)


def is_test_file(rel: str) -> bool:
    """Test code by the pytest conventions: under a tests/ folder, test_*.py, conftest.py."""
    parts = rel.split("/")
    name = parts[-1]
    return (
        "tests" in parts[:-1]
        or "test" in parts[:-1]
        or name.startswith("test_")
        or name.endswith("_test.py")
        or name == "conftest.py"
    )


def scope_nodes(scope: ast.AST, *, enter_classes: bool = True) -> Iterator[ast.AST]:
    """Every node of one scope; nested functions are yielded but not entered.

    A class body runs in the enclosing scope, but what it binds is not visible to the
    functions there: ``enter_classes=False`` leaves class bodies out.
    """
    stack = list(ast.iter_child_nodes(scope))
    while stack:
        node = stack.pop()
        yield node
        if isinstance(node, ast.ClassDef) and not enter_classes:
            stack.extend((*node.bases, *node.decorator_list))
            continue
        if isinstance(node, _SCOPES):
            # Defaults and decorators run in the enclosing scope.
            stack.extend(node.args.defaults)
            stack.extend(d for d in node.args.kw_defaults if d is not None)
            if not isinstance(node, ast.Lambda):
                stack.extend(node.decorator_list)
            continue
        stack.extend(ast.iter_child_nodes(node))


def _module_name(rel: str) -> tuple[str, str]:
    path = rel.removesuffix(".py")
    if path == "__init__":
        return "", ""
    if path.endswith("/__init__"):
        name = path.removesuffix("/__init__")
        return name, name
    return path, path.rpartition("/")[0]


class Project:
    """Every parseable Python file of one plugin, indexed for name resolution."""

    def __init__(self, source: PluginSource) -> None:
        self.source = source
        self.modules: list[Module] = []
        self.unparsable: list[str] = []
        self._by_name: dict[str, Module] = {}
        self._packages: set[str] = {""}
        for rel in source.python_files:
            try:
                tree = ast.parse((source.root / rel).read_bytes(), filename=rel)
            except (SyntaxError, ValueError, OSError):
                self.unparsable.append(rel)  # runtime.gate.code reports these
                continue
            name, package = _module_name(rel)
            module = Module(rel, name, package, tree)
            self.modules.append(module)
            self._by_name[name] = module
            parts = name.split("/")
            self._packages.update("/".join(parts[:i]) for i in range(1, len(parts)))
        for module in self.modules:
            _index(self, module)

    # -- modules ----------------------------------------------------------------------------

    def is_local(self, dotted: str) -> bool:
        first = dotted.split(".")[0]
        if first in sys.stdlib_module_names:
            return False
        return first in self._by_name or first in self._packages

    def module_target(self, dotted: str, level: int, module: Module) -> Target | None:
        if level == 0:
            if self.is_local(dotted):
                return Local(dotted.replace(".", "/"))
            return CANONICAL_MODULES.get(dotted, dotted)
        parts = module.package.split("/") if module.package else []
        if level - 1 > len(parts):
            return None  # above the plugin folder
        parts = parts[: len(parts) - (level - 1)]
        parts += [p for p in dotted.split(".") if p]
        return Local("/".join(parts))

    # -- resolution -------------------------------------------------------------------------

    def external(self, target: Target) -> str | None:
        """The external name a binding stands for, following plugin modules."""
        found = self._finish(target, 0)
        return found if isinstance(found, str) else None

    def qualname(self, module: Module, expr: ast.expr) -> str | None:
        """The dotted external name ``expr`` refers to, or None for locals and plugin code."""
        target = self._resolve(module, expr, 0)
        return target if isinstance(target, str) else None

    def _resolve(self, module: Module, expr: ast.expr, depth: int) -> Target | None:
        if depth > MAX_DEPTH:
            return None
        if isinstance(expr, ast.Name):
            return self._resolve_name(module, expr, depth)
        if isinstance(expr, ast.Attribute):
            return self._attribute(self._resolve(module, expr.value, depth + 1), expr.attr, depth)
        if isinstance(expr, ast.Call):
            return self._resolve_call(module, expr, depth)
        if isinstance(expr, ast.Subscript):
            key = fold(expr.slice)
            if key is None:
                return None
            base = self._resolve(module, expr.value, depth + 1)
            if base == "sys.modules":
                return self.module_target(key, 0, module)
            if isinstance(base, str) and base.endswith(".__dict__"):
                base = base.removesuffix(".__dict__")
            if base == "builtins":
                return f"builtins.{key}"
        return None

    def _resolve_name(self, module: Module, expr: ast.Name, depth: int) -> Target | None:
        name = expr.id
        if name in module.imports:
            return self._finish(module.imports[name], depth)
        if name in module.aliases:
            return self._resolve(module, module.aliases[name], depth + 1)
        if name == "__builtins__":
            return "builtins"
        if id(expr) in module.shadowed:
            return None
        if name in BUILTIN_NAMES:
            return f"builtins.{name}"
        if module.stars:
            return self._attribute(module.stars[-1], name, depth)
        return None

    def _resolve_call(self, module: Module, call: ast.Call, depth: int) -> Target | None:
        func = self._resolve(module, call.func, depth + 1)
        if not isinstance(func, str) or not call.args:
            return None
        if func in DYNAMIC_IMPORTS:
            name = fold(call.args[0])
            if name is None or name.startswith("."):
                return None
            # __import__("a.b") returns "a" unless a fromlist is given.
            if func == "builtins.__import__" and len(call.args) < 4 and not call.keywords:
                name = name.split(".")[0]
            return self.module_target(name, 0, module)
        if func == "builtins.getattr" and len(call.args) >= 2:
            attr = fold(call.args[1])
            if attr is not None:
                return self._attribute(self._resolve(module, call.args[0], depth + 1), attr, depth)
        return None

    def _attribute(self, base: Target | None, attr: str, depth: int) -> Target | None:
        if base is None:
            return None
        if isinstance(base, str):
            return CANONICAL_MODULES.get(base, base) + "." + attr
        return self._finish(Local(base.module, (*base.attrs, attr)), depth)

    def _finish(self, target: Target, depth: int) -> Target | None:
        """Follow a plugin-local name into the module that defines or imports it."""
        if isinstance(target, str) or not target.attrs or depth > MAX_DEPTH:
            return target
        first, rest = target.attrs[0], target.attrs[1:]
        owner = self._by_name.get(target.module)
        if owner is not None and first in owner.imports:
            found = self._finish(owner.imports[first], depth + 1)
        elif owner is not None and first in owner.aliases:
            found = self._resolve(owner, owner.aliases[first], depth + 1)
        else:
            sub = f"{target.module}/{first}" if target.module else first
            if sub in self._by_name or sub in self._packages:
                return self._finish(Local(sub, rest), depth + 1)
            return None  # a function, class or variable of the plugin
        for attr in rest:
            found = self._attribute(found, attr, depth + 1)
        return found


def _index(project: Project, module: Module) -> None:
    stores: Counter[str] = Counter()
    single: dict[str, ast.expr] = {}
    for node in ast.walk(module.tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                target = project.module_target(alias.name, 0, module)
                if target is None:
                    continue
                if alias.asname:
                    module.imports[alias.asname] = target
                else:
                    top = alias.name.split(".")[0]
                    module.imports[top] = project.module_target(top, 0, module) or top
        elif isinstance(node, ast.ImportFrom):
            base = project.module_target(node.module or "", node.level, module)
            if base is None:
                continue
            for alias in node.names:
                if alias.name == "*":
                    module.stars.append(base)
                elif isinstance(base, str):
                    module.imports[alias.asname or alias.name] = f"{base}.{alias.name}"
                else:
                    module.imports[alias.asname or alias.name] = Local(base.module, (alias.name,))
        elif isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store | ast.Del):
            stores[node.id] += 1
        elif isinstance(node, ast.arg):
            stores[node.arg] += 1
        elif isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            stores[node.name] += 1
        if (
            isinstance(node, ast.Assign)
            and len(node.targets) == 1
            and isinstance(node.targets[0], ast.Name)
        ):
            single[node.targets[0].id] = node.value
        elif (
            isinstance(node, ast.AnnAssign | ast.NamedExpr)
            and node.value is not None
            and isinstance(node.target, ast.Name)
        ):
            single[node.target.id] = node.value
    module.aliases = {
        name: value
        for name, value in single.items()
        if stores[name] == 1 and name not in module.imports
    }
    _mark_shadowed(module.tree, frozenset(), module.shadowed)


def _bound_in(scope: ast.AST) -> set[str]:
    names: set[str] = set()
    if isinstance(scope, _SCOPES):
        a = scope.args
        for arg in (*a.posonlyargs, *a.args, *a.kwonlyargs, a.vararg, a.kwarg):
            if arg is not None:
                names.add(arg.arg)
    declared_global: set[str] = set()
    for node in scope_nodes(scope, enter_classes=False):
        if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store | ast.Del):
            names.add(node.id)
        elif isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            names.add(node.name)
        elif isinstance(node, ast.Import | ast.ImportFrom):
            names.update((a.asname or a.name).split(".")[0] for a in node.names)
        elif isinstance(node, ast.Global | ast.Nonlocal):
            declared_global.update(node.names)
        elif isinstance(node, ast.ExceptHandler) and node.name:
            names.add(node.name)
    return names - declared_global


def _mark_shadowed(scope: ast.AST, outer: frozenset[str], out: set[int]) -> None:
    bound = outer | (_bound_in(scope) & BUILTIN_NAMES)
    for node in scope_nodes(scope):
        if isinstance(node, ast.Name) and node.id in bound:
            out.add(id(node))
        elif isinstance(node, _SCOPES):
            _mark_shadowed(node, bound, out)


# -- constant folding -----------------------------------------------------------------------


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
        left, right = _fold(expr.left, depth + 1), _fold(expr.right, depth + 1)
        if isinstance(left, str) and isinstance(right, str):
            return _capped(left + right)
        if isinstance(left, bytes) and isinstance(right, bytes):
            return _capped(left + right)
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
