"""The result cache on its own: identity of a call, expiry on a fake clock, both memory bounds."""

from __future__ import annotations

import msgspec
import pytest

from runtime.host.result_cache import ENTRY_OVERHEAD_BYTES, ResultCache, call_key


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def encoded(value: object) -> bytes:
    return msgspec.json.encode(value)


def test_params_are_canonical_so_key_order_does_not_matter() -> None:
    first = call_key("t", "r1", "analyst", {"a": 1, "b": {"x": 1, "y": 2}})
    second = call_key("t", "r1", "analyst", {"b": {"y": 2, "x": 1}, "a": 1})

    assert first == second


@pytest.mark.parametrize(
    "other",
    [
        ("u", "r1", "analyst", {"a": 1}),
        ("t", "r2", "analyst", {"a": 1}),
        ("t", "r1", "operator", {"a": 1}),
        ("t", "r1", None, {"a": 1}),
        ("t", "r1", "analyst", {"a": 2}),
        ("t", "r1", "analyst", {"a": "1"}),
    ],
    ids=["tool", "revision", "role", "no-role", "value", "type"],
)
def test_any_difference_in_tool_code_role_or_params_is_another_call(
    other: tuple[str, str, str | None, dict[str, object]],
) -> None:
    assert call_key("t", "r1", "analyst", {"a": 1}) != call_key(*other)


def test_a_role_named_like_the_empty_role_does_not_share_entries() -> None:
    assert call_key("t", "r", "", {}) != call_key("t", "r", None, {})


def test_hit_within_ttl_and_miss_once_it_has_passed() -> None:
    clock = FakeClock()
    cache = ResultCache(clock=clock)
    key = call_key("t", "r", None, {})
    cache.put(key, "t", encoded({"n": 1}), ttl=10)

    clock.now += 9.999
    assert cache.get(key, "t") == encoded({"n": 1})
    clock.now += 0.001
    assert cache.get(key, "t") is None

    stats = cache.statistics()
    assert (stats.hits, stats.misses, stats.entries) == ({"t": 1}, {"t": 1}, 0)


def test_least_recently_used_entry_goes_first_when_the_count_is_full() -> None:
    cache = ResultCache(max_entries=2, clock=FakeClock())
    a, b, c = (call_key("t", "r", None, {"k": k}) for k in "abc")
    cache.put(a, "t", b"1", ttl=60)
    cache.put(b, "t", b"2", ttl=60)
    assert cache.get(a, "t") == b"1"  # a is now the most recently used

    cache.put(c, "t", b"3", ttl=60)

    assert cache.get(b, "t") is None
    assert (cache.get(a, "t"), cache.get(c, "t")) == (b"1", b"3")
    assert cache.statistics().evictions == 1


def test_byte_bound_counts_results_and_per_entry_overhead() -> None:
    entry_size = 100 + ENTRY_OVERHEAD_BYTES
    cache = ResultCache(max_bytes=3 * entry_size, clock=FakeClock())
    keys = [call_key("t", "r", None, {"i": i}) for i in range(5)]

    for key in keys:
        cache.put(key, "t", b"x" * 100, ttl=60)

    stats = cache.statistics()
    assert stats.entries == 3
    assert stats.bytes == 3 * entry_size
    assert [cache.get(k, "t") is not None for k in keys] == [False, False, True, True, True]


def test_a_result_over_the_entry_limit_is_not_stored_and_evicts_nothing() -> None:
    cache = ResultCache(max_entry_bytes=10, clock=FakeClock())
    small, big = call_key("t", "r", None, {"s": 1}), call_key("t", "r", None, {"b": 1})
    assert cache.put(small, "t", b"1", ttl=60)

    assert not cache.put(big, "t", b"x" * 11, ttl=60)

    assert cache.get(small, "t") == b"1"
    assert cache.statistics().entries == 1


def test_storing_a_key_again_replaces_it_without_double_counting() -> None:
    cache = ResultCache(clock=FakeClock())
    key = call_key("t", "r", None, {})
    cache.put(key, "t", b"old", ttl=60)
    cache.put(key, "t", b"newer", ttl=60)

    assert cache.get(key, "t") == b"newer"
    assert cache.statistics().bytes == len(b"newer") + ENTRY_OVERHEAD_BYTES


def test_zero_ttl_stores_nothing() -> None:
    cache = ResultCache(clock=FakeClock())

    assert not cache.put(call_key("t", "r", None, {}), "t", b"1", ttl=0)
    assert cache.statistics().entries == 0


def test_limits_must_be_positive() -> None:
    with pytest.raises(ValueError, match="positive"):
        ResultCache(max_entries=0)
