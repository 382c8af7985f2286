"""Plugin folders for the code-analysis tests: the reviewed fixtures, and ones written per test."""

from __future__ import annotations

import textwrap
from collections.abc import Iterable
from pathlib import Path

from runtime.gate.findings import Finding, PluginSource
from runtime.manifest.loader import load_manifest

FIXTURES = Path(__file__).resolve().parent / "fixtures"


def fixture_source(name: str) -> PluginSource:
    return plugin_at(FIXTURES / name)


def write_plugin(root: Path, files: dict[str, str | bytes], permissions: str = "") -> PluginSource:
    """A plugin folder at ``root``: plugin.yaml (with ``permissions``, YAML) plus ``files``.

    Text is dedented, so tests can indent source code with the test body.
    """
    root.mkdir(parents=True, exist_ok=True)
    manifest = "name: demo\nversion: 1.0.0\ndescription: gate test plugin\n"
    if permissions:
        manifest += "permissions:\n" + textwrap.indent(textwrap.dedent(permissions), "  ")
    (root / "plugin.yaml").write_text(manifest)
    for rel, content in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(textwrap.dedent(content).lstrip("\n"))
    return plugin_at(root)


def plugin_at(root: Path) -> PluginSource:
    """The plugin folder at ``root``, as the gate sees it."""
    manifest, problems = load_manifest(root / "plugin.yaml")
    assert manifest is not None, problems
    return PluginSource.from_manifest(manifest)


def located(findings: Iterable[Finding]) -> set[tuple[str, str | None, int | None]]:
    """(id, file, line) of each finding: what the tests assert on."""
    return {(f.id, f.file, f.line) for f in findings}


def by_id(findings: Iterable[Finding], finding_id: str) -> Finding:
    matches = [f for f in findings if f.id == finding_id]
    assert len(matches) == 1, f"expected one {finding_id}, got {matches or 'none'}"
    return matches[0]


SYNTHETIC_MODULE = '''
"""Synthetic module {index}: ordinary plugin code, with declared network, env and subprocess."""

from __future__ import annotations

import json
import os
import subprocess
import urllib.request
from typing import Any

ENDPOINT = "https://api.example.com/v1/items/{index}"


'''

SYNTHETIC_FUNCTION = '''
def fetch_{index}_{n}(item: str, limit: int = 10) -> dict[str, Any]:
    """Fetch one item, retrying once, and summarise it."""
    token = os.environ.get("API_TOKEN", "")
    request = urllib.request.Request(f"{{ENDPOINT}}/{{item}}", headers={{"X-Token": token}})
    for attempt in range(2):
        try:
            with urllib.request.urlopen(request, timeout=5) as response:
                data = json.load(response)
            break
        except OSError:
            if attempt:
                raise
    values = [v for v in data.get("values", []) if isinstance(v, int)][:limit]
    total = sum(values)
    label = "high" if total > 100 else "low"
    version = subprocess.run(["/usr/bin/git", "--version"], capture_output=True, check=False)
    return {{"item": item, "total": total, "label": label, "git": version.returncode}}

'''


def synthetic_plugin(root: Path, lines: int = 1000) -> PluginSource:
    """A plugin of about ``lines`` lines in four modules, all its capabilities declared."""
    files: dict[str, str] = {"__init__.py": '"""Synthetic plugin for scan timings."""\n'}
    per_module = lines // 4
    for index in range(4):
        text = SYNTHETIC_MODULE.format(index=index)
        n = 0
        while text.count("\n") < per_module:
            text += SYNTHETIC_FUNCTION.format(index=index, n=n)
            n += 1
        files[f"tools/module_{index}.py"] = text
    permissions = """\
        network: ["api.example.com:443"]
        subprocess: true
        env: [API_TOKEN]
    """
    return write_plugin(root, dict(files), permissions)
