"""``mongodb_create_index``: build one index, validated first; says what was built and how fast."""

from __future__ import annotations

from typing import Any, Final

from .context import ToolContext, reject_unknown
from .errors import ServerCommandError
from .index_spec import CREATE_INDEX_PROPERTIES, parse_index_request
from .inputs import NAMESPACE_SCHEMA, parse_bool, parse_namespace, plain
from .server import build_index, collection_exists, index_failure, list_indexes, require_collection

__all__ = ["CreateIndexTool"]

PROPERTIES: Final[dict[str, Any]] = {
    **NAMESPACE_SCHEMA,
    **CREATE_INDEX_PROPERTIES,
    "create_collection": {
        "type": "boolean",
        "default": False,
        "description": "Create the collection when it does not exist (default: refuse).",
    },
}


class CreateIndexTool:
    name: Final = "mongodb_create_index"
    description: Final = (
        "Create a single, compound, text, 2dsphere, hashed, TTL, unique or partial index; "
        "reports what was built (or the equivalent index that exists) and its build time."
    )

    def __init__(self, context: ToolContext) -> None:
        self._context = context

    def get_schema(self) -> dict[str, Any]:
        return {
            "type": "object",
            "properties": PROPERTIES,
            "required": ["collection", "keys"],
            "additionalProperties": False,
        }

    def execute(self, params: dict[str, Any]) -> dict[str, Any]:
        """Sync: pymongo blocks, so the worker runs this in its thread pool."""
        params = params or {}
        reject_unknown(params, PROPERTIES)
        database, collection = parse_namespace(params, self._context.settings.default_database)
        request = parse_index_request(params)
        create_collection = parse_bool(params, "create_collection", False)
        namespace = f"{database}.{collection}"
        try:
            with self._context.server_call(
                self.name, f"creating index {request.name!r} on {namespace}"
            ):
                db = self._context.client()[database]
                existed = collection_exists(db, collection)
                if not existed and not create_collection:
                    require_collection(db, collection)
                target = db[collection]
                report = build_index(target, request)
                documents = target.estimated_document_count()
                index_count = len(list_indexes(target))
        except ServerCommandError as exc:
            raise index_failure(exc, request) from exc
        return {
            "namespace": namespace,
            **report,
            "keys": [[field, kind] for field, kind in request.keys],
            "kinds": request.kinds,
            "options": plain({k: v for k, v in request.options.items() if k != "name"}),
            "collection_created": not existed,
            "documents": documents,
            "index_count": index_count,
        }
