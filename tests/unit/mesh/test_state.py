"""The stage view: reads see the batch's own writes first, unloaded reads ask to be loaded."""

from __future__ import annotations

import pytest

from nexus_mesh.state import Loaded, Missing, Read, StateView, Writes, hget, string, whole

OWNED = "nx:{state:t}"


def view() -> StateView:
    return StateView(Loaded(), Loaded(), OWNED)


def test_an_unloaded_read_raises_missing_naming_it() -> None:
    v = view()
    with pytest.raises(Missing) as e:
        v.hget(f"{OWNED}:h", "a")
    assert e.value.reads == (hget(f"{OWNED}:h", "a"),)


def test_need_asks_for_everything_missing_at_once() -> None:
    v = view()
    v.cache.store(hget(f"{OWNED}:h", "a"), b"1")
    with pytest.raises(Missing) as e:
        v.need(hget(f"{OWNED}:h", "a"), hget(f"{OWNED}:h", "b"), string("nx:{control}:k"))
    assert e.value.reads == (hget(f"{OWNED}:h", "b"), string("nx:{control}:k"))


def test_owned_keys_go_to_the_cache_others_to_the_batch_store() -> None:
    v = view()
    v.cache.store(whole(f"{OWNED}:h"), {b"a": b"1"})
    v.fresh.store(string("nx:{control}:k"), b"on")
    assert v.hget(f"{OWNED}:h", "a") == b"1"
    assert v.hget(f"{OWNED}:h", "zz") is None  # a whole hash loaded: absence is known
    assert v.get("nx:{control}:k") == b"on"
    with pytest.raises(Missing):
        v.get(f"{OWNED}:k")  # owned: not in the batch store


def test_writes_of_earlier_messages_are_seen_by_later_ones() -> None:
    v = view()
    v.cache.store(whole(f"{OWNED}:h"), {b"a": b"1", b"b": b"2"})
    v.batch.apply(Writes().hset(f"{OWNED}:h", "a", "9").hdel(f"{OWNED}:h", "b").set(f"{OWNED}:s", "x"))
    assert v.hget(f"{OWNED}:h", "a") == b"9"
    assert v.hget(f"{OWNED}:h", "b") is None
    assert v.hgetall(f"{OWNED}:h") == {"a": b"9"}
    assert v.get(f"{OWNED}:s") == b"x"


def test_a_test_view_is_complete() -> None:
    v = StateView.of(hashes={"h": {"a": "1"}}, strings={"s": b"x"})
    assert v.hget("h", "a") == b"1"
    assert v.hget("h", "b") is None
    assert v.hget("other", "a") is None
    assert v.get("s") == b"x"
    assert v.get("t") is None
    assert v.older("z", 5) == []
    assert v.newest("stream", 3) == []
    assert v.need(Read("hget", "x", "y")) is None


def test_a_write_that_changes_nothing_owned_is_known_as_such() -> None:
    v = view()
    v.cache.store(whole(f"{OWNED}:h"), {b"a": b"1"})
    v.batch.apply(Writes().hset(f"{OWNED}:h", "b", "2"))
    same, changed, deleted_absent, unknown, other = (
        Writes().hset(f"{OWNED}:h", "a", "1").hset(f"{OWNED}:h", "b", "2").ops,
        Writes().hset(f"{OWNED}:h", "a", "2").hdel(f"{OWNED}:h", "b").ops,
        Writes().hdel(f"{OWNED}:h", "zz").ops,
        Writes().hset(f"{OWNED}:g", "a", "1").set(f"{OWNED}:s", "x").ops,
        Writes().hset("nx:{control}:h", "a", "1").ops,
    )
    assert all(v.unchanged(op) for op in same + deleted_absent)
    assert not any(v.unchanged(op) for op in changed + unknown + other)
