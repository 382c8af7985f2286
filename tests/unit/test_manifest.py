"""plugin.yaml: the strict loader, discovery across plugin directories, ${VAR} substitution.

Every bad manifest must come back as ManifestErrors naming the file and the exact field, with
all problems of a file reported together.
"""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest
import yaml

from runtime.errors import ConfigError, ManifestError
from runtime.manifest import MANIFEST_FILENAME, Manifest, discover, load_manifest
from runtime.manifest.loader import MAX_TOOL_TIMEOUT
from runtime.manifest.model import (
    DEFAULT_CLASS,
    DEFAULT_MAX_IN_FLIGHT,
    DEFAULT_MAX_QUEUED,
    DEFAULT_PROFILE,
    DEFAULT_TOOL_TIMEOUT,
    NO_CACHE,
)
from runtime.manifest.variables import resolve_configuration
from runtime.manifest.yamlfile import MAX_YAML_BYTES
from tests.conftest import BUNDLED_PLUGINS, TEST_PLUGINS

MINIMAL = """\
name: demo
version: "1.0"
tools:
  - name: greet
"""


def write_plugin(folder: Path, text: str, *, package: bool = True) -> Path:
    """A plugin folder holding ``text`` as its plugin.yaml (and an empty package by default)."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / MANIFEST_FILENAME
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    if package:
        (folder / "__init__.py").write_text("", encoding="utf-8")
    return path


def load_valid(path: Path) -> Manifest:
    manifest, problems = load_manifest(path)
    assert problems == []
    assert manifest is not None
    return manifest


def problems_of(path: Path) -> list[ManifestError]:
    manifest, problems = load_manifest(path)
    assert manifest is None
    assert problems, "a refused manifest must say why"
    assert all(p.path == path for p in problems)
    return problems


def only_problem(path: Path) -> ManifestError:
    problems = problems_of(path)
    assert len(problems) == 1, [str(p) for p in problems]
    return problems[0]


# ---- valid manifests -----------------------------------------------------------------------


@pytest.mark.parametrize(
    "path",
    [BUNDLED_PLUGINS / "system" / MANIFEST_FILENAME, TEST_PLUGINS / "echo" / MANIFEST_FILENAME],
    ids=["system", "echo"],
)
def test_repo_manifests_load_as_written(path: Path) -> None:
    written = yaml.safe_load(path.read_text(encoding="utf-8"))

    manifest = load_valid(path)

    assert manifest.name == written["name"]
    assert manifest.version == str(written["version"])
    assert manifest.class_name == written["class"]
    assert manifest.sandbox == written.get("sandbox", DEFAULT_PROFILE)
    assert [(t.name, t.timeout) for t in manifest.tools] == [
        (t["name"], float(t["timeout"])) for t in written["tools"]
    ]
    assert manifest.requirements == tuple(written.get("requirements", ()))
    assert manifest.raw == written
    assert manifest.root == path.parent


def test_minimal_manifest_gets_the_documented_defaults(tmp_path: Path) -> None:
    manifest = load_valid(write_plugin(tmp_path, MINIMAL))

    assert (manifest.class_name, manifest.sandbox) == (DEFAULT_CLASS, DEFAULT_PROFILE)
    assert (manifest.enabled, manifest.auto_start) == (True, True)
    assert (manifest.description, manifest.author, manifest.category) == ("", "", "")
    [tool] = manifest.tools
    assert (tool.name, tool.type, tool.timeout, tool.parameters) == (
        "greet",
        "function",
        DEFAULT_TOOL_TIMEOUT,
        (),
    )
    assert manifest.permissions.network is None
    assert manifest.permissions.subprocess is False
    assert (manifest.concurrency.max_in_flight, manifest.concurrency.max_queued) == (
        DEFAULT_MAX_IN_FLIGHT,
        DEFAULT_MAX_QUEUED,
    )


def test_cache_ttl_is_kept_per_tool_and_defaults_to_no_cache(tmp_path: Path) -> None:
    path = write_plugin(
        tmp_path,
        """\
        name: demo
        version: "1"
        tools:
          - {name: cached, cache_ttl: 30}
          - {name: fractional, cache_ttl: 0.5}
          - {name: fresh}
        """,
    )

    ttls = {t.name: t.cache_ttl for t in load_valid(path).tools}

    assert ttls == {"cached": 30.0, "fractional": 0.5, "fresh": NO_CACHE}
    assert NO_CACHE == 0.0


def test_bare_tool_name_is_shorthand_for_a_tool_entry(tmp_path: Path) -> None:
    manifest = load_valid(write_plugin(tmp_path, 'name: demo\nversion: "1"\ntools: [a, b]\n'))

    assert [t.name for t in manifest.tools] == ["a", "b"]
    assert manifest.tool("b") is manifest.tools[1]
    assert manifest.tool("c") is None


def test_full_manifest_keeps_every_declared_value(tmp_path: Path) -> None:
    path = write_plugin(
        tmp_path,
        """\
        name: db-tools_2
        version: 2.1.0
        description: Database helpers
        class: DbPlugin
        author: Ops
        category: data
        sandbox: system
        requirements: ["pymongo==4.6.0"]
        tools:
          - name: find.one
            timeout: 3600
            parameters:
              - {name: q, type: str, required: true, description: query}
              - {name: limit, type: int, default: 10, enum: [10, 20]}
        configuration: {enabled: false, auto_start: false, uri: "mongodb://x"}
        permissions:
          filesystem: {read: [/data], write: [/tmp/out]}
          network: ["localhost:27017", "*:443", "[::1]:80"]
          subprocess: true
          env: [MONGO_URI]
        concurrency: {max_in_flight: 1, max_queued: 0}
        """,
    )

    manifest = load_valid(path)

    assert (manifest.name, manifest.version, manifest.class_name) == (
        "db-tools_2",
        "2.1.0",
        "DbPlugin",
    )
    assert (manifest.enabled, manifest.auto_start) == (False, False)
    [tool] = manifest.tools
    assert tool.timeout == MAX_TOOL_TIMEOUT
    query, limit = tool.parameters
    assert (query.name, query.type, query.required) == ("q", "string", True)
    assert (limit.type, limit.default, limit.enum) == ("integer", 10, [10, 20])
    assert manifest.permissions.fs_read == ("/data",)
    assert manifest.permissions.fs_write == ("/tmp/out",)
    assert manifest.permissions.network == ("localhost:27017", "*:443", "[::1]:80")
    assert manifest.permissions.env == ("MONGO_URI",)
    assert (manifest.concurrency.max_in_flight, manifest.concurrency.max_queued) == (1, 0)


@pytest.mark.parametrize(
    ("written", "json_type"),
    [
        ("str", "string"),
        ("int", "integer"),
        ("float", "number"),
        ("bool", "boolean"),
        ("list", "array"),
        ("dict", "object"),
        ("number", "number"),
    ],
)
def test_parameter_types_are_stored_as_json_schema_names(
    tmp_path: Path, written: str, json_type: str
) -> None:
    path = write_plugin(
        tmp_path,
        f"""\
        name: demo
        version: "1"
        tools:
          - name: t
            parameters: [{{name: p, type: {written}}}]
        """,
    )

    assert load_valid(path).tools[0].parameters[0].type == json_type


def test_yaml_merge_keys_are_resolved(tmp_path: Path) -> None:
    path = write_plugin(
        tmp_path,
        """\
        name: demo
        version: "1"
        tags: &shared [a]
        tools: [t]
        configuration:
          <<: {retries: 3, region: eu}
          region: us
        """,
    )

    assert load_valid(path).raw["configuration"] == {"retries": 3, "region": "us"}


# ---- one bad field, one precise error ------------------------------------------------------

BAD_FIELDS = [
    pytest.param('version: "1"\ntools: [t]\n', "name", "is required", id="missing-name"),
    pytest.param(
        'name: My Plugin!\nversion: "1"\ntools: [t]\n',
        "name",
        "'My Plugin!' is not a valid plugin name",
        id="name-chars",
    ),
    pytest.param(
        'name: 9lives\nversion: "1"\ntools: [t]\n',
        "name",
        "'9lives' is not a valid plugin name",
        id="name-leading-digit",
    ),
    pytest.param(
        'name: [a]\nversion: "1"\ntools: [t]\n',
        "name",
        "must be a string, got list",
        id="name-list",
    ),
    pytest.param("name: demo\ntools: [t]\n", "version", "is required", id="missing-version"),
    pytest.param(
        'name: demo\nversion: "1"\nnmae: x\ntools: [t]\n', "nmae", "unknown key", id="top-key"
    ),
    pytest.param(
        'name: demo\nversion: "1"\ndescription: [a, b]\ntools: [t]\n',
        "description",
        "must be a string, got list",
        id="description-list",
    ),
    pytest.param(
        'name: demo\nversion: "1"\nauthor: {x: 1}\ntools: [t]\n',
        "author",
        "must be a string, got dict",
        id="author-mapping",
    ),
    pytest.param(
        'name: demo\nversion: "1"\ncategory: null\ntools: [t]\n',
        "category",
        "must be a string, got NoneType",
        id="category-null",
    ),
    pytest.param(
        'name: demo\nversion: "1"\nclass: my-plugin\ntools: [t]\n',
        "class",
        "'my-plugin' is not a Python class name",
        id="class-name",
    ),
    pytest.param(
        'name: demo\nversion: "1"\nsandbox: ../etc\ntools: [t]\n',
        "sandbox",
        "'../etc' is not a valid profile name",
        id="sandbox-name",
    ),
    pytest.param(
        'name: demo\nversion: "1"\ntags: [1, 2]\ntools: [t]\n',
        "tags",
        "must be a list of strings",
        id="tags",
    ),
    pytest.param(
        'name: demo\nversion: "1"\ntools: {greet: {}}\n',
        "tools",
        "must be a list of tool entries, got dict",
        id="tools-mapping",
    ),
    pytest.param(
        'name: demo\nversion: "1"\ntools: [[t]]\n',
        "tools[0]",
        "must be a mapping with at least 'name', got ['t']",
        id="tool-entry-list",
    ),
    pytest.param(
        'name: demo\nversion: "1"\ntools: [{name: t, timout: 5}]\n',
        "tools[0].timout",
        "unknown key",
        id="tool-key",
    ),
    pytest.param(
        'name: demo\nversion: "1"\ntools: [{name: t, cache_ttl: "60"}]\n',
        "tools[0].cache_ttl",
        "must be a number of seconds, got '60'",
        id="cache-ttl-string",
    ),
    pytest.param(
        'name: demo\nversion: "1"\ntools: [{name: t, cache_ttl: true}]\n',
        "tools[0].cache_ttl",
        "must be a number of seconds, got True",
        id="cache-ttl-bool",
    ),
    pytest.param(
        'name: demo\nversion: "1"\ntools: [{name: t, cache_ttl: -1}]\n',
        "tools[0].cache_ttl",
        "must be in [0, 86400] seconds, got -1",
        id="cache-ttl-negative",
    ),
    pytest.param(
        'name: demo\nversion: "1"\ntools: [{name: t, cache_ttl: 86401}]\n',
        "tools[0].cache_ttl",
        "must be in [0, 86400] seconds, got 86401",
        id="cache-ttl-over-a-day",
    ),
    pytest.param(
        'name: demo\nversion: "1"\ntools: [{name: t, cache_ttl: .nan}]\n',
        "tools[0].cache_ttl",
        "must be in [0, 86400] seconds, got nan",
        id="cache-ttl-nan",
    ),
    pytest.param(
        'name: demo\nversion: "1"\ntools: [{name: t, cache_tll: 5}]\n',
        "tools[0].cache_tll",
        "unknown key",
        id="cache-ttl-typo",
    ),
    pytest.param(
        'name: demo\nversion: "1"\ntools: [{timeout: 5}]\n',
        "tools[0].name",
        "is required",
        id="tool-name-missing",
    ),
    pytest.param(
        'name: demo\nversion: "1"\ntools: ["has space"]\n',
        "tools[0].name",
        "'has space' is not a valid tool name",
        id="tool-name-chars",
    ),
    pytest.param(
        'name: demo\nversion: "1"\ntools: [a, b, a]\n',
        "tools[2].name",
        "tool 'a' is listed twice",
        id="duplicate-tool",
    ),
    pytest.param(
        'name: demo\nversion: "1"\ntools: [{name: t, timeout: -5}]\n',
        "tools[0].timeout",
        "must be in (0, 3600], got -5",
        id="timeout-negative",
    ),
    pytest.param(
        'name: demo\nversion: "1"\ntools: [{name: t, timeout: 0}]\n',
        "tools[0].timeout",
        "must be in (0, 3600], got 0",
        id="timeout-zero",
    ),
    pytest.param(
        'name: demo\nversion: "1"\ntools: [{name: t, timeout: 3600.5}]\n',
        "tools[0].timeout",
        "must be in (0, 3600], got 3600.5",
        id="timeout-over-max",
    ),
    pytest.param(
        'name: demo\nversion: "1"\ntools: [{name: t, timeout: .nan}]\n',
        "tools[0].timeout",
        "must be in (0, 3600], got nan",
        id="timeout-nan",
    ),
    pytest.param(
        'name: demo\nversion: "1"\ntools: [{name: t, timeout: "10"}]\n',
        "tools[0].timeout",
        "must be a number of seconds, got '10'",
        id="timeout-string",
    ),
    pytest.param(
        'name: demo\nversion: "1"\ntools: [{name: t, timeout: true}]\n',
        "tools[0].timeout",
        "must be a number of seconds, got True",
        id="timeout-bool",
    ),
    pytest.param(
        'name: demo\nversion: "1"\ntools: [{name: t, parameters: {q: str}}]\n',
        "tools[0].parameters",
        "must be a list of {name, type, required, default} entries",
        id="parameters-mapping",
    ),
    pytest.param(
        'name: demo\nversion: "1"\ntools: [{name: t, parameters: [q]}]\n',
        "tools[0].parameters[0]",
        "must be a mapping with at least 'name'",
        id="parameter-entry-string",
    ),
    pytest.param(
        'name: demo\nversion: "1"\ntools: [{name: t, parameters: [{type: str}]}]\n',
        "tools[0].parameters[0].name",
        "is required",
        id="parameter-name-missing",
    ),
    pytest.param(
        'name: demo\nversion: "1"\n'
        "tools: [{name: t, parameters: [{name: q}, {name: n, type: strnig}]}]\n",
        "tools[0].parameters[1].type",
        "unknown type 'strnig'",
        id="parameter-type",
    ),
    pytest.param(
        'name: demo\nversion: "1"\ntools: [{name: t, parameters: [{name: q, nullable: true}]}]\n',
        "tools[0].parameters[0].nullable",
        "unknown key",
        id="parameter-key",
    ),
    pytest.param(
        'name: demo\nversion: "1"\ntools: [{name: t, parameters: [{name: q, required: "yes"}]}]\n',
        "tools[0].parameters[0].required",
        "must be true or false, got 'yes'",
        id="parameter-required",
    ),
    pytest.param(
        'name: demo\nversion: "1"\ntools: [{name: t, parameters: [{name: q, enum: a}]}]\n',
        "tools[0].parameters[0].enum",
        "must be a list of allowed values",
        id="parameter-enum",
    ),
    pytest.param(
        'name: demo\nversion: "1"\ntools: [t]\nconfiguration: [enabled]\n',
        "configuration",
        "must be a mapping, got list",
        id="configuration-list",
    ),
    pytest.param(
        'name: demo\nversion: "1"\ntools: [t]\nconfiguration: {enabled: "no"}\n',
        "configuration.enabled",
        "must be true or false, got 'no'",
        id="enabled-string",
    ),
    pytest.param(
        'name: demo\nversion: "1"\nconfiguration: {auto_start: false}\n',
        "configuration.auto_start",
        "is false but 'tools' lists no tools",
        id="lazy-without-tools",
    ),
    pytest.param(
        'name: demo\nversion: "1"\ntools: [t]\npermissions: {net: none}\n',
        "permissions.net",
        "unknown key",
        id="permission-key",
    ),
    pytest.param(
        'name: demo\nversion: "1"\ntools: [t]\npermissions: {filesystem: {exec: [/bin]}}\n',
        "permissions.filesystem.exec",
        "unknown key",
        id="filesystem-key",
    ),
    pytest.param(
        'name: demo\nversion: "1"\ntools: [t]\npermissions: {filesystem: {read: /data}}\n',
        "permissions.filesystem.read",
        "must be a list of strings",
        id="filesystem-read-string",
    ),
    pytest.param(
        'name: demo\nversion: "1"\ntools: [t]\npermissions: {network: all}\n',
        "permissions.network",
        "must be 'none' or a list of 'host:port' strings or URLs",
        id="network-word",
    ),
    pytest.param(
        'name: demo\nversion: "1"\ntools: [t]\npermissions: {network: ["ok:1", "localhost"]}\n',
        "permissions.network[1]",
        "'localhost' is not host:port or a URL; write e.g. 'db.internal:27017', '*:443' or "
        "'https://api.example.com'",
        id="network-entry",
    ),
    pytest.param(
        'name: demo\nversion: "1"\ntools: [t]\npermissions: {network: ["${DB_URL}"]}\n',
        "permissions.network[0]",
        "references ${DB_URL}, which is not declared; add DB_URL to permissions.env",
        id="network-undeclared-variable",
    ),
    pytest.param(
        'name: demo\nversion: "1"\ntools: [t]\n'
        'permissions: {filesystem: {write: ["${DATA:-relative/dir}"]}, env: [DATA]}\n',
        "permissions.filesystem.write[0]",
        "'relative/dir' is not an absolute path",
        id="path-default-not-absolute",
    ),
    pytest.param(
        'name: demo\nversion: "1"\ntools: [t]\npermissions: {filesystem: {read: ["${HOME}/x"]}}\n',
        "permissions.filesystem.read[0]",
        "references ${HOME}, which is not declared; add HOME to permissions.env",
        id="path-undeclared-variable",
    ),
    pytest.param(
        'name: demo\nversion: "1"\ntools: [t]\npermissions: {env: [OK, 1BAD]}\n',
        "permissions.env[1]",
        "'1BAD' is not an environment variable name",
        id="env-name",
    ),
    pytest.param(
        'name: demo\nversion: "1"\ntools: [t]\npermissions: {subprocess: 1}\n',
        "permissions.subprocess",
        "must be true or false, got 1",
        id="subprocess-int",
    ),
    pytest.param(
        'name: demo\nversion: "1"\ntools: [t]\nconcurrency: {max_in_flight: 0}\n',
        "concurrency.max_in_flight",
        "must be an integer in [1, 4096], got 0",
        id="max-in-flight-zero",
    ),
    pytest.param(
        'name: demo\nversion: "1"\ntools: [t]\nconcurrency: {max_queued: 2.5}\n',
        "concurrency.max_queued",
        "must be an integer in [0, 100000], got 2.5",
        id="max-queued-float",
    ),
    pytest.param(
        'name: demo\nversion: "1"\ntools: [t]\nconcurrency: {workers: 2}\n',
        "concurrency.workers",
        "unknown key",
        id="concurrency-key",
    ),
]


@pytest.mark.parametrize(("text", "field", "reason"), BAD_FIELDS)
def test_bad_field_is_reported_with_path_field_and_reason(
    tmp_path: Path, text: str, field: str, reason: str
) -> None:
    path = write_plugin(tmp_path, text)

    problem = only_problem(path)

    assert (problem.field, problem.reason) == (field, reason)
    assert str(path) in str(problem)
    assert f": {field}: {reason}" in str(problem)


def test_unknown_key_hint_lists_the_allowed_keys(tmp_path: Path) -> None:
    problem = only_problem(write_plugin(tmp_path, 'name: d\nversion: "1"\ntols: [t]\n'))

    assert "tools" in problem.hint
    assert "name" in problem.hint
    assert problem.hint in str(problem)


def test_unknown_parameter_type_hint_lists_the_json_schema_types(tmp_path: Path) -> None:
    text = 'name: d\nversion: "1"\ntools: [{name: t, parameters: [{name: p, type: text}]}]\n'

    problem = only_problem(write_plugin(tmp_path, text))

    assert problem.hint == "use one of array, boolean, integer, number, object, string"


def test_tools_without_names_are_not_reported_as_duplicates_of_each_other(tmp_path: Path) -> None:
    path = write_plugin(tmp_path, 'name: d\nversion: "1"\ntools: [{timeout: 1}, {timeout: 2}]\n')

    assert [(p.field, p.reason) for p in problems_of(path)] == [
        ("tools[0].name", "is required"),
        ("tools[1].name", "is required"),
    ]


def test_every_problem_in_a_file_is_reported_together(tmp_path: Path) -> None:
    path = write_plugin(
        tmp_path,
        """\
        name: Bad Name
        colour: blue
        tools:
          - name: t
            timeout: -1
            parameters: [{name: p, type: text}]
          - name: t
        permissions: {network: [nowhere]}
        """,
    )

    fields = [p.field for p in problems_of(path)]

    assert sorted(fields) == sorted(
        [
            "colour",
            "name",
            "version",
            "tools[0].timeout",
            "tools[0].parameters[0].type",
            "tools[1].name",
            "permissions.network[0]",
        ]
    )


# ---- files that are not a YAML mapping -----------------------------------------------------


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        pytest.param("", "file is empty", id="empty"),
        pytest.param("# just a comment\n\n", "file is empty", id="comments-only"),
        pytest.param("- name: demo\n", "top level must be a mapping, got list", id="list"),
        pytest.param("just words\n", "top level must be a mapping, got str", id="scalar"),
        pytest.param(
            "name: demo\n1: one\n", "top-level keys must be strings, got 1", id="integer-key"
        ),
    ],
)
def test_file_that_is_not_a_mapping_is_one_error_without_a_field(
    tmp_path: Path, text: str, reason: str
) -> None:
    problem = only_problem(write_plugin(tmp_path, text))

    assert (problem.field, problem.reason) == ("", reason)


def test_duplicate_top_level_key_is_refused_with_its_line(tmp_path: Path) -> None:
    path = write_plugin(tmp_path, 'name: demo\nversion: "1"\nname: other\ntools: [t]\n')

    problem = only_problem(path)

    assert problem.field == ""
    assert problem.reason == "not valid YAML: line 3, column 1: duplicate key 'name'"


def test_duplicate_key_inside_a_tool_entry_is_refused_with_its_line(tmp_path: Path) -> None:
    path = write_plugin(
        tmp_path,
        'name: demo\nversion: "1"\ntools:\n  - name: t\n    timeout: 5\n    timeout: 50\n',
    )

    assert only_problem(path).reason == (
        "not valid YAML: line 6, column 5: duplicate key 'timeout'"
    )


def test_mapping_used_as_a_key_is_refused(tmp_path: Path) -> None:
    path = write_plugin(tmp_path, "name: demo\n? {a: 1}\n: value\n")

    assert "a mapping key must be a scalar" in only_problem(path).reason


def test_invalid_yaml_syntax_is_reported_with_line_and_column(tmp_path: Path) -> None:
    path = write_plugin(tmp_path, 'name: demo\nversion: "1"\ntools: [t\n')

    reason = only_problem(path).reason

    assert reason.startswith("not valid YAML: line ")
    assert ", column " in reason


def test_unsafe_yaml_tag_is_refused(tmp_path: Path) -> None:
    path = write_plugin(tmp_path, "name: !!python/object/apply:os.getcwd []\n")

    assert only_problem(path).reason.startswith("not valid YAML: ")


def test_oversized_file_is_refused_without_parsing(tmp_path: Path) -> None:
    path = write_plugin(tmp_path, MINIMAL)
    with path.open("a", encoding="utf-8") as handle:
        handle.write("#" * MAX_YAML_BYTES)
    size = path.stat().st_size

    problem = only_problem(path)

    assert problem.reason == f"file is {size} bytes; the limit is {MAX_YAML_BYTES}"


def test_file_of_exactly_the_size_limit_is_read(tmp_path: Path) -> None:
    path = write_plugin(tmp_path, MINIMAL)
    with path.open("a", encoding="utf-8") as handle:
        handle.write("#" * (MAX_YAML_BYTES - path.stat().st_size))

    assert load_valid(path).name == "demo"


def test_non_utf8_file_is_refused(tmp_path: Path) -> None:
    path = write_plugin(tmp_path, MINIMAL)
    path.write_bytes(b"name: d\xe9mo\n")

    assert only_problem(path).reason.startswith("not UTF-8 text: ")


def test_missing_file_is_reported_as_unreadable(tmp_path: Path) -> None:
    path = tmp_path / MANIFEST_FILENAME

    problem = only_problem(path)

    assert problem.reason.startswith("cannot read: ")


def test_manifest_error_reads_kind_path_field_reason_and_hint(tmp_path: Path) -> None:
    error = ManifestError(tmp_path / "plugin.yaml", "tools[0].timeout", "too long", "lower it")

    assert str(error) == f"manifest {tmp_path}/plugin.yaml: tools[0].timeout: too long (lower it)"
    assert isinstance(error, ConfigError)


# ---- discovery -----------------------------------------------------------------------------


def test_discovery_finds_the_repo_plugins_without_problems() -> None:
    found = discover([BUNDLED_PLUGINS, TEST_PLUGINS])

    assert found.problems == ()
    names = {m.name for m in found.manifests}
    assert {"system", "echo"} <= names


def test_directory_holding_a_plugin_yaml_is_one_plugin(tmp_path: Path) -> None:
    write_plugin(tmp_path, MINIMAL)
    write_plugin(tmp_path / "nested", MINIMAL.replace("demo", "nested"))

    found = discover([tmp_path])

    assert [m.name for m in found.manifests] == ["demo"]
    assert found.problems == ()


def test_folder_of_plugin_folders_yields_each_plugin(tmp_path: Path) -> None:
    write_plugin(tmp_path / "b_plugin", MINIMAL.replace("demo", "beta"))
    write_plugin(tmp_path / "a_plugin", MINIMAL.replace("demo", "alpha"))
    (tmp_path / "not_a_plugin").mkdir()

    found = discover([tmp_path])

    assert [m.name for m in found.manifests] == ["alpha", "beta"]
    assert found.problems == ()


def test_one_bad_plugin_does_not_stop_the_others(tmp_path: Path) -> None:
    write_plugin(tmp_path / "good", MINIMAL)
    bad = write_plugin(tmp_path / "bad", "name: [broken\n")

    found = discover([tmp_path])

    assert [m.name for m in found.manifests] == ["demo"]
    assert [p.path for p in found.problems] == [bad.resolve()]


def test_plugin_without_init_py_is_reported_and_left_out(tmp_path: Path) -> None:
    path = write_plugin(tmp_path / "nopkg", MINIMAL, package=False)

    found = discover([tmp_path])

    assert found.manifests == ()
    [problem] = found.problems
    assert (problem.path, problem.field) == (path.resolve(), "class")
    assert problem.reason == f"the plugin folder has no __init__.py exposing {DEFAULT_CLASS!r}"
    assert str(path.resolve().parent / "__init__.py") in problem.hint


def test_second_plugin_with_a_taken_name_is_reported_and_the_first_kept(tmp_path: Path) -> None:
    first = write_plugin(tmp_path / "one" / "demo", MINIMAL)
    second = write_plugin(tmp_path / "two" / "demo", MINIMAL)

    found = discover([tmp_path / "one", tmp_path / "two"])

    assert [m.path for m in found.manifests] == [first.resolve()]
    [problem] = found.problems
    assert (problem.path, problem.field) == (second.resolve(), "name")
    assert problem.reason == f"plugin name 'demo' is also used by {first.resolve()}"


def test_missing_plugin_directory_is_a_problem_not_a_crash(tmp_path: Path) -> None:
    write_plugin(tmp_path / "good", MINIMAL)

    found = discover([tmp_path / "absent", tmp_path])

    assert [m.name for m in found.manifests] == ["demo"]
    [problem] = found.problems
    assert (problem.path, problem.reason) == (
        (tmp_path / "absent").resolve(),
        "plugin directory does not exist",
    )


# ---- ${VAR} substitution -------------------------------------------------------------------


def configured(tmp_path: Path, configuration: str, env: str = "[DB_URI, REGION]") -> Manifest:
    return load_valid(
        write_plugin(
            tmp_path,
            f'name: demo\nversion: "1"\ndescription: "${{DB_URI}}"\ntools: [t]\n'
            f"permissions: {{env: {env}}}\nconfiguration: {configuration}\n",
        )
    )


def test_declared_variable_is_substituted_from_the_environment(tmp_path: Path) -> None:
    manifest = configured(tmp_path, '{uri: "mongodb://${DB_URI}/db", port: 27017}')

    resolved = resolve_configuration(manifest, {"DB_URI": "db.internal"})

    assert resolved["configuration"] == {"uri": "mongodb://db.internal/db", "port": 27017}


def test_default_applies_only_when_the_variable_is_unset(tmp_path: Path) -> None:
    manifest = configured(tmp_path, '{region: "${REGION:-eu-west}", empty: "${REGION:-}"}')

    assert resolve_configuration(manifest, {})["configuration"] == {
        "region": "eu-west",
        "empty": "",
    }
    assert resolve_configuration(manifest, {"REGION": "us"})["configuration"] == {
        "region": "us",
        "empty": "us",
    }


def test_substitution_reaches_nested_lists_and_mappings(tmp_path: Path) -> None:
    manifest = configured(tmp_path, '{hosts: [a, "${REGION}.b"], auth: {uri: "${DB_URI}"}}')

    resolved = resolve_configuration(manifest, {"REGION": "eu", "DB_URI": "x"})

    assert resolved["configuration"] == {"hosts": ["a", "eu.b"], "auth": {"uri": "x"}}


def test_only_configuration_is_substituted_and_the_manifest_is_untouched(tmp_path: Path) -> None:
    manifest = configured(tmp_path, '{uri: "${DB_URI}"}')

    resolved = resolve_configuration(manifest, {"DB_URI": "secret"})

    assert resolved["description"] == "${DB_URI}"
    assert manifest.raw["configuration"] == {"uri": "${DB_URI}"}


def test_undeclared_variable_is_refused_even_when_set(tmp_path: Path) -> None:
    manifest = configured(tmp_path, '{hosts: [a, "${HOME}"]}')

    with pytest.raises(ManifestError) as caught:
        resolve_configuration(manifest, {"HOME": "/root"})

    error = caught.value
    assert (error.path, error.field) == (manifest.path, "configuration.hosts[1]")
    assert error.reason == "references ${HOME}, which is not declared"
    assert error.hint == "add HOME to permissions.env"
    assert "/root" not in str(error)


def test_unset_variable_without_default_is_refused(tmp_path: Path) -> None:
    manifest = configured(tmp_path, '{auth: {uri: "${DB_URI}"}}')

    with pytest.raises(ManifestError) as caught:
        resolve_configuration(manifest, {})

    assert (caught.value.field, caught.value.reason) == (
        "configuration.auth.uri",
        "${DB_URI} is not set in the environment",
    )


def test_missing_configuration_resolves_to_an_empty_mapping(tmp_path: Path) -> None:
    manifest = load_valid(write_plugin(tmp_path, MINIMAL))

    assert resolve_configuration(manifest, {})["configuration"] == {}
