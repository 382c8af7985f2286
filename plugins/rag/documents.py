"""Input checking for ``rag_add_document``: documents, ids, metadata and chunking overrides.

The supervisor has already checked types against the tool's JSON Schema; what is checked here
needs the configuration or the text itself (length limits, empty text after preprocessing,
metadata types of filterable fields). Every problem is an ``InputError`` that names the field.
"""

from __future__ import annotations

import hashlib
import json
import math
from dataclasses import dataclass
from typing import Any, Final

from .errors import InputError
from .payload import fingerprint
from .settings import ChunkSettings, FieldType, RagSettings
from .text import chunk_text, preprocess

__all__ = ["Document", "is_of_type", "parse_documents", "validate_metadata"]

MAX_ID_CHARS: Final = 256
MAX_METADATA_KEY_CHARS: Final = 64
_SCALARS: Final = (str, int, float, bool)


@dataclass(frozen=True)
class Document:
    position: str  # where it came from in the params: "documents[3]", or "" for a lone text
    id: str
    text: str
    metadata: dict[str, Any]
    fingerprint: str
    chunks: tuple[str, ...]


def parse_documents(params: dict[str, Any], settings: RagSettings) -> list[Document]:
    """The documents of one call, preprocessed and chunked; raises ``InputError``."""
    chunking = _chunking(params, settings.chunking)
    entries = _entries(params, settings)
    documents: list[Document] = []
    total = 0
    for where, entry in entries:
        raw = entry.get("text")
        if not isinstance(raw, str):
            raise InputError(_at(where, "text"), "is required and must be a string")
        if len(raw) > settings.limits.max_document_chars:
            raise InputError(
                _at(where, "text"),
                f"is {len(raw):,} characters; the limit is {settings.limits.max_document_chars:,} "
                "(configuration.limits.max_document_chars): split the document into parts",
            )
        text = preprocess(raw)
        if not text:
            raise InputError(_at(where, "text"), "is empty (or only whitespace); give it some text")
        metadata = validate_metadata(entry.get("metadata"), _at(where, "metadata"), settings)
        doc_id = _document_id(entry.get("id"), _at(where, "id"), text)
        chunks = tuple(chunk_text(text, chunking.size, chunking.overlap))
        total += len(chunks)
        if total > settings.limits.max_chunks_per_call:
            raise InputError(
                "documents",
                f"make more than {settings.limits.max_chunks_per_call:,} chunks "
                "(configuration.limits.max_chunks_per_call); add them in smaller calls",
            )
        documents.append(
            Document(
                position=where,
                id=doc_id,
                text=text,
                metadata=metadata,
                fingerprint=fingerprint(
                    doc_id,
                    text,
                    metadata,
                    chunking.size,
                    chunking.overlap,
                    settings.embedding.model,
                ),
                chunks=chunks,
            )
        )
    return documents


def _at(where: str, name: str) -> str:
    return f"{where}.{name}" if where else name


def _entries(params: dict[str, Any], settings: RagSettings) -> list[tuple[str, dict[str, Any]]]:
    many = params.get("documents")
    single: dict[str, Any] = {k: params[k] for k in ("text", "id", "metadata") if k in params}
    if many is not None and single:
        raise InputError(
            "documents", f"give either documents or {', '.join(sorted(single))}, not both"
        )
    if many is None:
        if "text" not in single:
            raise InputError("text", "is required: give text (one document) or documents (many)")
        return [("", single)]
    if not isinstance(many, list) or not many:
        raise InputError("documents", "must be a non-empty list of {text, id?, metadata?}")
    limit = settings.limits.max_documents_per_call
    if len(many) > limit:
        raise InputError(
            "documents",
            f"has {len(many):,} entries; the limit is {limit:,} per call "
            "(configuration.limits.max_documents_per_call): send them in batches",
        )
    entries = []
    for index, entry in enumerate(many):
        if not isinstance(entry, dict):
            raise InputError(f"documents[{index}]", "must be an object with text, id, metadata")
        entries.append((f"documents[{index}]", entry))
    return entries


def _chunking(params: dict[str, Any], base: ChunkSettings) -> ChunkSettings:
    size = params.get("chunk_size", base.size)
    overlap = params.get("chunk_overlap", base.overlap)
    for name, value, low, high in (
        ("chunk_size", size, 100, 8000),
        ("chunk_overlap", overlap, 0, 4000),
    ):
        if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
            raise InputError(name, f"must be a whole number from {low} to {high}, got {value!r}")
    if overlap >= size:
        raise InputError("chunk_overlap", f"({overlap}) must be smaller than chunk_size ({size})")
    return ChunkSettings(size=size, overlap=overlap)


def _document_id(value: Any, field: str, text: str) -> str:
    if value is None:
        # Content-derived, so adding the same text again without an id is idempotent too.
        return "doc-" + hashlib.sha256(text.encode()).hexdigest()[:24]
    if not isinstance(value, str):
        raise InputError(field, f"must be a string, got {type(value).__name__}")
    stripped = value.strip()
    if not stripped or len(stripped) > MAX_ID_CHARS or not stripped.isprintable():
        raise InputError(
            field, f"must be 1-{MAX_ID_CHARS} printable characters, got {value[:80]!r}"
        )
    return stripped


def validate_metadata(value: Any, field: str, settings: RagSettings) -> dict[str, Any]:
    """Flat metadata: scalars or lists of scalars; filterable fields must have their type."""
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise InputError(field, f"must be an object, got {type(value).__name__}")
    types = settings.field_types
    clean: dict[str, Any] = {}
    for key, item in value.items():
        where = f"{field}.{key}"
        if not isinstance(key, str) or not key or len(key) > MAX_METADATA_KEY_CHARS or "." in key:
            raise InputError(
                where, f"keys must be 1-{MAX_METADATA_KEY_CHARS} characters without '.'"
            )
        _check_value(item, where)
        if key in types and item is not None:
            _check_type(item, types[key], where)
        clean[key] = item
    size = len(json.dumps(clean, ensure_ascii=False).encode())
    if size > settings.limits.max_metadata_bytes:
        raise InputError(
            field,
            f"is {size:,} bytes as JSON; the limit is {settings.limits.max_metadata_bytes:,} "
            "(configuration.limits.max_metadata_bytes): keep large data in the text",
        )
    return clean


def _check_value(item: Any, where: str) -> None:
    if item is None or isinstance(item, _SCALARS):
        if isinstance(item, float) and not math.isfinite(item):
            raise InputError(where, "must be a finite number")
        return
    if isinstance(item, list) and all(isinstance(v, _SCALARS) for v in item):
        return
    raise InputError(
        where,
        "must be a string, number, boolean, null or a list of those; nested objects are not "
        "supported, so flatten them into separate keys",
    )


def _check_type(item: Any, kind: FieldType, where: str) -> None:
    values = item if isinstance(item, list) else [item]
    bad = next((v for v in values if not is_of_type(v, kind)), None)
    if bad is not None or (isinstance(item, list) and kind == "bool"):
        raise InputError(
            where,
            f"is a filterable {kind} field (configuration.filterable_fields), so it must be "
            f"{_KIND_WORDS[kind]}, got {bad!r}",
        )


def is_of_type(value: Any, kind: FieldType) -> bool:
    """Whether ``value`` is a scalar of a filterable field's type (booleans are not numbers)."""
    if kind == "keyword":
        return isinstance(value, str)
    if kind == "bool":
        return isinstance(value, bool)
    if isinstance(value, bool):
        return False
    return isinstance(value, int) if kind == "integer" else isinstance(value, int | float)


_KIND_WORDS: Final = {
    "keyword": "a string or a list of strings",
    "integer": "a whole number or a list of them",
    "float": "a number or a list of numbers",
    "bool": "true or false",
}
