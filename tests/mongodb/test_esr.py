"""ESR ordering, shape analysis, index fit and redundancy: the recommender's pure logic."""

from __future__ import annotations

import re
from typing import Any

from tests.mongodb.support import plugin_module

esr = plugin_module("tools.esr")


def shape(filter: dict[str, Any], sort: tuple[tuple[str, int], ...] = ()) -> Any:
    shapes = esr.analyse(filter, sort)
    assert len(shapes) == 1, shapes
    return shapes[0]


def info(name: str, key: list[tuple[str, Any]], **options: Any) -> Any:
    return esr.IndexInfo(name=name, key=tuple(key), options=options)


def test_key_orders_equality_then_sort_then_range_whatever_the_filter_order() -> None:
    s = shape({"total": {"$gte": 100}, "status": "shipped"}, (("created_at", -1),))
    assert s.equality == ("status",)
    assert s.sort == (("created_at", -1),)
    assert s.range == ("total",)
    assert s.key == (("status", 1), ("created_at", -1), ("total", 1))


def test_equality_operators_and_embedded_documents_are_equalities() -> None:
    s = shape({"a": {"$eq": 1}, "b": {"x": 1}, "c": {"$in": [1]}, "tags": {"$elemMatch": {"k": 1}}})
    assert s.equality == ("a", "b", "c", "tags")
    assert s.range == ()


def test_range_operators_regex_and_negations_are_ranges() -> None:
    s = shape(
        {
            "a": {"$gt": 1, "$lt": 5},
            "b": {"$ne": 2},
            "c": {"$exists": True},
            "d": re.compile("^x"),
            "e": {"$regex": "^y"},
            "f": {"$nin": [1, 2]},
        }
    )
    assert s.equality == ()
    assert s.range == ("a", "b", "c", "d", "e", "f")


def test_in_with_several_values_is_equality_without_sort_and_range_with_sort() -> None:
    assert shape({"s": {"$in": ["a", "b"]}}).equality == ("s",)
    sorted_shape = shape({"s": {"$in": ["a", "b"]}}, (("t", 1),))
    assert sorted_shape.range == ("s",)
    assert sorted_shape.key == (("t", 1), ("s", 1))
    assert any("$in" in note for note in sorted_shape.notes)


def test_an_equality_field_needs_no_sort_position_and_a_sorted_range_no_range_position() -> None:
    s = shape({"status": "a", "created_at": {"$gte": 0}}, (("status", 1), ("created_at", -1)))
    assert s.sort == (("created_at", -1),)
    assert s.range == ()
    assert s.key == (("status", 1), ("created_at", -1))


def test_and_is_flattened_and_or_gives_one_shape_per_clause() -> None:
    assert shape({"$and": [{"a": 1}, {"b": {"$gt": 2}}]}).key == (("a", 1), ("b", 1))
    shapes = esr.analyse({"tenant": 7, "$or": [{"a": 1}, {"b": {"$lt": 3}}]})
    assert [s.key for s in shapes] == [(("tenant", 1), ("a", 1)), (("tenant", 1), ("b", 1))]
    assert all(any("$or" in note for note in s.notes) for s in shapes)


def test_unplannable_predicates_are_notes_not_keys() -> None:
    s = shape({"$expr": {"$gt": ["$a", "$b"]}, "loc": {"$near": {"$geometry": {}}}})
    assert not s.plannable
    assert s.key == ()
    assert any("$expr" in note for note in s.notes)
    assert any("2dsphere" in note for note in s.notes)


def test_an_index_serves_a_shape_with_equalities_in_any_order_and_the_sort_reversed() -> None:
    s = shape({"a": 1, "b": 2, "r": {"$gt": 0}}, (("t", -1),))
    assert s.key == (("a", 1), ("b", 1), ("t", -1), ("r", 1))
    assert esr.serves((("b", 1), ("a", -1), ("t", 1), ("r", 1), ("x", 1)), s.key, s)
    assert not esr.serves((("a", 1), ("t", -1), ("b", 1), ("r", 1)), s.key, s)
    assert not esr.serves((("a", 1), ("b", 1), ("t", -1)), s.key, s)


def test_compound_sort_directions_must_all_match_or_all_reverse() -> None:
    s = shape({}, (("a", 1), ("b", -1)))
    assert esr.serves((("a", -1), ("b", 1)), s.key, s)
    assert not esr.serves((("a", 1), ("b", 1)), s.key, s)


def test_prefix_indexes_are_redundant_unless_they_carry_options() -> None:
    indexes = [
        info("_id_", [("_id", 1)]),
        info("a_1", [("a", 1)]),
        info("a_-1_b_1", [("a", -1), ("b", 1)]),
        info("u_1", [("u", 1)], unique=True),
        info("u_1_v_1", [("u", 1), ("v", 1)]),
        info("p_1", [("p", 1)]),
        info("p_1_q_1", [("p", 1), ("q", 1)], partialFilterExpression={"q": {"$gt": 1}}),
        info("x_1_y_1", [("x", 1), ("y", 1)]),
        info("x_1_y_-1_z_1", [("x", 1), ("y", -1), ("z", 1)]),
    ]
    pairs = [(short.name, long.name) for short, long in esr.redundant_indexes(indexes)]
    # a_1 reads either way; u_1 enforces uniqueness; p_1_q_1 holds only some documents;
    # x_1_y_1 is not a prefix of x_1_y_-1_z_1 (the directions neither match nor all reverse).
    assert pairs == [("a_1", "a_-1_b_1")]


def test_candidates_that_prefix_another_are_folded_into_it() -> None:
    merged = esr.merge_candidates(
        [(("s", 1),), (("s", 1), ("t", -1)), (("c", 1),), (("s", 1), ("t", -1))]
    )
    assert merged == [(("s", 1), ("t", -1)), (("c", 1),)]


def test_text_keys_are_expanded_from_the_weights_of_a_server_index_spec() -> None:
    spec = {
        "v": 2,
        "key": {"tenant": 1, "_fts": "text", "_ftsx": 1},
        "name": "tenant_1_title_text_body_text",
        "weights": {"body": 1, "title": 5},
        "default_language": "english",
    }
    index = esr.IndexInfo.from_server(spec)
    assert index.key == (("tenant", 1), ("body", "text"), ("title", "text"))
    assert not index.plain_btree
    assert esr.index_name((("status", 1), ("created_at", -1))) == "status_1_created_at_-1"
