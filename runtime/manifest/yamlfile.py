"""Reading operator YAML strictly: safe types, no duplicate keys, errors with line numbers."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

__all__ = ["YamlProblem", "read_yaml_mapping"]

# A manifest or profile is a few kilobytes; anything this big is a mistake or an attack.
MAX_YAML_BYTES = 1024 * 1024
_MERGE_TAG = "tag:yaml.org,2002:merge"


class YamlProblem(Exception):
    """The file cannot be read as a YAML mapping; ``str()`` says where and why."""


class _StrictLoader(yaml.CSafeLoader):
    """SafeLoader that refuses duplicate mapping keys instead of keeping the last one silently."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen: set[Any] = set()
        for key_node, _ in node.value:
            if key_node.tag == _MERGE_TAG:
                continue  # '<<: *anchor' is resolved by flatten_mapping, not constructed
            key = self.construct_object(key_node, deep=True)
            if isinstance(key, list | dict):
                raise yaml.constructor.ConstructorError(
                    None, None, "a mapping key must be a scalar", key_node.start_mark
                )
            if key in seen:
                raise yaml.constructor.ConstructorError(
                    None, None, f"duplicate key {key!r}", key_node.start_mark
                )
            seen.add(key)
        return super().construct_mapping(node, deep=deep)


def read_yaml_mapping(path: Path) -> dict[str, Any]:
    try:
        size = path.stat().st_size
        if size > MAX_YAML_BYTES:
            raise YamlProblem(f"file is {size} bytes; the limit is {MAX_YAML_BYTES}")
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise YamlProblem(f"not UTF-8 text: {exc}") from exc
    except OSError as exc:
        raise YamlProblem(f"cannot read: {exc.strerror or exc}") from exc
    try:
        data = yaml.load(text, Loader=_StrictLoader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark else ""
        raise YamlProblem(f"not valid YAML: {where}{exc.problem or exc.context}") from exc
    except yaml.YAMLError as exc:
        raise YamlProblem(f"not valid YAML: {exc}") from exc
    if data is None:
        raise YamlProblem("file is empty")
    if not isinstance(data, dict):
        raise YamlProblem(f"top level must be a mapping, got {type(data).__name__}")
    bad = [k for k in data if not isinstance(k, str)]
    if bad:
        raise YamlProblem(f"top-level keys must be strings, got {bad[0]!r}")
    return data
