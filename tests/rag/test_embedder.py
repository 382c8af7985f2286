"""The embedder in-process with the real model: its short path for a few texts gives what
sentence-transformers' encode gives, and a missing model names the setting to fix."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from rag.embedder import Embedder, resolve_model_path
from rag.errors import ModelError
from rag.settings import EmbeddingSettings

TEXTS = [
    "Who repairs the station clock?",
    "The lighthouse keeper records the temperature of the tide gauge every Tuesday.",
    "Bees dance.",
    "A much longer sentence about glaciers, which grind the rock beneath them and carve "
    "U-shaped valleys as they slide slowly downhill over many centuries.",
]


@pytest.fixture(scope="module")
def embedder() -> Iterator[Embedder]:
    loaded = Embedder.load(EmbeddingSettings())
    yield loaded
    loaded.close()


def test_few_texts_get_the_vectors_sentence_transformers_encode_gives(embedder: Embedder) -> None:
    settings = embedder.settings
    short = embedder.encode(TEXTS)  # one padded batch, the short path
    many = TEXTS * (settings.batch_size // len(TEXTS) + 1)  # encode() with its batching
    assert len(many) > settings.batch_size
    full = embedder.encode(many)
    assert short.shape == (len(TEXTS), settings.dimensions)
    np.testing.assert_allclose(short, full[: len(TEXTS)], atol=1e-5)
    np.testing.assert_allclose(np.linalg.norm(short, axis=1), 1.0, atol=1e-5)
    single = embedder.encode(TEXTS[:1])
    np.testing.assert_allclose(single[0], short[0], atol=1e-5)
    assert embedder.encode([]).shape == (0, settings.dimensions)


def test_related_texts_are_closer_than_unrelated_ones(embedder: Embedder) -> None:
    query, related, unrelated = embedder.encode(
        ["How do glaciers shape valleys?", TEXTS[3], TEXTS[2]]
    )
    assert float(query @ related) > float(query @ unrelated) + 0.3


def test_a_model_folder_without_a_model_names_the_setting(tmp_path: Path) -> None:
    with pytest.raises(ModelError, match=r"model_path \(RAG_MODEL_PATH\).*modules\.json"):
        resolve_model_path(EmbeddingSettings(model_path=str(tmp_path)))


def test_another_model_without_a_path_says_what_to_set() -> None:
    with pytest.raises(ModelError, match=r"only all-MiniLM-L6-v2 ships offline.*RAG_MODEL_PATH"):
        resolve_model_path(EmbeddingSettings(model="bge-small-en"))
