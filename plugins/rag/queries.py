"""Checks of the search, question and delete parameters that need more than the JSON Schema:
text after preprocessing, the configured defaults, filters. Each problem is an ``InputError``
naming the field (``rag_add_document``'s documents are checked in ``documents``)."""

from __future__ import annotations

from typing import Any, Final

from .errors import InputError
from .filters import parse_filters
from .settings import RagSettings
from .store import Filter
from .text import preprocess

__all__ = ["MAX_QUERY_CHARS", "answer_request", "delete_ids", "search_request"]

MAX_QUERY_CHARS: Final = 8192
MAX_DELETE_IDS: Final = 1000
ANSWERERS: Final = ("auto", "extractive", "ai_provider")
MIN_BUDGET: Final = 200
MAX_BUDGET: Final = 200_000


def search_request(
    params: dict[str, Any], text_key: str, settings: RagSettings
) -> tuple[str, int, float, Filter | None]:
    raw = params.get(text_key)
    if not isinstance(raw, str):
        raise InputError(text_key, "is required and must be a string")
    text = preprocess(raw)
    if not text:
        raise InputError(text_key, "is empty (or only whitespace); ask something")
    if len(text) > MAX_QUERY_CHARS:
        raise InputError(
            text_key, f"is {len(text):,} characters; keep it under {MAX_QUERY_CHARS:,}"
        )
    top_k = params.get("top_k", settings.search.top_k)
    if isinstance(top_k, bool) or not isinstance(top_k, int) or not 1 <= top_k <= 100:
        raise InputError("top_k", f"must be a whole number from 1 to 100, got {top_k!r}")
    threshold = params.get("similarity_threshold", settings.search.similarity_threshold)
    if isinstance(threshold, bool) or not isinstance(threshold, int | float):
        raise InputError("similarity_threshold", f"must be a number, got {threshold!r}")
    if not -1.0 <= threshold <= 1.0:
        raise InputError(
            "similarity_threshold", f"must be between -1 and 1 (cosine), got {threshold}"
        )
    where = parse_filters(params.get("filters"), settings)
    return text, top_k, float(threshold), where


def answer_request(
    params: dict[str, Any], settings: RagSettings, provider_configured: bool
) -> tuple[str, int]:
    """The answerer asked for, and the context budget in characters."""
    answerer = params.get("answerer", "auto")
    if answerer not in ANSWERERS:
        raise InputError("answerer", f"must be one of {', '.join(ANSWERERS)}, got {answerer!r}")
    if answerer == "ai_provider" and not provider_configured:
        raise InputError(
            "answerer",
            "no AI provider is configured (configuration.ai_provider.base_url, set by "
            "RAG_AI_BASE_URL); use auto or extractive",
        )
    budget = params.get("context_budget", settings.answer.context_budget_chars)
    if (
        isinstance(budget, bool)
        or not isinstance(budget, int)
        or not MIN_BUDGET <= budget <= MAX_BUDGET
    ):
        raise InputError(
            "context_budget", f"must be {MIN_BUDGET}-{MAX_BUDGET} characters, got {budget!r}"
        )
    return answerer, budget


def delete_ids(params: dict[str, Any]) -> list[str]:
    one, many = params.get("document_id"), params.get("document_ids")
    if (one is None) == (many is None):
        raise InputError(
            "document_id", "give exactly one of document_id (one id) or document_ids (a list)"
        )
    values = [one] if one is not None else many
    field = "document_id" if one is not None else "document_ids"
    if not isinstance(values, list) or not values or len(values) > MAX_DELETE_IDS:
        raise InputError(field, f"must name 1-{MAX_DELETE_IDS} document ids")
    ids = []
    for index, value in enumerate(values):
        where = field if one is not None else f"document_ids[{index}]"
        if not isinstance(value, str) or not value.strip():
            raise InputError(where, f"must be a non-empty string, got {value!r}")
        ids.append(value.strip())
    return list(dict.fromkeys(ids))
