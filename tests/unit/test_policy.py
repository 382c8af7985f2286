"""The caller policy: strict parsing, glob and ``plugin:`` matching, deny wins, unknown roles."""

from __future__ import annotations

import fnmatch
import textwrap
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from runtime.errors import PermissionDeniedError, PolicyError
from runtime.host.policy import Policy, Role, load_policy

ISSUE_EXAMPLE = """\
default_role: operator        # role for callers that do not name one
roles:
  operator: {allow: ["*"]}
  analyst: {allow: ["rag_*", "plugin:system"], deny: ["rag_delete_*"]}
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "policy.yaml"
    path.write_text(textwrap.dedent(text))
    return path


@pytest.fixture
def policy(tmp_path: Path) -> Policy:
    return load_policy(write(tmp_path, ISSUE_EXAMPLE))


def denial(policy: Policy, role: str | None, tool: str, plugin: str) -> PermissionDeniedError:
    with pytest.raises(PermissionDeniedError) as caught:
        policy.check(role, tool, plugin)
    return caught.value


# ---- parsing -------------------------------------------------------------------------------


def test_the_issue_example_parses_into_roles_and_a_default(policy: Policy) -> None:
    assert sorted(policy.roles) == ["analyst", "operator"]
    assert policy.default_role == "operator"
    assert policy.roles["analyst"].allow.globs == ("rag_*", "plugin:system")
    assert policy.roles["analyst"].deny.globs == ("rag_delete_*",)


@pytest.mark.parametrize(
    ("text", "field", "reason"),
    [
        pytest.param("roles: {a: {allow: ['*']}}\nrole: a\n", "role", "unknown key", id="top-key"),
        pytest.param("roles: {a: {alow: ['*']}}\n", "roles.a.alow", "unknown key", id="role-key"),
        pytest.param("default_role: a\n", "roles", "must be a mapping", id="no-roles"),
        pytest.param("roles: {}\n", "roles", "must be a mapping", id="empty-roles"),
        pytest.param("roles: [a, b]\n", "roles", "must be a mapping", id="roles-list"),
        pytest.param("roles: {a: [x]}\n", "roles.a", "must be a mapping", id="role-list"),
        pytest.param("roles: {a: {allow: '*'}}\n", "roles.a.allow", "must be a list", id="str"),
        pytest.param("roles: {a: {deny: [1]}}\n", "roles.a.deny[0]", "non-empty", id="not-str"),
        pytest.param("roles: {a: {allow: ['']}}\n", "roles.a.allow[0]", "non-empty", id="empty"),
        pytest.param(
            "roles: {a: {allow: ['x', ' y']}}\n", "roles.a.allow[1]", "spaces", id="spaces"
        ),
        pytest.param(
            "roles: {a: {allow: ['plugin:']}}\n", "roles.a.allow[0]", "plugin name", id="bare"
        ),
        pytest.param(
            "default_role: b\nroles: {a: {}}\n", "default_role", "not defined", id="no-default"
        ),
        pytest.param(
            "default_role: [a]\nroles: {a: {}}\n", "default_role", "role name", id="bad-default"
        ),
        pytest.param("roles: {1: {}}\n", "roles.1", "non-empty string", id="int-role"),
        pytest.param("roles: {a: {}, a: {}}\n", "", "duplicate key 'a'", id="duplicate"),
        pytest.param("roles: {a: [\n", "", "not valid YAML: line", id="yaml"),
        pytest.param("- a\n", "", "top level must be a mapping", id="top-list"),
    ],
)
def test_a_bad_policy_is_a_policy_error_naming_path_and_field(
    tmp_path: Path, text: str, field: str, reason: str
) -> None:
    path = write(tmp_path, text)

    with pytest.raises(PolicyError) as caught:
        load_policy(path)

    assert caught.value.path == path
    assert caught.value.field == field
    assert reason in str(caught.value)
    assert str(path) in str(caught.value)


def test_a_missing_policy_file_is_a_policy_error(tmp_path: Path) -> None:
    with pytest.raises(PolicyError, match="cannot read"):
        load_policy(tmp_path / "absent.yaml")


def test_a_role_without_allow_may_call_nothing(tmp_path: Path) -> None:
    policy = load_policy(write(tmp_path, "roles: {locked: {}, other: }\n"))

    assert not policy.permits("locked", "echo", "echo")
    assert not policy.permits("other", "echo", "echo")


def test_a_policy_built_in_code_rejects_an_undefined_default_role() -> None:
    with pytest.raises(PolicyError, match="default_role"):
        Policy({"a": Role(allow=["*"])}, default_role="b")


# ---- matching ------------------------------------------------------------------------------


def test_tool_globs_match_tool_names(policy: Policy) -> None:
    assert policy.permits("analyst", "rag_search_documents", "rag")
    assert not policy.permits("analyst", "mongodb_create_index", "mongodb")
    assert not policy.permits("analyst", "RAG_search", "rag")  # case-sensitive


def test_plugin_patterns_match_every_tool_of_the_plugin(tmp_path: Path) -> None:
    policy = load_policy(
        write(tmp_path, "roles: {r: {allow: ['plugin:sys*', 'plugin:?ag'], deny: []}}\n")
    )

    assert policy.permits("r", "health_check", "system")
    assert policy.permits("r", "anything", "sysadmin")
    assert policy.permits("r", "search", "rag")
    assert not policy.permits("r", "health_check", "mongodb")
    assert not policy.permits("r", "system", "other")  # 'plugin:' never matches tool names


def test_deny_wins_over_allow_and_the_message_names_the_pattern(policy: Policy) -> None:
    error = denial(policy, "analyst", "rag_delete_collection", "rag")

    assert error.key == "roles.analyst.deny"
    assert "'rag_delete_*' in roles.analyst.deny matches it" in str(error)


def test_a_denied_plugin_pattern_beats_an_allowed_tool(tmp_path: Path) -> None:
    policy = load_policy(
        write(tmp_path, "roles: {r: {allow: [health_check], deny: [plugin:sys*]}}")
    )

    error = denial(policy, "r", "health_check", "system")

    assert "'plugin:sys*' in roles.r.deny" in str(error)


def test_a_tool_no_allow_pattern_matches_is_denied_with_a_hint(policy: Policy) -> None:
    error = denial(policy, "analyst", "mongodb_stats", "mongodb")

    assert error.key == "roles.analyst.allow"
    assert "(such as 'mongodb_stats' or 'plugin:mongodb')" in str(error)


def test_the_message_names_role_tool_plugin_policy_file_and_key(policy: Policy) -> None:
    error = denial(policy, "analyst", "mongodb_stats", "mongodb")

    assert (error.role, error.tool, error.plugin) == ("analyst", "mongodb_stats", "mongodb")
    text = str(error)
    for part in ("'analyst'", "'mongodb_stats'", "'mongodb'", "roles.analyst.allow"):
        assert part in text
    assert text.endswith(f"; to change this, edit roles.analyst.allow in {policy.source}")
    assert policy.source.endswith("policy.yaml")


def test_an_unknown_role_is_denied_and_the_defined_roles_are_listed(policy: Policy) -> None:
    error = denial(policy, "intern", "rag_search", "rag")

    assert error.role == "intern"
    assert error.key == "roles.intern"
    assert "role 'intern' is not defined (defined roles: analyst, operator)" in str(error)


def test_a_caller_without_a_role_gets_the_default_role(policy: Policy) -> None:
    policy.check(None, "mongodb_stats", "mongodb")  # operator may call everything

    assert policy.role_for(None) == "operator"
    assert policy.role_for("analyst") == "analyst"


def test_without_a_default_role_an_unnamed_caller_is_denied(tmp_path: Path) -> None:
    policy = load_policy(write(tmp_path, "roles: {operator: {allow: ['*']}}\n"))

    error = denial(policy, None, "echo", "echo")

    assert error.role is None
    assert error.key == "default_role"
    assert str(error).startswith("permission denied: a caller without a role may not call")


def test_a_cached_decision_does_not_carry_over_to_another_role_or_plugin(tmp_path: Path) -> None:
    policy = load_policy(write(tmp_path, "roles: {a: {allow: ['plugin:rag']}, b: {}}\n"))
    policy.check("a", "search", "rag")

    assert not policy.permits("b", "search", "rag")
    assert not policy.permits("a", "search", "other")
    assert policy.permits("a", "search", "rag")


# Glob pieces, including character classes, joined into patterns of a few pieces each.
GLOB = st.lists(st.sampled_from(["a", "b", "_", "*", "?", "[ab]", "[!a]"]), min_size=1, max_size=5)
NAME_CHARS = st.sampled_from(list("ab_c"))


@given(
    allow=st.lists(GLOB.map("".join), max_size=3),
    deny=st.lists(GLOB.map("".join), max_size=3),
    tool=st.text(NAME_CHARS, min_size=1, max_size=6),
)
def test_compiled_matching_agrees_with_fnmatch_and_deny_wins(
    allow: list[str], deny: list[str], tool: str
) -> None:
    policy = Policy({"r": Role(allow=allow, deny=deny)})

    expected = any(fnmatch.fnmatchcase(tool, g) for g in allow) and not any(
        fnmatch.fnmatchcase(tool, g) for g in deny
    )
    assert policy.permits("r", tool, "plugin") is expected
