"""One contract for both vector store adapters, run against the real engines.

``edge``: the embedded Qdrant Edge shard (qdrant-edge-py, whose beta API drifts between
releases: this suite is what guards the pin). ``remote``: the qdrant-client adapter against
qdrant-client's in-process local mode, which speaks the same client API as a Qdrant server;
no server runs here, so the HTTP transport itself is not exercised.
"""

from __future__ import annotations

import subprocess
import sys
import uuid
from collections.abc import Iterator
from importlib import metadata
from pathlib import Path
from typing import Final

import numpy as np
import pytest
import yaml
from qdrant_client import QdrantClient
from rag import storage
from rag.errors import StoreError, StoreLockedError
from rag.store import (
    CollectionSpec,
    Filter,
    Match,
    MatchAny,
    Point,
    Range,
    VectorStore,
)
from rag.store.edge import EdgeStore
from rag.store.remote import RemoteStore

from tests.rag.support import PLUGIN_DIR

# qdrant-client's local mode warns that payload indexes and search params do nothing there
# (it always searches exactly); a server uses both.
pytestmark = [
    pytest.mark.filterwarnings("ignore:Payload indexes have no effect"),
    pytest.mark.filterwarnings("ignore:Local mode performs exact"),
]

DIM: Final = 8
SPEC: Final = CollectionSpec(
    name="contract",
    size=DIM,
    distance="cosine",
    indexes=(("kind", "keyword"), ("n", "integer"), ("tags", "keyword")),
)
POINTS: Final = 60


def unit(seed: int) -> list[float]:
    vector = np.random.default_rng(seed).standard_normal(DIM)
    return [float(x) for x in vector / np.linalg.norm(vector)]


def point_id(n: int) -> str:
    return str(uuid.uuid5(uuid.NAMESPACE_OID, str(n)))


def points(count: int = POINTS) -> list[Point]:
    return [
        Point(
            id=point_id(n),
            vector=unit(n),
            payload={"kind": "even" if n % 2 == 0 else "odd", "n": n, "tags": [f"t{n % 3}", "all"],
                     "nested": {"keep": n}},
        )
        for n in range(count)
    ]  # fmt: skip


@pytest.fixture(params=["edge", "remote"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[VectorStore]:
    opened: VectorStore
    if request.param == "edge":
        opened = EdgeStore.open(str(tmp_path), SPEC)
    else:
        opened = RemoteStore(QdrantClient(":memory:"), SPEC, ":memory:")
    opened.upsert(points())
    try:
        yield opened
    finally:
        opened.close()


def test_the_qdrant_edge_pin_matches_plugin_yaml() -> None:
    manifest = yaml.safe_load((PLUGIN_DIR / "plugin.yaml").read_text())
    pins = dict(r.split("==") for r in manifest["requirements"])
    assert metadata.version("qdrant-edge-py") == pins["qdrant-edge-py"] == "0.9.0"
    assert metadata.version("qdrant-client") == pins["qdrant-client"]


def test_search_ranks_by_cosine_and_round_trips_ids_and_payloads(store: VectorStore) -> None:
    query = unit(7)
    hits = store.search(query, 5)
    assert hits[0].id == point_id(7)
    assert hits[0].score == pytest.approx(1.0, abs=1e-5)
    assert hits[0].payload == {"kind": "odd", "n": 7, "tags": ["t1", "all"], "nested": {"keep": 7}}
    expected = sorted(
        ((float(np.dot(query, unit(n))), point_id(n)) for n in range(POINTS)), reverse=True
    )[:5]
    assert [h.id for h in hits] == [pid for _, pid in expected]
    assert [h.score for h in hits] == pytest.approx([score for score, _ in expected], abs=1e-5)


def test_the_threshold_drops_every_weaker_hit(store: VectorStore) -> None:
    everything = store.search(unit(3), POINTS)
    # Halfway between two scores, so float rounding at the boundary cannot matter.
    cut = (everything[10].score + everything[11].score) / 2
    kept = store.search(unit(3), POINTS, threshold=cut)
    assert [h.id for h in kept] == [h.id for h in everything[:11]]


def test_filters_match_values_lists_ranges_and_exclusions(store: VectorStore) -> None:
    def ids(where: Filter) -> set[int]:
        return {h.payload["n"] for h in store.search(unit(1), POINTS, where=where)}

    assert ids(Filter(must=(Match("kind", "even"),))) == set(range(0, POINTS, 2))
    assert ids(Filter(must=(Match("n", 5),))) == {5}
    assert ids(Filter(must=(MatchAny("n", (1, 2, 3)),))) == {1, 2, 3}
    assert ids(Filter(must=(MatchAny("tags", ("t0", "t1")),))) == {
        n for n in range(POINTS) if n % 3 != 2
    }
    assert ids(Filter(must=(Range("n", gte=10, lt=15),))) == set(range(10, 15))
    assert ids(Filter(must=(Match("kind", "odd"),), must_not=(MatchAny("n", (1, 3)),))) == set(
        range(5, POINTS, 2)
    )
    assert store.count(Filter(must=(Match("tags", "t2"),))) == len(range(2, POINTS, 3))
    assert store.count() == POINTS


def test_upserting_an_id_again_overwrites_it(store: VectorStore) -> None:
    store.upsert([Point(point_id(4), unit(999), {"kind": "changed", "n": 4})])
    assert store.count() == POINTS
    (record,) = store.retrieve([point_id(4)])
    assert record.payload == {"kind": "changed", "n": 4}
    assert store.search(unit(999), 1)[0].id == point_id(4)


def test_retrieve_returns_what_exists_with_vectors_when_asked(store: VectorStore) -> None:
    found = store.retrieve([point_id(2), point_id(10_000)], with_vectors=True)
    assert [r.id for r in found] == [point_id(2)]
    assert found[0].vector == pytest.approx(unit(2), abs=1e-5)
    assert store.retrieve([point_id(2)])[0].vector is None
    assert store.retrieve([]) == []


def test_delete_by_filter_removes_only_what_matches(store: VectorStore) -> None:
    store.delete(Filter(must=(Match("kind", "odd"),), must_not=(Match("n", 1),)))
    remaining = {h.payload["n"] for h in store.search(unit(0), POINTS)}
    assert remaining == set(range(0, POINTS, 2)) | {1}


def test_sample_and_info_describe_the_collection(store: VectorStore) -> None:
    sample = store.sample(10)
    assert len(sample) == 10
    assert all(r.vector is not None and len(r.vector) == DIM for r in sample)
    info = store.info()
    assert info.points == POINTS
    assert {"kind", "n", "tags"} <= set(info.payload_indexes) or info.kind == "remote"


def test_a_vector_of_the_wrong_size_is_a_store_error(store: VectorStore) -> None:
    with pytest.raises(StoreError, match="dim"):
        store.upsert([Point(point_id(1), [0.5] * (DIM + 1), {})])


# ---- the embedded engine's own contract --------------------------------------------------------


def test_an_edge_store_keeps_its_points_after_closing(tmp_path: Path) -> None:
    store = EdgeStore.open(str(tmp_path), SPEC)
    store.upsert(points(10))
    store.close()
    again = EdgeStore.open(str(tmp_path), SPEC)
    try:
        assert again.count() == 10
        assert again.search(unit(3), 1)[0].id == point_id(3)
        assert {"kind", "n", "tags"} <= set(again.info().payload_indexes)
    finally:
        again.close()


def test_a_second_process_opening_the_store_gets_a_clear_lock_error(tmp_path: Path) -> None:
    store = EdgeStore.open(str(tmp_path), SPEC)
    try:
        with pytest.raises(StoreLockedError, match="open in another process"):
            EdgeStore.open(str(tmp_path), SPEC)
        probe = (
            "import sys; sys.path.insert(0, sys.argv[1]);"
            "from rag.store.edge import EdgeStore; from rag.store import CollectionSpec\n"
            "try:\n EdgeStore.open(sys.argv[2], CollectionSpec('contract', 8, 'cosine'))\n"
            "except Exception as exc: print(type(exc).__name__, exc)"
        )
        done = subprocess.run(
            [sys.executable, "-c", probe, str(PLUGIN_DIR.parent), str(tmp_path)],
            capture_output=True,
            text=True,
            timeout=60,
            check=True,
        )
        assert done.stdout.startswith("StoreLockedError"), done.stdout + done.stderr
        assert "RAG_DATA_DIR" in done.stdout
    finally:
        store.close()


def test_reopening_with_another_vector_size_names_the_setting(tmp_path: Path) -> None:
    EdgeStore.open(str(tmp_path), SPEC).close()
    other = CollectionSpec(name=SPEC.name, size=DIM * 2, distance="cosine")
    with pytest.raises(StoreError, match=r"configuration\.embedding\.dimensions=16"):
        EdgeStore.open(str(tmp_path), other)


def test_a_remote_collection_of_another_size_names_the_setting() -> None:
    client = QdrantClient(":memory:")
    RemoteStore(client, SPEC, ":memory:")
    other = CollectionSpec(name=SPEC.name, size=DIM * 2, distance="cosine")
    with pytest.raises(StoreError, match=r"configuration\.embedding\.dimensions"):
        RemoteStore(client, other, ":memory:")


def test_the_hnsw_index_finds_what_exact_search_finds(tmp_path: Path) -> None:
    spec = CollectionSpec(
        name="hnsw",
        size=32,
        distance="cosine",
        indexing_threshold_kb=100,
        full_scan_threshold_kb=10,
    )
    store = EdgeStore.open(str(tmp_path), spec)
    vectors = np.random.default_rng(0).standard_normal((3000, 32)).astype(np.float32)
    try:
        store.upsert([Point(point_id(n), vectors[n].tolist(), {"n": n}) for n in range(3000)])
        assert store.info().indexed_vectors == 0
        assert store.build_index() is True
        assert store.info().indexed_vectors == 3000
        for n in (0, 123, 2999):
            query = vectors[n].tolist()
            assert store.search(query, 1, exact=False, hnsw_ef=128)[0].id == point_id(n)
        # The check the plugin runs before it trusts an index (search.mode: hnsw).
        assert storage.measure_recall(store, 128) >= 0.99
    finally:
        store.close()
