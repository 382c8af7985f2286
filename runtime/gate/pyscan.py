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

Names passed as strings (``__import__``, ``getattr``, ``sys.modules[...]``) are read through
``runtime.gate.fold``, so ``__import__("o" + "s")`` is ``os`` too.
"""

from __future__ import annotations

import ast
import builtins
import sys
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Final

from runtime.gate.findings import PluginSource
from runtime.gate.fold import fold

__all__ = [
    "Local",
    "Module",
    "Project",
    "is_test_file",
    "scope_nodes",
]

BUILTIN_NAMES: Final = frozenset(dir(builtins))
# Low-level twins that expose the same calls; a scan keyed on "os" must see them as "os".
CANONICAL_MODULES: Final = {"posix": "os", "_socket": "socket", "nt": "os"}
# Resolution recurses over attacker-written code (alias chains, re-exports): bound it.
MAX_DEPTH: Final = 24
DYNAMIC_IMPORTS: Final = frozenset(
    {"builtins.__import__", "importlib.import_module", "importlib.__import__"}
)
_SCOPES: Final = (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)
_NAMED_BINDERS: Final = (
    ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef, ast.ExceptHandler, ast.MatchAs,
    ast.MatchStar,
)  # fmt: skip


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
            except (SyntaxError, ValueError, OSError, RecursionError):
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
        elif isinstance(node, _NAMED_BINDERS):
            if node.name:
                stores[node.name] += 1
        elif isinstance(node, ast.Global | ast.Nonlocal):
            stores.update(dict.fromkeys(node.names, 2))  # rebound elsewhere: never an alias
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
    _mark_shadowed(module.tree, module.shadowed)


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


def _mark_shadowed(tree: ast.Module, out: set[int]) -> None:
    """Record the builtin names a local binding hides, scope by scope (lambdas nest deep)."""
    todo: list[tuple[ast.AST, frozenset[str]]] = [(tree, frozenset())]
    while todo:
        scope, outer = todo.pop()
        bound = outer | (_bound_in(scope) & BUILTIN_NAMES)
        for node in scope_nodes(scope):
            if isinstance(node, ast.Name) and node.id in bound:
                out.add(id(node))
            elif isinstance(node, _SCOPES):
                todo.append((node, bound))
