"""What a plugin's code can do, compared with what its plugin.yaml declares it needs.

Every name is resolved through imports and aliases first (``runtime.gate.pyscan``), so
``from subprocess import run as r; r(...)`` is ``subprocess.run``; ``runtime.gate.uses`` finds
the uses and ``runtime.gate.rules`` holds the tables. This module judges them:

    use                                  declared by                   finding (capability:...)
    network clients, socket connects     permissions.network           error   network
    subprocess, os.system/exec*/spawn*,  permissions.subprocess        error   subprocess
      fork, multiprocessing processes
    os.environ["NAME"], getenv("NAME")   permissions.env: [NAME]       error   env:NAME
    the whole environment (copy, iterate, nothing can declare it       error   env
      os.environ[variable], dict(...))
    ctypes, cffi                         no permission covers it       warning native
    exec, eval, compile, computed import, the gate cannot see the code  warning dynamic-code
      loading a module from a file path
    writes to a constant absolute path   permissions.filesystem.write  warning fs-write

Variables the worker always sets (PATH, HOME, TMPDIR, LANG...) need no declaration. Relative
paths and tempfile land in the worker's private work dir, so only constant absolute paths are
checked. Plugin test files that runtime code never imports run under pytest, not in the
sandbox: their findings are notes, unless runtime code runs code dynamically (it could then
reach any file). Findings are grouped per rule and file; the message lists every line.
"""

from __future__ import annotations

import posixpath
from typing import Final

from runtime.gate.findings import Finding, PluginSource, Severity
from runtime.gate.pyscan import Local, Project, is_test_file
from runtime.gate.rules import ALWAYS_WRITABLE
from runtime.gate.uses import Use, find_uses

__all__ = ["ALWAYS_SET_ENV", "scan_capabilities"]

SCANNER: Final = "capability"
# Set by runtime.host.worker.build_environment for every worker (a test keeps these in step).
ALWAYS_SET_ENV: Final = frozenset(
    {"PATH", "HOME", "TMPDIR", "LANG", "LC_ALL", "HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE",
     "PYTHONUNBUFFERED"}
)  # fmt: skip
MAX_LINES_LISTED: Final = 10


def scan_capabilities(source: PluginSource) -> list[Finding]:
    """Undeclared capabilities, one finding per rule and file, sorted by file, line and id."""
    project = Project(source)
    uses = {module.rel: find_uses(project, module) for module in project.modules}
    runtime = _runtime_files(project, uses)
    groups: dict[tuple[str, str, str], list[Use]] = {}
    for module in project.modules:
        for use in uses[module.rel]:
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


def _runtime_files(project: Project, uses: dict[str, list[Use]]) -> set[str]:
    """Files the sandboxed worker may run: all non-test files and what they import statically.

    Runtime code that runs code dynamically (exec, computed imports, loading a file by path)
    could reach any file, so then every file counts.
    """
    by_name = {m.name: m for m in project.modules}
    seen = {m.rel for m in project.modules if not is_test_file(m.rel)}
    if any(u.kind == "dynamic-code" for rel in seen for u in uses[rel]):
        return {m.rel for m in project.modules}
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
