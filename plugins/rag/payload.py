"""What each stored chunk carries, and the ids derived from it.

A chunk's point id is derived from its document id and position, so writing a document again
overwrites its chunks instead of adding new ones. Its ``fingerprint`` (text, metadata, chunking
and model) tells whether a re-added document changed at all. User metadata sits under
``metadata`` so no user key can collide with the plugin's own.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from typing import Any, Final

from .settings import DOCUMENT_ID_FIELD, RagSettings

__all__ = [
    "CHUNK_COUNT",
    "CHUNK_INDEX",
    "DOCUMENT_ID",
    "FINGERPRINT",
    "METADATA",
    "TEXT",
    "chunk_point_id",
    "fingerprint",
    "index_spec",
    "metadata_key",
]

DOCUMENT_ID: Final = DOCUMENT_ID_FIELD
CHUNK_INDEX: Final = "chunk_index"
CHUNK_COUNT: Final = "chunk_count"
TEXT: Final = "text"
FINGERPRINT: Final = "fingerprint"
METADATA: Final = "metadata"
ADDED_AT: Final = "added_at"
# Fixed forever: changing it would give every stored chunk a new id.
_ID_NAMESPACE: Final = uuid.UUID("5b0c2f7e-7d1c-4c55-9a0e-3d3f8c1a6e21")


def chunk_point_id(document_id: str, index: int) -> str:
    return str(uuid.uuid5(_ID_NAMESPACE, f"{document_id}\x00{index}"))


def metadata_key(field: str) -> str:
    return f"{METADATA}.{field}"


def fingerprint(
    document_id: str, text: str, metadata: dict[str, Any], size: int, overlap: int, model: str
) -> str:
    """Changes whenever re-adding the document must change what is stored.

    The id is part of it, so no two documents ever share a fingerprint.
    """
    canonical = json.dumps(
        {
            "id": document_id,
            "text": text,
            "metadata": metadata,
            "chunking": [size, overlap],
            "model": model,
        },
        sort_keys=True,
        ensure_ascii=False,
    )
    return hashlib.sha256(canonical.encode()).hexdigest()


def index_spec(settings: RagSettings) -> tuple[tuple[str, Any], ...]:
    """Payload indexes: the plugin's own lookup keys and every filterable metadata field."""
    own = ((DOCUMENT_ID, "keyword"), (CHUNK_INDEX, "integer"), (FINGERPRINT, "keyword"))
    return own + tuple((metadata_key(name), kind) for name, kind in settings.filterable_fields)
