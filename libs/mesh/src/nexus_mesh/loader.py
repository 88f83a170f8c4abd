"""Reading state for a stage: the reads a handler asked for, queued in a pipeline and stored.

Owned keys (under the stage's `state:{owner}` tag) go to the cache kept across batches; everything
else to the batch's own store.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from redis.client import Pipeline

from nexus_mesh.state import Loaded, Read

OLDER_LIMIT = 1000
_CACHED = frozenset({"hget", "hash", "get"})


def queue_reads(pipe: Pipeline, reads: Sequence[Read]) -> None:
    for r in reads:
        if r.kind == "hget":
            pipe.hget(r.key, r.arg)
        elif r.kind == "hash":
            pipe.hgetall(r.key)
        elif r.kind == "get":
            pipe.get(r.key)
        elif r.kind == "older":
            pipe.zrangebyscore(r.key, "-inf", r.arg, start=0, num=OLDER_LIMIT)
        else:
            pipe.xrevrange(r.key, count=int(r.arg))


def store(
    reads: Sequence[Read], replies: Sequence[Any], owned: Loaded, other: Loaded, prefix: str | None
) -> None:
    """Owned hashes and strings into the cache; ranges (older, newest) and the rest into `other`."""
    for r, reply in zip(reads, replies, strict=True):
        cached = prefix is not None and r.key.startswith(prefix) and r.kind in _CACHED
        (owned if cached else other).store(r, reply)
