"""Reading state for a stage: the reads a handler asked for, queued in a pipeline and stored.

Owned keys (under the stage's `state:{owner}` tag) go to the cache kept across batches; everything
else to the batch's own store.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from redis.client import Pipeline

from nexus_mesh.commit import tag
from nexus_mesh.state import Loaded, Read

OLDER_LIMIT = 1000
_CACHED = frozenset({"hget", "hash", "get"})


def queue_reads(pipe: Pipeline, reads: Sequence[Read]) -> list[tuple[Read, ...]]:
    """Queue `reads`: the strings of one hash slot go as one MGET (a stage's fresh reads are mostly
    `{control}` keys: the kill switch, every venue's link). Returns, per queued command, the reads
    its reply answers, for `store`."""
    answered: list[tuple[Read, ...]] = []
    strings: dict[str, list[Read]] = {}
    for r in reads:
        if r.kind == "get":
            strings.setdefault(tag(r.key), []).append(r)
            continue
        if r.kind == "hget":
            pipe.hget(r.key, r.arg)
        elif r.kind == "hash":
            pipe.hgetall(r.key)
        elif r.kind == "older":
            pipe.zrangebyscore(r.key, "-inf", r.arg, start=0, num=OLDER_LIMIT)
        else:
            pipe.xrevrange(r.key, count=int(r.arg))
        answered.append((r,))
    for same_slot in strings.values():
        # by name: redis-py's cluster pipeline blocks its `mget` method (keys of one slot are fine)
        pipe.execute_command("MGET", *(r.key for r in same_slot))  # type: ignore[no-untyped-call]
        answered.append(tuple(same_slot))
    return answered


def store(
    answered: Sequence[tuple[Read, ...]],
    replies: Sequence[Any],
    owned: Loaded,
    other: Loaded,
    prefix: str | None,
) -> None:
    """Owned hashes and strings into the cache; ranges (older, newest) and the rest into `other`."""
    for reads, reply in zip(answered, replies, strict=True):
        values = reply if reads[0].kind == "get" else (reply,)
        for r, value in zip(reads, values, strict=True):
            cached = prefix is not None and r.key.startswith(prefix) and r.kind in _CACHED
            (owned if cached else other).store(r, value)
