"""The public surface: ``runtime.__all__`` and the exception tree of runtime/errors.py."""

from __future__ import annotations

import re
from collections.abc import Callable

import pytest

import runtime
from runtime import errors
from runtime.errors import (
    CallError,
    HydrogenError,
    InvalidParamsError,
    PermissionDeniedError,
    PluginBusyError,
    PluginCrashedError,
    PluginUnavailableError,
    ToolFailedError,
    ToolNotFoundError,
    ToolTimeoutError,
)

# The embedding contract: what `from runtime import ...` may rely on. Adding or removing a name
# is an API change and must be made here on purpose.
PUBLIC_API = {
    "Supervisor",
    "ToolInfo",
    "HydrogenError",
    "ConfigError",
    "ManifestError",
    "ProfileError",
    "PolicyError",
    "DuplicateToolError",
    "ProtocolError",
    "PluginStartError",
    "CallError",
    "ToolNotFoundError",
    "InvalidParamsError",
    "ToolTimeoutError",
    "PluginCrashedError",
    "PluginBusyError",
    "PluginUnavailableError",
    "ToolFailedError",
    "PermissionDeniedError",
}

# Callers (and MCP clients) branch on these strings; they never change once published.
STABLE_CODES: dict[type[CallError], str] = {
    ToolNotFoundError: "tool_not_found",
    InvalidParamsError: "invalid_params",
    ToolTimeoutError: "timeout",
    PluginCrashedError: "plugin_crashed",
    PluginBusyError: "busy",
    PluginUnavailableError: "unavailable",
    ToolFailedError: "tool_failed",
    PermissionDeniedError: "denied",
}

TOOL = "search_docs"
PLUGIN = "rag"

# One instance of each CallError subclass, built through its real constructor.
MAKE: dict[type[CallError], Callable[[], CallError]] = {
    ToolNotFoundError: lambda: ToolNotFoundError(TOOL, ["b_tool", "a_tool"]),
    InvalidParamsError: lambda: InvalidParamsError(
        tool=TOOL, plugin=PLUGIN, field="query", reason="is required"
    ),
    ToolTimeoutError: lambda: ToolTimeoutError(tool=TOOL, plugin=PLUGIN, timeout=2.5),
    PluginCrashedError: lambda: PluginCrashedError(
        tool=TOOL, plugin=PLUGIN, detail="exit status -9"
    ),
    PluginBusyError: lambda: PluginBusyError(tool=TOOL, plugin=PLUGIN, in_flight=64, queued=256),
    PluginUnavailableError: lambda: PluginUnavailableError(
        tool=TOOL, plugin=PLUGIN, state="quarantined", reason="crash loop"
    ),
    ToolFailedError: lambda: ToolFailedError(
        tool=TOOL, plugin=PLUGIN, error_type="KeyError", message="'x'"
    ),
    PermissionDeniedError: lambda: PermissionDeniedError(
        tool=TOOL,
        plugin=PLUGIN,
        role="analyst",
        reason="no pattern in roles.analyst.allow matches it",
        source="policy.yaml",
        key="roles.analyst.allow",
    ),
}


def all_subclasses(cls: type[BaseException]) -> set[type[BaseException]]:
    found: set[type[BaseException]] = set()
    for sub in cls.__subclasses__():
        found |= {sub, *all_subclasses(sub)}
    return found


TREE_LINE = re.compile(r"^[ |]*(?:\+-- )?(?P<name>[A-Z]\w*Error)\s{2,}")


def drawn_tree() -> dict[str, str]:
    """child -> parent, as drawn with ``+--`` in the errors module docstring."""
    assert errors.__doc__ is not None
    parents: dict[str, str] = {}
    open_branches: list[tuple[int, str]] = []  # (column, name) from the root down
    for line in errors.__doc__.splitlines():
        match = TREE_LINE.match(line)
        if match is None:
            continue
        column, name = match.start("name"), match.group("name")
        while open_branches and open_branches[-1][0] >= column:
            open_branches.pop()
        if open_branches:
            parents[name] = open_branches[-1][1]
        open_branches.append((column, name))
    return parents


def public_parent(cls: type[BaseException]) -> type[BaseException]:
    """The nearest base class that is not a private helper."""
    return next(base for base in cls.__mro__[1:] if not base.__name__.startswith("_"))


# ---- runtime.__all__ -----------------------------------------------------------------------


def test_public_api_is_exactly_the_documented_names() -> None:
    assert set(runtime.__all__) == PUBLIC_API
    assert len(runtime.__all__) == len(PUBLIC_API), "a name is listed twice"


@pytest.mark.parametrize("name", sorted(PUBLIC_API))
def test_every_public_name_is_importable_from_runtime(name: str) -> None:
    namespace: dict[str, object] = {}
    exec(f"from runtime import {name}", namespace)

    assert namespace[name] is getattr(runtime, name)


def test_public_errors_are_the_classes_of_runtime_errors() -> None:
    for name in PUBLIC_API:
        if name.endswith("Error"):
            assert getattr(runtime, name) is getattr(errors, name)


def test_errors_module_exports_every_error_class_it_defines() -> None:
    defined = {
        name
        for name, value in vars(errors).items()
        if isinstance(value, type) and issubclass(value, HydrogenError) and not name.startswith("_")
    }

    assert set(errors.__all__) == defined


# ---- the exception tree --------------------------------------------------------------------


def test_every_error_descends_from_the_one_root() -> None:
    for name in errors.__all__:
        assert issubclass(getattr(errors, name), HydrogenError), name
    assert not issubclass(HydrogenError, RuntimeError)


def test_class_hierarchy_matches_the_tree_in_the_module_docstring() -> None:
    drawn = drawn_tree()

    assert set(drawn) | {"HydrogenError"} == set(errors.__all__)
    for child, parent in drawn.items():
        assert public_parent(getattr(errors, child)) is getattr(errors, parent), child


def test_every_call_error_subclass_has_its_own_stable_code() -> None:
    assert all_subclasses(CallError) == set(STABLE_CODES)
    for cls, code in STABLE_CODES.items():
        assert cls.code == code, cls.__name__
    assert len(set(STABLE_CODES.values())) == len(STABLE_CODES)
    assert CallError.code not in STABLE_CODES.values()


@pytest.mark.parametrize("cls", list(MAKE), ids=lambda c: c.__name__)
def test_call_error_names_tool_and_plugin(cls: type[CallError]) -> None:
    error = MAKE[cls]()

    assert type(error) is cls
    assert error.tool == TOOL
    assert repr(TOOL) in str(error)
    if cls is ToolNotFoundError:
        assert error.plugin is None  # no plugin serves it; that is the point
    else:
        assert error.plugin == PLUGIN
        assert repr(PLUGIN) in str(error)


def test_tool_not_found_lists_the_known_tools_sorted() -> None:
    assert str(ToolNotFoundError("x", ["b", "a"])) == (
        "no plugin serves tool 'x' (known tools: a, b)"
    )
    assert "no tools are admitted" in str(ToolNotFoundError("x", []))


def test_call_errors_carry_their_details_as_attributes() -> None:
    invalid = MAKE[InvalidParamsError]()
    timeout = MAKE[ToolTimeoutError]()
    failed = MAKE[ToolFailedError]()
    unavailable = MAKE[PluginUnavailableError]()

    assert isinstance(invalid, InvalidParamsError)
    assert (invalid.field, invalid.reason) == ("query", "is required")
    assert isinstance(timeout, ToolTimeoutError)
    assert timeout.timeout == 2.5
    assert "2.5s" in str(timeout)
    assert isinstance(failed, ToolFailedError)
    assert (failed.error_type, failed.remote_message) == ("KeyError", "'x'")
    assert isinstance(unavailable, PluginUnavailableError)
    assert (unavailable.state, unavailable.reason) == ("quarantined", "crash loop")


def test_duplicate_tool_error_names_the_tool_and_both_plugins() -> None:
    error = errors.DuplicateToolError("search", "rag", "mongodb")

    assert error.plugins == ("rag", "mongodb")
    assert all(repr(name) in str(error) for name in ("search", "rag", "mongodb"))


def test_protocol_error_names_the_plugin_when_known() -> None:
    assert str(errors.ProtocolError("bad frame")) == "bad frame"
    assert str(errors.ProtocolError("bad frame", plugin="rag")) == (
        "plugin 'rag': protocol error: bad frame"
    )


def test_frame_too_large_is_a_protocol_error_with_size_and_limit() -> None:
    error = errors.FrameTooLargeError(100, 10, plugin="rag")

    assert isinstance(error, errors.ProtocolError)
    assert (error.size, error.limit, error.plugin) == (100, 10, "rag")
    assert "100 bytes exceeds the 10-byte limit" in str(error)


def test_plugin_start_error_names_the_plugin_and_is_not_retryable_by_default() -> None:
    error = errors.PluginStartError("rag", "import failed")

    assert str(error) == "plugin 'rag' failed to start: import failed"
    assert error.retryable is False


def test_permission_denied_names_role_tool_plugin_and_the_policy_key_to_change() -> None:
    error = MAKE[PermissionDeniedError]()

    assert isinstance(error, PermissionDeniedError)
    assert (error.role, error.key, error.source) == (
        "analyst",
        "roles.analyst.allow",
        "policy.yaml",
    )
    assert str(error) == (
        "permission denied: caller role 'analyst' may not call tool 'search_docs' of plugin "
        "'rag': no pattern in roles.analyst.allow matches it; "
        "to change this, edit roles.analyst.allow in policy.yaml"
    )


def test_policy_error_is_a_config_error_naming_path_and_field() -> None:
    error = errors.PolicyError("policy.yaml", "roles.analyst.alow", "unknown key")

    assert isinstance(error, errors.ConfigError)
    assert str(error) == "policy policy.yaml: roles.analyst.alow: unknown key"
