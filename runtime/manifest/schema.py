"""A tool's JSON Schema from its plugin.yaml ``parameters:`` list (name, type, required, ...).

Used by the worker when a tool defines neither ``get_schema()`` nor a ``parameters`` dict, and by
the supervisor to list a tool before its worker has reported the real schema.
"""

from __future__ import annotations

from typing import Any

__all__ = ["schema_from_manifest"]


def schema_from_manifest(entry: dict[str, Any]) -> dict[str, Any]:
    """Build a schema from a manifest tool entry's ``parameters:`` list."""
    type_names = {
        "str": "string",
        "int": "integer",
        "float": "number",
        "bool": "boolean",
        "list": "array",
        "dict": "object",
    }
    properties: dict[str, Any] = {}
    required: list[str] = []
    for param in entry.get("parameters") or []:
        prop: dict[str, Any] = {
            "type": type_names.get(param.get("type", "string"), param.get("type", "string"))
        }
        for key in ("description", "default", "enum", "items"):
            if key in param:
                prop[key] = param[key]
        properties[param["name"]] = prop
        if param.get("required"):
            required.append(param["name"])
    schema: dict[str, Any] = {"type": "object", "properties": properties}
    if required:
        schema["required"] = required
    return schema
