"""A small taint analysis over one module: where decoded, downloaded and secret data flows.

Theory of operation. Each function body (and the module body) is one scope. Expressions carry
labels: ``decoded`` (base64, hex, zlib, marshal, chr()-built or reversed strings), ``net``
(anything a network call returned, and the connection objects themselves), ``secret`` (the
whole environment, an undeclared variable, a path such as ~/.ssh or /etc/passwd) and
``param:<name>`` (a function's own parameter). An expression's labels are the union over
every node in it, and assignments, loop targets, ``with ... as``, ``x.append(...)`` and
``x[k] = ...`` give their labels to the names they bind: flow-insensitive, iterated to a fixed
point. That over-approximates on purpose; these are heuristics for review.

Functions of the module are summarised (labels of what they return, which parameters reach an
exec, a subprocess or the network) so ``send(collect())`` is seen across two functions. Then
each scope is checked for three flows, and for the plain co-occurrence of their ends in one
function, which is how the simple malicious packages are written:

    decoded -> exec/eval/compile/pickle.loads             exec-decoded
    net     -> exec/eval/subprocess, or net -> file plus a chmod   download-exec
    secret  -> any network call                           exfiltration
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Final

from runtime.gate.capabilities import ALWAYS_SET_ENV
from runtime.gate.pyscan import Module, Project
from runtime.gate.rules import classify
from runtime.gate.uses import Use, find_uses

__all__ = ["DECODERS", "EXEC_SINKS", "Flow", "analyse_module"]

DECODERS: Final = frozenset(
    {"base64.b64decode", "base64.standard_b64decode", "base64.urlsafe_b64decode",
     "base64.b32decode", "base64.b32hexdecode", "base64.b16decode", "base64.a85decode",
     "base64.b85decode", "base64.decodebytes", "codecs.decode", "binascii.a2b_base64",
     "binascii.a2b_hex", "binascii.unhexlify", "binascii.a2b_uu", "zlib.decompress",
     "gzip.decompress", "bz2.decompress", "lzma.decompress", "marshal.loads",
     "builtins.bytes.fromhex", "builtins.bytearray.fromhex", "builtins.chr"}
)  # fmt: skip
EXEC_SINKS: Final = frozenset(
    {"builtins.exec", "builtins.eval", "builtins.compile", "pickle.loads", "_pickle.loads",
     "dill.loads", "cloudpickle.loads", "types.FunctionType"}
)  # fmt: skip
SENSITIVE_PATH: Final = re.compile(
    r"(^|/|~)(\.ssh|\.aws|\.gnupg|\.kube|\.docker|\.netrc|\.git-credentials|\.pgpass|"
    r"\.bash_history|\.zsh_history|id_rsa|id_ed25519|\.config/gcloud)(/|$)|"
    r"^/etc/(passwd|shadow|sudoers)$|^/proc/(self|\d+)/environ$"
)
_MUTATORS: Final = frozenset({"append", "extend", "update", "add", "insert", "write", "put"})
_WRITES: Final = frozenset({"write", "write_bytes", "write_text", "writelines"})
MAX_ROUNDS: Final = 8
# f(g(h(...))) through this module's own functions: deeper nesting adds no labels.
MAX_CALL_NESTING: Final = 32


@dataclass(frozen=True)
class Flow:
    rule: str  # exec-decoded, download-exec, exfiltration
    line: int
    message: str


@dataclass
class _Summary:
    params: tuple[str, ...] = ()
    returns: frozenset[str] = frozenset()
    origins: dict[str, tuple[int, str]] = field(default_factory=dict)  # label -> (line, what)
    sinks: dict[str, set[str]] = field(default_factory=dict)


@dataclass
class _Shape:
    static: set[str] = field(default_factory=set)
    origins: list[tuple[str, int, str]] = field(default_factory=list)
    names: list[str] = field(default_factory=list)  # bound names and self.attrs it reads
    calls: list[ast.Call] = field(default_factory=list)  # calls of this module's functions

    def add(self, label: str, line: int, what: str) -> None:
        self.static.add(label)
        self.origins.append((label, line, what))


@dataclass
class _Scope:
    node: ast.AST
    env: dict[str, set[str]] = field(default_factory=dict)
    # first source of each label in this scope: (line, what)
    sources: dict[str, tuple[int, str]] = field(default_factory=dict)


def _walk(scope: ast.AST) -> Iterator[ast.AST]:
    """Nodes of one scope: nested functions are left out; lambdas and class bodies are in."""
    stack = list(ast.iter_child_nodes(scope))
    while stack:
        node = stack.pop()
        yield node
        if not isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            stack.extend(ast.iter_child_nodes(node))
        elif isinstance(node, ast.ClassDef):
            stack.extend(node.body)  # class bodies run in the defining scope


def _root(expr: ast.expr) -> str | None:
    """``x`` for x, x.a, x[k], x.a[k].b; ``self.a`` for attributes of self."""
    while isinstance(expr, ast.Subscript | ast.Attribute | ast.Starred):
        if (
            isinstance(expr, ast.Attribute)
            and isinstance(expr.value, ast.Name)
            and expr.value.id in ("self", "cls")
        ):
            return f"{expr.value.id}.{expr.attr}"
        expr = expr.value
    return expr.id if isinstance(expr, ast.Name) else None


def _targets(expr: ast.expr) -> Iterator[str]:
    if isinstance(expr, ast.Tuple | ast.List):
        for elt in expr.elts:
            yield from _targets(elt)
    elif (root := _root(expr)) is not None:
        yield root


class _Analysis:
    def __init__(self, project: Project, module: Module, declared_env: frozenset[str]) -> None:
        self.project = project
        self.module = module
        self.sources: dict[int, tuple[str, str]] = {}  # id(node) -> (label, what)
        self.uses = find_uses(project, module)
        for use in self.uses:
            label = _use_label(use, declared_env)
            if label:
                self.sources[id(use.node)] = (label, use.what)
        self.functions: dict[str, list[ast.FunctionDef | ast.AsyncFunctionDef]] = {}
        for node in ast.walk(module.tree):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                self.functions.setdefault(node.name, []).append(node)
        self.summaries: dict[str, _Summary] = {}
        self.calls: dict[int, str | None] = {}
        self.flows: list[Flow] = []
        self._bound: dict[int, list[tuple[list[str], ast.AST]]] = {}
        self._shapes: dict[int, _Shape] = {}
        self._nodes: dict[int, list[ast.AST]] = {}
        self._depth = 0
        self._arguments: dict[int, ast.Tuple] = {}

    def worth_analysing(self) -> bool:
        """Whether both ends of some flow exist in this module; most modules have neither."""
        kinds = {use.kind for use in self.uses}
        execs = secret = writes = False
        for node in ast.walk(self.module.tree):
            if isinstance(node, ast.Call):
                func = node.func
                if isinstance(func, ast.Attribute) and func.attr in (*_WRITES, "chmod"):
                    writes = True
                elif self.qualname(func) in EXEC_SINKS:
                    execs = True
            elif isinstance(node, ast.Constant) and isinstance(node.value, str):
                secret = secret or bool(len(node.value) < 256 and SENSITIVE_PATH.search(node.value))
        secret = secret or any(label == "secret" for label, _ in self.sources.values())
        if execs:
            return True
        return "network" in kinds and (secret or writes or "subprocess" in kinds)

    def qualname(self, expr: ast.expr) -> str | None:
        key = id(expr)
        if key not in self.calls:
            self.calls[key] = self.project.qualname(self.module, expr)
        return self.calls[key]

    # -- labels -----------------------------------------------------------------------------

    def labels(self, expr: ast.AST, scope: _Scope) -> set[str]:
        shape = self._shape(expr)
        found = set(shape.static)
        for label, line, what in shape.origins:
            _note(scope.sources, label, (line, what))
        for name in shape.names:
            found |= scope.env.get(name, set())
        for call in shape.calls:
            found |= self._summary_labels(call, scope)
        return found

    def _shape(self, expr: ast.AST) -> _Shape:
        """What in ``expr`` is labelled whatever the scope; computed once per expression."""
        shape = self._shapes.get(id(expr))
        if shape is not None:
            return shape
        shape = self._shapes[id(expr)] = _Shape()
        for node in (expr, *_walk(expr)):
            line = getattr(node, "lineno", 0)
            if id(node) in self.sources:
                label, what = self.sources[id(node)]
                shape.add(label, line, what)
            if isinstance(node, ast.Name):
                shape.names.append(node.id)
            elif isinstance(node, ast.Attribute) and (root := _root(node)) is not None:
                shape.names.append(root)
            elif isinstance(node, ast.Constant) and isinstance(node.value, str):
                if len(node.value) < 256 and SENSITIVE_PATH.search(node.value):
                    shape.add("secret", line, repr(node.value))
            elif isinstance(node, ast.Subscript) and _reversal(node):
                shape.add("decoded", line, "a reversed string")
            elif isinstance(node, ast.Call):
                name = self.qualname(node.func)
                if name in DECODERS:
                    shape.add("decoded", line, name or "")
                elif name is not None and classify(name) == "network":
                    shape.add("net", line, name)
                elif self._local_call(node, name):
                    shape.calls.append(node)
        return shape

    def _summary_labels(self, call: ast.Call, scope: _Scope) -> set[str]:
        summary = self._summary_for(call, self.qualname(call.func))
        if summary is None or self._depth > MAX_CALL_NESTING:
            return set()
        result = {label for label in summary.returns if not label.startswith("param:")}
        for label in result:
            _note(scope.sources, label, summary.origins.get(label, (call.lineno, "a call")))
        self._depth += 1
        try:
            for param, arg in self._bind(call, summary):
                if f"param:{param}" in summary.returns:
                    result |= self.labels(arg, scope)
        finally:
            self._depth -= 1
        return result

    @staticmethod
    def _local_call(call: ast.Call, name: str | None) -> bool:
        func = call.func
        if name is None and isinstance(func, ast.Name):
            return True
        return isinstance(func, ast.Attribute) and _root(func.value) in ("self", "cls")

    def nodes(self, scope: ast.AST) -> list[ast.AST]:
        found = self._nodes.get(id(scope))
        if found is None:
            found = self._nodes[id(scope)] = list(_walk(scope))
        return found

    def arguments(self, call: ast.Call) -> ast.Tuple:
        """The call's arguments as one expression, kept alive so its id stays its own."""
        found = self._arguments.get(id(call))
        if found is None:
            found = self._arguments[id(call)] = _arguments(call)
        return found

    def _summary_for(self, call: ast.Call, name: str | None) -> _Summary | None:
        func = call.func
        if name is None and isinstance(func, ast.Name):
            return self.summaries.get(func.id)
        if isinstance(func, ast.Attribute) and _root(func.value) in ("self", "cls"):
            return self.summaries.get(func.attr)
        return None

    @staticmethod
    def _bind(call: ast.Call, summary: _Summary) -> Iterator[tuple[str, ast.expr]]:
        params = summary.params
        if params[:1] in (("self",), ("cls",)) and isinstance(call.func, ast.Attribute):
            params = params[1:]
        yield from zip(params, call.args, strict=False)
        for keyword in call.keywords:
            if keyword.arg in params:
                yield keyword.arg, keyword.value

    # -- scopes -----------------------------------------------------------------------------

    def run_scope(self, node: ast.AST) -> _Scope:
        scope = _Scope(node)
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            a = node.args
            for arg in (*a.posonlyargs, *a.args, *a.kwonlyargs, a.vararg, a.kwarg):
                if arg is not None:
                    scope.env[arg.arg] = {f"param:{arg.arg}"}
        bindings = self._bound.get(id(node))
        if bindings is None:
            bindings = self._bound[id(node)] = list(self._bindings(node))
        for _ in range(MAX_ROUNDS):
            changed = False
            for targets, value in bindings:
                labels = self.labels(value, scope)
                for target in targets:
                    known = scope.env.setdefault(target, set())
                    if not labels <= known:
                        known |= labels
                        changed = True
            if not changed:
                break
        return scope

    def _bindings(self, scope: ast.AST) -> Iterator[tuple[list[str], ast.AST]]:
        for node in self.nodes(scope):
            if isinstance(node, ast.Assign):
                yield [t for target in node.targets for t in _targets(target)], node.value
            elif isinstance(node, ast.AugAssign | ast.AnnAssign | ast.NamedExpr) and node.value:
                yield list(_targets(node.target)), node.value
            elif isinstance(node, ast.For | ast.AsyncFor | ast.comprehension):
                yield list(_targets(node.target)), node.iter
            elif isinstance(node, ast.withitem) and node.optional_vars is not None:
                yield list(_targets(node.optional_vars)), node.context_expr
            elif (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Attribute)
                and node.func.attr in _MUTATORS
                and (root := _root(node.func.value)) is not None
            ):
                yield [root], self.arguments(node)

    def summarise(self) -> None:
        for _ in range(MAX_ROUNDS):
            before = {k: (v.returns, {p: set(s) for p, s in v.sinks.items()})
                      for k, v in self.summaries.items()}  # fmt: skip
            for name, defs in self.functions.items():
                summary = _Summary(params=_params(defs[0]))
                for node in defs:
                    scope = self.run_scope(node)
                    for ret in self.nodes(node):
                        if isinstance(ret, ast.Return | ast.Yield) and ret.value is not None:
                            summary.returns |= self.labels(ret.value, scope)
                    for label, origin in scope.sources.items():
                        summary.origins.setdefault(label, origin)
                    self.check(scope, summary, report=False)
                self.summaries[name] = summary
            after = {k: (v.returns, v.sinks) for k, v in self.summaries.items()}
            if after == before:
                break

    # -- sinks ------------------------------------------------------------------------------

    def check(self, scope: _Scope, summary: _Summary | None, *, report: bool) -> None:
        """Find the sinks of one scope: record them in ``summary``, report flows if asked."""
        facts: dict[str, int] = {}
        for node in self.nodes(scope.node):
            if not isinstance(node, ast.Call):
                continue
            name = self.qualname(node.func)
            kind = classify(name) if name else None
            labels = self.labels(self.arguments(node), scope)
            receiver = (
                self.labels(node.func.value, scope) if isinstance(node.func, ast.Attribute) else
                set()
            )  # fmt: skip
            sinks: set[str] = set()
            if name in EXEC_SINKS:
                sinks.add("exec")
                facts.setdefault("exec", node.lineno)
            if kind == "subprocess":
                sinks.add("subprocess")
                facts.setdefault("subprocess", node.lineno)
            if kind == "network" or "net" in receiver:
                sinks.add("network")
                facts.setdefault("net", node.lineno)
            if name in ("os.chmod", "os.fchmod") or (
                isinstance(node.func, ast.Attribute) and node.func.attr == "chmod"
            ):
                facts.setdefault("chmod", node.lineno)
            writes = isinstance(node.func, ast.Attribute) and node.func.attr in _WRITES
            if (writes and "net" in labels) or name == "urllib.request.urlretrieve":
                facts.setdefault("net-write", node.lineno)
            callee = self._summary_for(node, name)
            if callee is not None:
                for param, arg in self._bind(node, callee):
                    for sink in callee.sinks.get(param, ()):
                        self._sink(sink, self.labels(arg, scope), node, scope, summary, report)
            for sink in sinks:
                self._sink(sink, labels, node, scope, summary, report)
        if report:
            self._co_occurrence(scope, facts)

    def _sink(
        self,
        sink: str,
        labels: set[str],
        node: ast.Call,
        scope: _Scope,
        summary: _Summary | None,
        report: bool,
    ) -> None:
        if summary is not None:
            for label in labels:
                if label.startswith("param:"):
                    summary.sinks.setdefault(label.removeprefix("param:"), set()).add(sink)
        if not report:
            return
        rules = {
            ("exec", "decoded"): "exec-decoded",
            ("exec", "net"): "download-exec",
            ("subprocess", "net"): "download-exec",
            ("network", "secret"): "exfiltration",
        }
        for (kind, label), rule in rules.items():
            if kind == sink and label in labels:
                line, what = scope.sources.get(label, (node.lineno, "?"))
                self.flows.append(Flow(rule, node.lineno, _describe(rule, what, line)))

    def _co_occurrence(self, scope: _Scope, facts: dict[str, int]) -> None:
        secret = self._secret_read(scope.node)
        if secret and "net" in facts:
            message = (
                f"reads secrets ({secret[1]}, line {secret[0]}) and uses the network "
                f"(line {facts['net']}) in one function"
            )
            self.flows.append(Flow("exfiltration", secret[0], message))
        if "net" in facts and "exec" in facts:
            message = (
                f"downloads (line {facts['net']}) and runs code (line {facts['exec']}) "
                "in one function"
            )
            self.flows.append(Flow("download-exec", facts["exec"], message))
        if "net-write" in facts and "chmod" in facts:
            message = (
                f"writes downloaded data to a file (line {facts['net-write']}) and changes "
                f"file modes (line {facts['chmod']}) in one function"
            )
            self.flows.append(Flow("download-exec", facts["net-write"], message))

    def _secret_read(self, scope: ast.AST) -> tuple[int, str] | None:
        """The first secret this scope reads: environment, or a credential path."""
        for node in sorted(self.nodes(scope), key=lambda n: getattr(n, "lineno", 0)):
            source = self.sources.get(id(node))
            if source is not None and source[0] == "secret":
                return getattr(node, "lineno", 0), source[1]
            if (
                isinstance(node, ast.Constant)
                and isinstance(node.value, str)
                and len(node.value) < 256
                and SENSITIVE_PATH.search(node.value)
            ):
                return node.lineno, repr(node.value)
        return None


def _note(sources: dict[str, tuple[int, str]], label: str, origin: tuple[int, str]) -> None:
    """Remember the earliest source of ``label``: that is the line a reviewer reads first."""
    known = sources.get(label)
    if known is None or origin[0] < known[0]:
        sources[label] = origin


def _arguments(call: ast.Call) -> ast.Tuple:
    return ast.Tuple([*call.args, *(k.value for k in call.keywords)], ast.Load())


def _use_label(use: Use, declared_env: frozenset[str]) -> str | None:
    if use.kind == "env" and (use.name is None or use.name not in declared_env):
        return "secret"
    return None


def _params(node: ast.FunctionDef | ast.AsyncFunctionDef) -> tuple[str, ...]:
    return tuple(a.arg for a in (*node.args.posonlyargs, *node.args.args))


def _reversal(node: ast.Subscript) -> bool:
    s = node.slice
    return (
        isinstance(s, ast.Slice)
        and s.lower is None
        and s.upper is None
        and isinstance(s.step, ast.UnaryOp)
        and isinstance(s.step.op, ast.USub)
        and isinstance(s.step.operand, ast.Constant)
        and s.step.operand.value == 1
    )


def _describe(rule: str, what: str, line: int) -> str:
    if rule == "exec-decoded":
        return f"runs decoded data as code (decoded by {what} at line {line})"
    if rule == "download-exec":
        return f"runs what it downloaded (fetched by {what} at line {line})"
    return f"sends secrets over the network (read by {what} at line {line})"


def analyse_module(project: Project, module: Module, declared_env: frozenset[str]) -> list[Flow]:
    """Every flow and co-occurrence found in one module, in source order."""
    analysis = _Analysis(project, module, declared_env | ALWAYS_SET_ENV)
    if not analysis.worth_analysing():
        return []
    analysis.summarise()
    for node in [module.tree, *(d for defs in analysis.functions.values() for d in defs)]:
        scope = analysis.run_scope(node)
        analysis.check(scope, None, report=True)
    return sorted(analysis.flows, key=lambda f: (f.line, f.rule))
