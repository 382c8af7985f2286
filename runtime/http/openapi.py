"""The OpenAPI document: schemas generated from the msgspec types the server really uses.

Routes declare their bodies and answers by reference (``ref("ExecuteResponse")``); this module
generates those components from ``runtime.http.messages`` and completes the document FastAPI
builds: the bearer scheme and a 401 answer on every operation that needs a token, and a 413
answer on every operation that takes a body. The document is built once, for the
configuration the server runs with (its batch limit, whether tokens are required).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, Final

import msgspec
from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi

from runtime.http.messages import (
    BatchRequest,
    BatchResponse,
    ErrorResponse,
    ExecuteCall,
    ExecuteResponse,
    HealthResponse,
    ToolsResponse,
)

__all__ = ["BEARER_SCHEME", "install_openapi", "json_body", "ref"]

REF_TEMPLATE: Final = "#/components/schemas/{name}"
BEARER_SCHEME: Final = "bearerAuth"
_METHODS_WITH_BODY: Final = frozenset({"post", "put", "patch"})


def ref(name: str) -> dict[str, Any]:
    return {"$ref": REF_TEMPLATE.format(name=name)}


def json_body(name: str, description: str) -> dict[str, Any]:
    """A response (or request body) whose JSON is the component ``name``."""
    return {"description": description, "content": {"application/json": {"schema": ref(name)}}}


def install_openapi(
    app: FastAPI,
    *,
    batch_type: type[BatchRequest],
    secured: bool,
    public_paths: Iterable[str],
    description: str,
) -> None:
    """Replace ``app.openapi`` with a builder that adds our components and security."""
    _, components = msgspec.json.schema_components(
        [
            ExecuteCall,
            batch_type,
            ExecuteResponse,
            BatchResponse,
            ToolsResponse,
            HealthResponse,
            ErrorResponse,
        ],
        ref_template=REF_TEMPLATE,
    )
    public = frozenset(public_paths)

    def build() -> dict[str, Any]:
        if app.openapi_schema is not None:
            return app.openapi_schema
        document = get_openapi(
            title=app.title, version=app.version, description=description, routes=app.routes
        )
        document.setdefault("components", {}).setdefault("schemas", {}).update(components)
        if secured:
            document["components"]["securitySchemes"] = {
                BEARER_SCHEME: {"type": "http", "scheme": "bearer"}
            }
        for path, operations in document.get("paths", {}).items():
            for method, operation in operations.items():
                answers = operation.setdefault("responses", {})
                for answer in answers.values():
                    _keep_only_refs(answer)
                if method in _METHODS_WITH_BODY:
                    answers["413"] = json_body("ErrorResponse", "The body is over max_body_bytes.")
                if secured and path not in public:
                    operation["security"] = [{BEARER_SCHEME: []}]
                    answers["401"] = json_body(
                        "ErrorResponse", "No bearer token, or one this server does not know."
                    )
        app.openapi_schema = document
        return document

    app.openapi = build  # type: ignore[method-assign]


def _keep_only_refs(answer: dict[str, Any]) -> None:
    """FastAPI merges a route's default schema (``{"type": "string"}`` for a raw response
    class) with the one declared; where ours is a ``$ref``, it must stand alone."""
    for media in (answer.get("content") or {}).values():
        schema = media.get("schema")
        if isinstance(schema, dict) and "$ref" in schema:
            media["schema"] = {"$ref": schema["$ref"]}
