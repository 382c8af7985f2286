"""The capability scan: what code uses, resolved through aliases, against what plugin.yaml says."""

from __future__ import annotations

from pathlib import Path

import pytest

from runtime.gate.capabilities import ALWAYS_SET_ENV, scan_capabilities
from runtime.gate.findings import Severity
from runtime.host.worker import build_environment
from tests.conftest import BUNDLED_PLUGINS
from tests.gate.scanning import by_id, fixture_source, located, plugin_at, write_plugin

Found = set[tuple[str, int | None, Severity]]


def scan(tmp_path: Path, code: str, permissions: str = "") -> Found:
    source = write_plugin(tmp_path / "p", {"__init__.py": code}, permissions)
    return {(f.id, f.line, f.severity) for f in scan_capabilities(source)}


ERROR, WARNING, NOTE = Severity.ERROR, Severity.WARNING, Severity.NOTE

# -- the reviewed fixtures ------------------------------------------------------------------


def test_clean_plugin_uses_no_capability() -> None:
    assert scan_capabilities(fixture_source("clean")) == []


def test_undeclared_subprocess_names_file_line_and_permission_key() -> None:
    findings = scan_capabilities(fixture_source("undeclared_subprocess"))
    assert located(findings) == {("capability:subprocess", "__init__.py", 4)}
    finding = findings[0]
    assert finding.severity == Severity.ERROR
    # from os import system as shell (4), sp.run via `import subprocess as sp` (10), shell() (11)
    assert finding.message == (
        "__init__.py:4: starts processes (os.system) but permissions.subprocess is false; "
        "also at lines 10, 11"
    )
    assert "permissions.subprocess: true" in finding.hint


def test_plugin_declaring_what_it_uses_has_no_capability_finding() -> None:
    assert scan_capabilities(fixture_source("declared")) == []


def test_environment_posted_out_is_refused_by_the_capability_check() -> None:
    findings = scan_capabilities(fixture_source("env_exfil"))
    assert located(findings) == {
        ("capability:network", "__init__.py", 5),
        ("capability:env", "__init__.py", 12),
        ("capability:env:AWS_SECRET_ACCESS_KEY", "__init__.py", 13),
    }
    assert {f.severity for f in findings} == {Severity.ERROR}
    network = by_id(findings, "capability:network")
    assert network.hint == (
        "declare the hosts under permissions.network in plugin.yaml (e.g. ['api.example.com:443'])"
    )
    assert "also at lines 19, 20" in network.message
    assert "reads the whole environment (os.environ)" in by_id(findings, "capability:env").message
    assert by_id(findings, "capability:env:AWS_SECRET_ACCESS_KEY").hint == (
        "add AWS_SECRET_ACCESS_KEY to permissions.env in plugin.yaml (env: [AWS_SECRET_ACCESS_KEY])"
    )


def test_obfuscated_names_resolve_to_the_capability_behind_them() -> None:
    findings = scan_capabilities(fixture_source("obfuscated_import"))
    assert {(f.id, f.line) for f in findings} == {
        ("capability:dynamic-code", 7),  # getattr(__builtins__, "ex" + "ec")
        ("capability:subprocess", 13),  # _o.system with _o = __import__(chr(111) + chr(115))
    }


def test_bundled_system_plugin_findings() -> None:
    """The TCP probe of health_check is the one finding; the plugin's own tests are notes."""
    findings = scan_capabilities(plugin_at(BUNDLED_PLUGINS / "system"))
    assert {(f.id, f.file, f.line, f.severity) for f in findings} == {
        ("capability:network", "tools/health_tool.py", 192, ERROR),
        ("capability:network", "tests/test_system_tools.py", 68, NOTE),
        # spec_from_file_location (25) and import_module(module) (86) in its test helpers
        ("capability:dynamic-code", "tests/test_system_tools.py", 25, NOTE),
    }


# -- resolution -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("code", "expected"),
    [
        ("import socket as s\ns.create_connection(('h', 1))\n", {("capability:network", 2)}),
        ("from urllib.request import urlopen as fetch\n", {("capability:network", 1)}),
        ("import urllib\nurllib.request.urlopen('https://x')\n", {("capability:network", 2)}),
        (
            "import importlib\nm = importlib.import_module('socket')\nm.socket()\n",
            {("capability:network", 3)},
        ),
        ("__import__('subprocess').run(['x'])\n", {("capability:subprocess", 1)}),
        ("import sys\nsys.modules['subprocess'].run(['x'])\n", {("capability:subprocess", 2)}),
        ("import os\ngetattr(os, 'sys' + 'tem')('id')\n", {("capability:subprocess", 2)}),
        ("import posix\nposix.system('id')\n", {("capability:subprocess", 2)}),
        ("import os\nrun = os.execv\n", {("capability:subprocess", 2)}),
        ("from subprocess import *\nrun(['x'])\n", {("capability:subprocess", 2)}),
        ("import requests\n", {("capability:network", 1)}),
        ("import socket\nsocket.gethostname()\n", set()),
        ("import socket\nsocket.socket(socket.AF_UNIX)\n", set()),
        ("import subprocess\nraise subprocess.CalledProcessError(1, 'x')\n", set()),
    ],
)
def test_network_and_subprocess_are_found_through_aliases(
    tmp_path: Path, code: str, expected: set[tuple[str, int]]
) -> None:
    assert {(i, line) for i, line, _ in scan(tmp_path, code)} == expected


@pytest.mark.parametrize(
    ("code", "expected"),
    [
        ("import multiprocessing\nmultiprocessing.Process(target=print).start()\n",
         {("capability:subprocess", 2, ERROR)}),
        ("from concurrent.futures import ProcessPoolExecutor\n",
         {("capability:subprocess", 1, ERROR)}),
        ("import multiprocessing\nmultiprocessing.cpu_count()\n", set()),
        ("import ctypes\n", {("capability:native", 1, WARNING)}),
        ("from cffi import FFI\n", {("capability:native", 1, WARNING)}),
        ("exec('1')\n", {("capability:dynamic-code", 1, WARNING)}),
        ("import importlib\nname = input()\nimportlib.import_module(name)\n",
         {("capability:dynamic-code", 3, WARNING)}),
        ("import os\nname = input()\ngetattr(os, name)\n",
         {("capability:dynamic-code", 3, WARNING)}),
        ("import re\nre.compile('x')\n", set()),
        ("def f(compile):\n    return compile('x')\n", set()),
    ],
)  # fmt: skip
def test_processes_native_code_and_dynamic_code(tmp_path: Path, code: str, expected: Found) -> None:
    assert scan(tmp_path, code) == expected


def test_capability_re_exported_by_a_plugin_module_is_found_where_it_is_used(
    tmp_path: Path,
) -> None:
    source = write_plugin(
        tmp_path / "p",
        {
            "__init__.py": "from .helpers import sp\nfrom tools.net import dial\nsp.run(['x'])\n",
            "helpers.py": "import subprocess as sp\n",
            "tools/__init__.py": "",
            "tools/net.py": "from socket import create_connection as dial\n",
        },
    )
    assert located(scan_capabilities(source)) == {
        ("capability:subprocess", "__init__.py", 3),
        ("capability:network", "__init__.py", 2),
        ("capability:network", "tools/net.py", 1),
    }


# -- environment ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("code", "permissions", "expected"),
    [
        ("import os\nos.environ['API_TOKEN']\n", "env: [API_TOKEN]\n", set()),
        ("import os\nos.environ['API_TOKEN']\n", "", {("capability:env:API_TOKEN", 2)}),
        ("import os\nos.getenv('SECRET', '')\n", "", {("capability:env:SECRET", 2)}),
        ("from os import getenv as g\ng('SECRET')\n", "", {("capability:env:SECRET", 2)}),
        ("import os\nos.getenv('HOME')\nos.environ.get('PATH')\n", "", set()),
        ("import os\nif 'DEBUG' in os.environ:\n    pass\n", "", {("capability:env:DEBUG", 2)}),
        ("import os\nenv = os.environ\nenv['KEY']\n", "", {("capability:env:KEY", 3)}),
        ("import os\nos.path.expandvars('$A/${B}')\n", "env: [A]\n", {("capability:env:B", 2)}),
        ("from os import environ\nenviron.copy()\n", "", {("capability:env", 2)}),
        ("import os\ndict(os.environ)\n", "", {("capability:env", 2)}),
        ("import os\nfor key in os.environ:\n    pass\n", "", {("capability:env", 2)}),
        ("import os\nname = input()\nos.environ[name]\n", "", {("capability:env", 3)}),
        ("import os\nname = input()\nos.getenv(name)\n", "", {("capability:env", 3)}),
        ("import os\nos.putenv('X', '1')\nos.environ['Y'] = '2'\n", "", set()),
    ],
)
def test_environment_reads_against_permissions_env(
    tmp_path: Path, code: str, permissions: str, expected: set[tuple[str, int]]
) -> None:
    found = scan(tmp_path, code, permissions)
    assert {(i, line) for i, line, _ in found} == expected
    assert {severity for *_, severity in found} <= {ERROR}


def test_variables_every_worker_gets_need_no_declaration(tmp_path: Path) -> None:
    source = write_plugin(tmp_path / "p", {"__init__.py": ""})
    given = build_environment(source.manifest, {"SECRET": "x"}, tmp_path / "work")
    assert set(given) == ALWAYS_SET_ENV


# -- file writes ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("code", "expected"),
    [
        ("open('/etc/cron.d/job', 'w')\n", {("capability:fs-write", 1, "/etc/cron.d/job")}),
        ("import io\nio.open('/etc/x', mode='ab')\n", {("capability:fs-write", 2, "/etc/x")}),
        ("from pathlib import Path\n(Path('/srv') / 'data' / 'x').write_bytes(b'')\n",
         {("capability:fs-write", 2, "/srv/data/x")}),
        ("from pathlib import Path\nLOG = Path('/var/log/p.log')\nLOG.touch()\n",
         {("capability:fs-write", 3, "/var/log/p.log")}),
        ("name = input()\nopen(f'/tmp/{name}', 'a')\n", {("capability:fs-write", 2, "/tmp/...")}),
        ("import os\nos.remove('/etc/passwd')\n", {("capability:fs-write", 2, "/etc/passwd")}),
        ("import shutil\nshutil.copy('a', '/usr/local/bin/x')\n",
         {("capability:fs-write", 2, "/usr/local/bin/x")}),
        ("import os\nos.open('/etc/x', os.O_WRONLY | os.O_CREAT)\n",
         {("capability:fs-write", 2, "/etc/x")}),
        ("class A:\n    def open(self) -> None: ...\n    def go(self) -> None:\n"
         "        open('/etc/x', 'w')\n", {("capability:fs-write", 4, "/etc/x")}),
        ("open('/etc/hosts')\nopen('/etc/hosts', 'rb')\n", set()),
        ("open('out.txt', 'w')\nopen('/dev/null', 'w')\n", set()),
        ("import tempfile\ntempfile.mkstemp()\n", set()),
        ("path = input()\nopen(path, 'w')\n", set()),
        ("from pathlib import Path\nPath('/var/lib/app/state').write_text('1')\n", set()),
        ("import os\nos.makedirs('/var/lib/app/cache/x')\n", set()),
    ],
)  # fmt: skip
def test_writes_to_constant_absolute_paths_outside_the_declared_dirs(
    tmp_path: Path, code: str, expected: set[tuple[str, int, str]]
) -> None:
    source = write_plugin(
        tmp_path / "p", {"__init__.py": code}, "filesystem:\n  write: [/var/lib/app]\n"
    )
    findings = scan_capabilities(source)
    assert {f.severity for f in findings} <= {WARNING}
    found = {(f.id, f.line, f.message.split("writes ")[1].split(" (")[0]) for f in findings}
    assert found == expected


# -- test code ------------------------------------------------------------------------------


def test_plugin_tests_are_notes_unless_runtime_code_imports_them(tmp_path: Path) -> None:
    source = write_plugin(
        tmp_path / "p",
        {
            "__init__.py": "from .tests.helper import ping\n",
            "tests/__init__.py": "",
            "tests/helper.py": "import socket\nsocket.create_connection(('h', 1))\n",
            "tests/test_it.py": "import subprocess\nsubprocess.run(['pytest'])\n",
        },
    )
    findings = scan_capabilities(source)
    assert {(f.id, f.file, f.severity) for f in findings} == {
        ("capability:network", "tests/helper.py", ERROR),
        ("capability:subprocess", "tests/test_it.py", NOTE),
    }
    assert (
        "runs under pytest, not in the sandbox" in by_id(findings, "capability:subprocess").message
    )


def test_plugin_tests_count_as_runtime_code_when_runtime_code_runs_code_dynamically(
    tmp_path: Path,
) -> None:
    source = write_plugin(
        tmp_path / "p",
        {
            "__init__.py": "import runpy\nrunpy.run_path(__file__.replace('__init__', 'x'))\n",
            "tests/test_it.py": "import subprocess\nsubprocess.run(['pytest'])\n",
        },
    )
    assert {(f.id, f.file, f.severity) for f in scan_capabilities(source)} == {
        ("capability:dynamic-code", "__init__.py", WARNING),
        ("capability:subprocess", "tests/test_it.py", ERROR),
    }


def test_unparsable_files_are_left_to_the_bandit_scan(tmp_path: Path) -> None:
    source = write_plugin(tmp_path / "p", {"__init__.py": "import socket\n", "bad.py": "def (:\n"})
    assert scan_capabilities(source) == []


def test_deeply_nested_valid_code_is_still_scanned(tmp_path: Path) -> None:
    """Nesting the parser accepts must not exhaust the scan's stack: walks are iterative."""
    code = (
        "x = " + " + ".join(["1"] * 2000) + "\n"
        "f = " + "lambda: " * 1000 + "0\n"
        "import subprocess\nsubprocess.run(['x'])\n"
    )
    source = write_plugin(tmp_path / "p", {"__init__.py": code})
    assert located(scan_capabilities(source)) == {("capability:subprocess", "__init__.py", 4)}


def test_a_name_bound_twice_is_not_an_alias(tmp_path: Path) -> None:
    code = """
        import os
        e = os.environ
        try:
            pass
        except OSError as e:
            print(e)
    """
    # `e` is also the exception: its uses are not reads of the environment; the assignment is.
    assert scan(tmp_path, code) == {("capability:env", 2, ERROR)}
