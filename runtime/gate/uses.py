"""Every use of a capability in one module: network, processes, environment, native and
dynamic code, file writes, each with its line, its enclosing function and the call as resolved.

A reference counts as a use, not only a call: ``f = os.system`` already hands the capability
to ``f``. Environment reads are judged by their key (``os.environ["NAME"]`` reads NAME; a
computed key, a copy or an iteration reads everything); writes to the worker's own
environment are free. File writes are recorded only for constant absolute paths, or constant
prefixes of them: relative paths and tempfile land in the worker's private work dir.
"""

from __future__ import annotations

import ast
import posixpath
from dataclasses import dataclass
from typing import Final

from runtime.gate.fold import fold
from runtime.gate.pyscan import DYNAMIC_IMPORTS, Local, Module, Project
from runtime.gate.rules import (
    ENV_GETTERS,
    ENV_KEYED_METHODS,
    ENV_OBJECTS,
    ENV_REFERENCE,
    OPEN_CALLS,
    PATH_METHODS,
    PATH_TYPES,
    PATH_WRITES,
    SENSITIVE_MODULES,
    WRITE_FLAGS,
    classify,
)

__all__ = ["Use", "find_uses"]


@dataclass(frozen=True)
class Use:
    """One use of a capability: ``name`` is the variable (env) or path (fs-write), if any."""

    kind: str  # network, subprocess, native, dynamic-code, env, fs-write
    what: str  # the call or name as resolved: "requests.post", "os.environ.copy"
    line: int
    scope: ast.AST  # innermost function, or the module
    node: ast.AST  # the reference, subscript or call that uses it
    name: str | None = None


def find_uses(project: Project, module: Module) -> list[Use]:
    return _Uses(project, module).run()


def _arg(call: ast.Call, index: int, *names: str) -> ast.expr | None:
    if len(call.args) > index and not isinstance(call.args[index], ast.Starred):
        return call.args[index]
    return next((k.value for k in call.keywords if k.arg in names), None)


_Children = list[ast.AST | None]  # None closes the scope of the function opened before it
_SCOPE_NODES: Final = (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)


class _Uses:
    """Walks one module with an explicit stack: a valid file may nest thousands deep."""

    def __init__(self, project: Project, module: Module) -> None:
        self.project = project
        self.module = module
        self.uses: list[Use] = []
        self.scopes: list[ast.AST] = [module.tree]

    def run(self) -> list[Use]:
        stack: _Children = [self.module.tree]
        while stack:
            node = stack.pop()
            if node is None:
                self.scopes.pop()
                continue
            if isinstance(node, _SCOPE_NODES):
                self.scopes.append(node)
                stack.append(None)
            stack.extend(reversed(self._step(node)))
        return self.uses

    def _step(self, node: ast.AST) -> _Children:
        """Judge one node; answer the children still to walk."""
        if isinstance(node, ast.Import):
            for alias in node.names:
                self._imported(self.project.module_target(alias.name, 0, self.module), node)
            return []
        if isinstance(node, ast.ImportFrom):
            self._import_from(node)
            return []
        if isinstance(node, ast.Name | ast.Attribute) and self._reference(node):
            return []
        if isinstance(node, ast.Assign) and self._env_alias(node):
            return []
        if isinstance(node, ast.Call):
            return self._call(node)
        if isinstance(node, ast.Subscript) and self.qualname(node.value) in ENV_OBJECTS:
            if isinstance(node.ctx, ast.Load):  # writing the worker's own environment is free
                self._env_read(node.slice, "os.environ[...]", node)
            return [node.slice]
        if (
            isinstance(node, ast.Compare)
            and len(node.ops) == 1
            and isinstance(node.ops[0], ast.In | ast.NotIn)
            and self.qualname(node.comparators[0]) in ENV_OBJECTS
        ):
            self._env_read(node.left, "... in os.environ", node)
            return [node.left]
        return list(ast.iter_child_nodes(node))

    def add(self, kind: str, what: str, node: ast.AST, name: str | None = None) -> None:
        line = getattr(node, "lineno", 0)
        self.uses.append(Use(kind, what, line, self.scopes[-1], node, name))

    def qualname(self, expr: ast.expr) -> str | None:
        return self.project.qualname(self.module, expr)

    # -- imports and references -------------------------------------------------------------

    def _import_from(self, node: ast.ImportFrom) -> None:
        base = self.project.module_target(node.module or "", node.level, self.module)
        if isinstance(base, str):
            for alias in node.names:
                self._imported(base if alias.name == "*" else f"{base}.{alias.name}", node)
        elif base is not None:
            # A plugin module re-exporting a capability: from .net import dial
            for alias in node.names:
                if alias.name != "*":
                    self._imported(self.project.external(Local(base.module, (alias.name,))), node)

    def _imported(self, target: str | Local | None, node: ast.AST) -> None:
        # Importing environ or getenv reads nothing; its uses are judged where they happen.
        if isinstance(target, str) and target not in ENV_OBJECTS | ENV_GETTERS:
            kind = classify(target)
            if kind:
                self.add(kind, target, node)

    def _reference(self, node: ast.Name | ast.Attribute) -> bool:
        """Judge a resolvable name; False when it does not resolve (walk its parts instead)."""
        if not isinstance(node.ctx, ast.Load):
            return isinstance(node, ast.Name)
        name = self.qualname(node)
        if name is None:
            return isinstance(node, ast.Name)
        self._judge(name, node)
        return True

    def _judge(self, name: str, node: ast.expr) -> None:
        if name in ENV_OBJECTS or name.rpartition(".")[0] in ENV_OBJECTS or name in ENV_GETTERS:
            self.add("env", name, node)
        elif name in DYNAMIC_IMPORTS:
            self.add("dynamic-code", name, node)
        elif kind := classify(name):
            self.add(kind, name, node)

    def _env_alias(self, node: ast.Assign) -> bool:
        # ``env = os.environ`` reads nothing yet: every use of the alias resolves to
        # os.environ and is judged where it happens (env["KEY"] is one declared variable).
        target = node.targets[0] if len(node.targets) == 1 else None
        return (
            isinstance(target, ast.Name)
            and self.module.aliases.get(target.id) is node.value
            and self.qualname(node.value) in ENV_OBJECTS | ENV_GETTERS
        )

    # -- calls and subscripts ---------------------------------------------------------------

    def _call(self, node: ast.Call) -> _Children:
        # getattr(os, "sys" + "tem") and __import__("requests") name a capability themselves.
        itself = self.qualname(node)
        if itself is not None:
            self._judge(itself, node)
        name = self.qualname(node.func)
        if name is not None and self._special_call(name, node):
            return [*node.args, *(k.value for k in node.keywords)]
        if name is not None:
            self._file_write(name, node)
        if isinstance(node.func, ast.Attribute) and node.func.attr in PATH_METHODS:
            self._path_method(node.func.attr, node.func.value, node)
        return list(ast.iter_child_nodes(node))

    def _special_call(self, name: str, node: ast.Call) -> bool:
        """Calls judged by their arguments; True when the callee itself needs no more visits."""
        owner, _, method = name.rpartition(".")
        if name in ENV_GETTERS or (owner in ENV_OBJECTS and method in ENV_KEYED_METHODS):
            key = _arg(node, 0, "key")
            self._env_read(key, name, node)
            return True
        if name == "os.path.expandvars":
            text = _arg(node, 0, "path")
            folded = fold(text) if text is not None else None
            if folded is None:
                self.add("env", name, node)
            for match in ENV_REFERENCE.finditer(folded or ""):
                self.add("env", name, node, match[1] or match[2])
            return True
        if name in DYNAMIC_IMPORTS:
            target = _arg(node, 0, "name")
            module = fold(target) if target is not None else None
            resolved = self.project.module_target(module, 0, self.module) if module else None
            if module is None or module.startswith("."):
                self.add("dynamic-code", f"{name}(<computed name>)", node)
            elif isinstance(resolved, str) and (kind := classify(resolved)):
                self.add(kind, resolved, node)
            return True
        if name == "builtins.getattr" and len(node.args) >= 2 and fold(node.args[1]) is None:
            base = self.qualname(node.args[0])
            if base is not None and base.split(".")[0] in SENSITIVE_MODULES:
                self.add("dynamic-code", f"getattr({base}, <computed name>)", node)
            return False
        if name == "socket.socket":
            family = _arg(node, 0, "family")
            # UNIX sockets are scoped by permissions.unix_sockets and the sandbox, not network.
            return family is not None and self.qualname(family) == "socket.AF_UNIX"
        return False

    def _env_read(self, key: ast.expr | None, what: str, node: ast.AST) -> None:
        name = fold(key) if key is not None else None
        self.add("env", what, node, name)

    # -- file writes ------------------------------------------------------------------------

    def _file_write(self, name: str, node: ast.Call) -> None:
        if name in OPEN_CALLS:
            mode = _arg(node, 1, "mode")
            text = fold(mode) if mode is not None else "r"
            if text is not None and set(text) & set("wax+"):
                self._check_path(_arg(node, 0, "file", "filename"), name, node)
        elif name == "os.open":
            flags = _arg(node, 1, "flags")
            names = {
                self.qualname(n)
                for n in ast.walk(flags or ast.Constant(0))
                if isinstance(n, ast.expr)
            }
            if names & WRITE_FLAGS:
                self._check_path(_arg(node, 0, "path"), name, node)
        for index in PATH_WRITES.get(name, ()):
            self._check_path(_arg(node, index), name, node)

    def _path_method(self, method: str, receiver: ast.expr, node: ast.Call) -> None:
        if self._const_path(receiver, 0) is None:
            return
        if method == "open":
            mode = _arg(node, 0, "mode")
            text = fold(mode) if mode is not None else "r"
            if text is None or not set(text) & set("wax+"):
                return
        self._check_path(receiver, f"Path.{method}", node)
        if method in ("rename", "replace"):
            self._check_path(_arg(node, 0, "target"), f"Path.{method}", node)

    def _check_path(self, expr: ast.expr | None, what: str, node: ast.AST) -> None:
        found = self._const_path(expr, 0) if expr is not None else None
        if found is None or not found[0].startswith("/"):
            return  # computed or relative: the sandbox decides, in the work dir by default
        path, partial = found
        normal = posixpath.normpath(path)
        where = normal if not partial or path.endswith("/") else posixpath.dirname(normal)
        shown = f"{where}/..." if partial else normal
        self.add("fs-write", what, node, shown)

    def _const_path(self, expr: ast.expr | None, depth: int) -> tuple[str, bool] | None:
        """A constant path, or a constant prefix of one (``partial``), that ``expr`` names."""
        if expr is None or depth > 8:
            return None
        text = fold(expr)
        if text is not None:
            return text, False
        if isinstance(expr, ast.Name) and expr.id in self.module.aliases:
            return self._const_path(self.module.aliases[expr.id], depth + 1)
        if isinstance(expr, ast.JoinedStr) and expr.values:
            head = fold(expr.values[0])
            return (head, True) if head else None
        if isinstance(expr, ast.BinOp) and isinstance(expr.op, ast.Div | ast.Add):
            return self._joined(expr.left, [expr.right], depth)
        if isinstance(expr, ast.Call) and expr.args:
            callee = self.qualname(expr.func)
            if callee in PATH_TYPES:
                return self._joined(expr.args[0], expr.args[1:], depth)
            if callee in ("os.fspath", "builtins.str", "os.path.abspath", "os.path.normpath"):
                return self._const_path(expr.args[0], depth + 1)
        return None

    def _joined(self, head: ast.expr, rest: list[ast.expr], depth: int) -> tuple[str, bool] | None:
        base = self._const_path(head, depth + 1)
        if base is None or base[1]:
            return base
        path = base[0]
        for part in rest:
            text = fold(part)
            if text is None:
                return path.rstrip("/") + "/", True
            path = posixpath.join(path, text)
        return path, False
