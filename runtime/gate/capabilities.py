"""What a plugin's code can do, compared with what its plugin.yaml declares it needs.

Every name is resolved through imports and aliases first (``runtime.gate.pyscan``), so
``from subprocess import run as r; r(...)`` is ``subprocess.run``. A reference counts as a use,
not only a call: ``f = os.system`` already hands the capability to ``f``.

    use                                  declared by                   finding (capability:...)
    network clients, socket connects     permissions.network           error   network
    subprocess, os.system/exec*/spawn*,  permissions.subprocess        error   subprocess
      fork, multiprocessing processes
    os.environ["NAME"], getenv("NAME")   permissions.env: [NAME]       error   env:NAME
    the whole environment (copy, iterate, nothing can declare it       error   env
      os.environ[variable], dict(...))
    ctypes, cffi                         no permission covers it       warning native
    exec, eval, compile, computed import the gate cannot see the code  warning dynamic-code
    writes to a constant absolute path   permissions.filesystem.write  warning fs-write

Variables the worker always sets (PATH, HOME, TMPDIR, LANG...) need no declaration. Relative
paths and tempfile land in the worker's private work dir, so only constant absolute paths are
checked. Plugin test files that runtime code never imports run under pytest, not in the
sandbox: their findings are notes. Findings are grouped per rule and file; the message lists
every line.
"""

from __future__ import annotations

import ast
import functools
import posixpath
import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Final

from runtime.gate.findings import Finding, PluginSource, Severity
from runtime.gate.pyscan import DYNAMIC_IMPORTS, Local, Module, Project, fold, is_test_file

__all__ = ["ALWAYS_SET_ENV", "Use", "classify", "find_uses", "scan_capabilities"]

SCANNER: Final = "capability"
# Set by runtime.host.worker.build_environment for every worker (a test keeps these in step).
ALWAYS_SET_ENV: Final = frozenset(
    {"PATH", "HOME", "TMPDIR", "LANG", "LC_ALL", "HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE",
     "PYTHONUNBUFFERED"}
)  # fmt: skip
MAX_LINES_LISTED: Final = 10

# A rule "m" matches m and m.*; "m." matches only m.*; "m*" matches any name starting with m.
NETWORK: Final = (
    "socket.socket", "socket.create_connection", "socket.create_server", "socket.getaddrinfo",
    "socket.gethostbyname", "socket.gethostbyname_ex", "socket.gethostbyaddr",
    "socket.getnameinfo", "socket.fromfd", "socket.SocketType", "ssl.get_server_certificate",
    "asyncio.open_connection", "asyncio.start_server", "urllib.request", "http.client",
    "http.server", "socketserver", "xmlrpc.client", "xmlrpc.server", "ftplib", "smtplib",
    "poplib", "imaplib", "nntplib", "telnetlib", "requests", "httpx", "aiohttp", "urllib3",
    "httplib2", "pycurl", "websocket", "websockets", "paramiko", "grpc", "boto3", "botocore",
    "pymongo", "motor", "redis", "psycopg", "psycopg2", "pymysql", "aiosmtplib", "zmq",
    "tornado.httpclient", "twisted.internet", "dns.resolver",
)  # fmt: skip
SUBPROCESS: Final = (
    "subprocess.", "_posixsubprocess", "os.system", "os.popen", "os.exec*", "os.spawn*",
    "os.posix_spawn*", "os.fork", "os.forkpty", "pty.spawn", "pty.fork", "webbrowser",
    "multiprocessing.Process", "multiprocessing.Pool", "multiprocessing.Manager",
    "multiprocessing.get_context", "multiprocessing.pool", "multiprocessing.context",
    "multiprocessing.managers", "concurrent.futures.ProcessPoolExecutor",
    "concurrent.futures.process", "asyncio.create_subprocess_exec",
    "asyncio.create_subprocess_shell", "asyncio.subprocess",
)  # fmt: skip
# Exceptions and constants: naming them runs nothing.
SUBPROCESS_INERT: Final = frozenset(
    f"subprocess.{n}" for n in ("CalledProcessError", "SubprocessError", "TimeoutExpired",
                                "CompletedProcess", "PIPE", "DEVNULL", "STDOUT")
)  # fmt: skip
NATIVE: Final = ("ctypes", "_ctypes", "cffi", "_cffi_backend")
DYNAMIC_CODE: Final = (
    "builtins.exec", "builtins.eval", "builtins.compile", "runpy", "types.CodeType",
    "types.FunctionType", "code.InteractiveInterpreter", "code.InteractiveConsole",
    "code.interact",
)  # fmt: skip
# getattr(<one of these>, <computed name>) can reach any capability by a name the scan never sees.
SENSITIVE_MODULES: Final = frozenset(
    {"builtins", "os", "sys", "subprocess", "socket", "importlib", "ctypes", "shutil", "pty",
     "multiprocessing", "urllib", "http", "requests", "httpx"}
)  # fmt: skip
ENV_OBJECTS: Final = frozenset({"os.environ", "os.environb"})
ENV_GETTERS: Final = frozenset({"os.getenv", "os.getenvb"})
ENV_KEYED_METHODS: Final = frozenset({"get", "pop", "setdefault", "__getitem__", "__contains__"})
_ENV_REFERENCE: Final = re.compile(r"\$(?:\{(\w+)\}|(\w+))")

OPEN_CALLS: Final = frozenset({"builtins.open", "io.open", "codecs.open"})
WRITE_FLAGS: Final = frozenset(f"os.{f}" for f in ("O_WRONLY", "O_RDWR", "O_CREAT", "O_APPEND",
                                                     "O_TRUNC"))  # fmt: skip
# Calls that change the file system, with the positions of the paths they change.
PATH_WRITES: Final = {
    **dict.fromkeys(
        ("os.remove", "os.unlink", "os.rmdir", "os.removedirs", "os.mkdir", "os.makedirs",
         "os.chmod", "os.chown", "os.lchown", "os.truncate", "os.mkfifo", "os.mknod",
         "os.utime", "os.setxattr", "os.removexattr", "shutil.rmtree", "shutil.chown",
         "shutil.make_archive"), (0,)),
    **dict.fromkeys(("os.rename", "os.replace", "os.renames", "shutil.move"), (0, 1)),
    **dict.fromkeys(
        ("os.link", "os.symlink", "shutil.copy", "shutil.copy2", "shutil.copyfile",
         "shutil.copymode", "shutil.copystat", "shutil.copytree", "shutil.unpack_archive"), (1,)),
}  # fmt: skip
PATH_METHODS: Final = frozenset(
    {"write_text", "write_bytes", "unlink", "mkdir", "touch", "rmdir", "rename", "replace",
     "symlink_to", "hardlink_to", "chmod", "lchmod", "open"}
)  # fmt: skip
PATH_TYPES: Final = frozenset(
    f"pathlib.{t}" for t in ("Path", "PurePath", "PosixPath", "PurePosixPath")
) | {"os.path.join"}
ALWAYS_WRITABLE: Final = ("/dev/null",)


def _matches(name: str, rules: Iterable[str]) -> bool:
    for rule in rules:
        if rule.endswith("*"):
            if name.startswith(rule[:-1]):
                return True
        elif rule.endswith("."):
            if name.startswith(rule):
                return True
        elif name == rule or name.startswith(rule + "."):
            return True
    return False


@functools.lru_cache(maxsize=4096)
def classify(qualname: str) -> str | None:
    """``network``, ``subprocess``, ``native`` or ``dynamic-code`` for a resolved name."""
    if _matches(qualname, NETWORK):
        return "network"
    if qualname not in SUBPROCESS_INERT and _matches(qualname, SUBPROCESS):
        return "subprocess"
    if _matches(qualname, NATIVE):
        return "native"
    if _matches(qualname, DYNAMIC_CODE):
        return "dynamic-code"
    return None


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
    visitor = _Uses(project, module)
    visitor.visit(module.tree)
    return visitor.uses


def _arg(call: ast.Call, index: int, *names: str) -> ast.expr | None:
    if len(call.args) > index and not isinstance(call.args[index], ast.Starred):
        return call.args[index]
    return next((k.value for k in call.keywords if k.arg in names), None)


class _Uses(ast.NodeVisitor):
    def __init__(self, project: Project, module: Module) -> None:
        self.project = project
        self.module = module
        self.uses: list[Use] = []
        self.scopes: list[ast.AST] = [module.tree]

    def add(self, kind: str, what: str, node: ast.AST, name: str | None = None) -> None:
        line = getattr(node, "lineno", 0)
        self.uses.append(Use(kind, what, line, self.scopes[-1], node, name))

    def qualname(self, expr: ast.expr) -> str | None:
        return self.project.qualname(self.module, expr)

    # -- scopes -----------------------------------------------------------------------------

    def _scoped(self, node: ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda) -> None:
        self.scopes.append(node)
        self.generic_visit(node)
        self.scopes.pop()

    visit_FunctionDef = visit_AsyncFunctionDef = visit_Lambda = _scoped

    # -- imports and references -------------------------------------------------------------

    def visit_Import(self, node: ast.Import) -> None:
        for alias in node.names:
            self._imported(self.project.module_target(alias.name, 0, self.module), node)

    def visit_ImportFrom(self, node: ast.ImportFrom) -> None:
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

    def visit_Name(self, node: ast.Name) -> None:
        self._reference(node)

    def visit_Attribute(self, node: ast.Attribute) -> None:
        if not self._reference(node):
            self.generic_visit(node)

    def _reference(self, node: ast.Name | ast.Attribute) -> bool:
        """Judge a resolvable name; False when it does not resolve (visit its parts instead)."""
        if not isinstance(node.ctx, ast.Load):
            return False
        name = self.qualname(node)
        if name is None:
            return False
        self._judge(name, node)
        return True

    def _judge(self, name: str, node: ast.expr) -> None:
        if name in ENV_OBJECTS or name.rpartition(".")[0] in ENV_OBJECTS or name in ENV_GETTERS:
            self.add("env", name, node)
        elif name in DYNAMIC_IMPORTS:
            self.add("dynamic-code", name, node)
        elif kind := classify(name):
            self.add(kind, name, node)

    def visit_Assign(self, node: ast.Assign) -> None:
        # ``env = os.environ`` reads nothing yet: every use of the alias resolves to
        # os.environ and is judged where it happens (env["KEY"] is one declared variable).
        target = node.targets[0] if len(node.targets) == 1 else None
        if (
            isinstance(target, ast.Name)
            and self.module.aliases.get(target.id) is node.value
            and self.qualname(node.value) in ENV_OBJECTS | ENV_GETTERS
        ):
            return
        self.generic_visit(node)

    # -- calls and subscripts ---------------------------------------------------------------

    def visit_Call(self, node: ast.Call) -> None:
        # getattr(os, "sys" + "tem") and __import__("requests") name a capability themselves.
        itself = self.qualname(node)
        if itself is not None:
            self._judge(itself, node)
        name = self.qualname(node.func)
        if name is not None and self._special_call(name, node):
            for child in (*node.args, *(k.value for k in node.keywords)):
                self.visit(child)
            return
        if name is not None:
            self._file_write(name, node)
        if isinstance(node.func, ast.Attribute) and node.func.attr in PATH_METHODS:
            self._path_method(node.func.attr, node.func.value, node)
        self.generic_visit(node)

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
            for match in _ENV_REFERENCE.finditer(folded or ""):
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

    def visit_Subscript(self, node: ast.Subscript) -> None:
        if self.qualname(node.value) in ENV_OBJECTS:
            if isinstance(node.ctx, ast.Load):  # writing the worker's own environment is free
                self._env_read(node.slice, "os.environ[...]", node)
            self.visit(node.slice)
            return
        self.generic_visit(node)

    def visit_Compare(self, node: ast.Compare) -> None:
        if (
            len(node.ops) == 1
            and isinstance(node.ops[0], ast.In | ast.NotIn)
            and self.qualname(node.comparators[0]) in ENV_OBJECTS
        ):
            self._env_read(node.left, "... in os.environ", node)
            self.visit(node.left)
            return
        self.generic_visit(node)

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


# -- verdict --------------------------------------------------------------------------------


def scan_capabilities(source: PluginSource) -> list[Finding]:
    """Undeclared capabilities, one finding per rule and file, sorted by file, line and id."""
    project = Project(source)
    runtime = _runtime_files(project)
    groups: dict[tuple[str, str, str], list[Use]] = {}
    for module in project.modules:
        for use in find_uses(project, module):
            finding_id = _finding_id(source, use)
            if finding_id is not None:
                groups.setdefault((finding_id, module.rel, use.name or ""), []).append(use)
    findings = [
        _finding(finding_id, rel, uses, test_only=rel not in runtime)
        for (finding_id, rel, _), uses in groups.items()
    ]
    return sorted(findings, key=lambda f: (f.file or "", f.line or 0, f.id))


def _finding_id(source: PluginSource, use: Use) -> str | None:
    permissions = source.manifest.permissions
    if use.kind == "network":
        return None if permissions.network else "capability:network"
    if use.kind == "subprocess":
        return None if permissions.subprocess else "capability:subprocess"
    if use.kind == "env":
        if use.name is None:
            return "capability:env"
        if use.name in permissions.env or use.name in ALWAYS_SET_ENV:
            return None
        return f"capability:env:{use.name}"
    if use.kind == "fs-write":
        return None if _writable(use.name or "/", permissions.fs_write) else "capability:fs-write"
    return f"capability:{use.kind}"


def _writable(path: str, roots: tuple[str, ...]) -> bool:
    path = path.removesuffix("/...")
    allowed = (*ALWAYS_WRITABLE, *(posixpath.normpath(r) for r in roots))
    return any(path == r or path.startswith(r.rstrip("/") + "/") for r in allowed)


def _runtime_files(project: Project) -> set[str]:
    """Files the sandboxed worker may run: all non-test files and what they import statically."""
    by_name = {m.name: m for m in project.modules}
    seen = {m.rel for m in project.modules if not is_test_file(m.rel)}
    todo = [m for m in project.modules if m.rel in seen]
    while todo:
        module = todo.pop()
        for target in (*module.imports.values(), *module.stars):
            if not isinstance(target, Local):
                continue
            names = [target.module]
            if target.attrs:
                names.append(f"{target.module}/{target.attrs[0]}".lstrip("/"))
            for name in names:
                found = by_name.get(name)
                if found is not None and found.rel not in seen:
                    seen.add(found.rel)
                    todo.append(found)
    return seen


_TEXT: Final = {
    "capability:network": (
        "uses the network ({what}) but permissions.network is none",
        "declare the hosts under permissions.network in plugin.yaml (e.g. ['api.example.com:443'])",
    ),
    "capability:subprocess": (
        "starts processes ({what}) but permissions.subprocess is false",
        "set permissions.subprocess: true in plugin.yaml (and grant it in the sandbox "
        "profile), or do the work in Python",
    ),
    "capability:env": (
        "reads the whole environment ({what})",
        "read each variable by a constant name (os.environ['NAME'], os.getenv('NAME')) and "
        "list it under permissions.env in plugin.yaml",
    ),
    "capability:native": (
        "loads native code ({what}); no permission covers it and the gate cannot inspect it",
        "use a pure-Python library, or have an operator review the native code and waive "
        "capability:native",
    ),
    "capability:dynamic-code": (
        "runs code or imports modules chosen at run time ({what}); the gate cannot inspect them",
        "call the code directly and import modules by constant name, or have an operator "
        "review it and waive capability:dynamic-code",
    ),
    "capability:fs-write": (
        "writes {name} ({what}), outside permissions.filesystem.write",
        "declare the directory under permissions.filesystem.write in plugin.yaml, or write "
        "under the work dir (a relative path, or tempfile)",
    ),
}


def _finding(finding_id: str, rel: str, uses: list[Use], *, test_only: bool) -> Finding:
    uses = sorted(uses, key=lambda u: u.line)
    first = uses[0]
    if finding_id.startswith("capability:env:"):
        name = finding_id.removeprefix("capability:env:")
        message = f"reads environment variable {name} ({first.what}), which permissions.env "
        message += "does not list"
        hint = f"add {name} to permissions.env in plugin.yaml (env: [{name}])"
    else:
        template, hint = _TEXT[finding_id]
        message = template.format(what=first.what, name=first.name)
    lines = sorted({u.line for u in uses[1:]} - {first.line})
    if lines:
        shown = ", ".join(str(n) for n in lines[:MAX_LINES_LISTED])
        message += f"; also at line{'s' if len(lines) > 1 else ''} {shown}"
        if len(lines) > MAX_LINES_LISTED:
            message += f" and {len(lines) - MAX_LINES_LISTED} more"
    severity = (
        Severity.ERROR if finding_id in _ERRORS or ":env:" in finding_id else Severity.WARNING
    )
    if test_only:
        severity = Severity.NOTE
        message += " (test code that runtime code does not import: it runs under pytest, not in "
        message += "the sandbox)"
    return Finding(
        id=finding_id,
        scanner=SCANNER,
        severity=severity,
        message=f"{rel}:{first.line}: {message}",
        hint=hint,
        file=rel,
        line=first.line,
    )


_ERRORS: Final = frozenset({"capability:network", "capability:subprocess", "capability:env"})
