"""Hash fields that expire: state that is done with is kept for the retention window, then removed.

Redis expires keys, not hash fields (before 7.4). A service's per-order or per-signal state lives in
hashes, so beside them a sorted set records when each field was finished with; `prune` deletes the
fields older than the window from every hash and from the set. All keys carry the owner's hash tag
(`names.state(owner, ...)`), so each call stays in one slot. Only finished entries are touched: a
working order's state is never pruned, however old. `FieldExpiry` is for code that writes Redis
itself (adapters); a stage returns `prune_writes(...)` from its tick instead.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Sequence

import redis
from redis.client import Pipeline

from nexus_mesh.connection import as_str
from nexus_mesh.context import Context
from nexus_mesh.state import Writes


class FieldExpiry:
    def __init__(self, client: redis.Redis, clock_key: str, hashes: Sequence[str], retention_ms: int) -> None:
        self._client = client
        self.clock_key = clock_key
        self.hashes = tuple(hashes)
        self.retention_ms = retention_ms

    def finished(self, fields: Iterable[str], pipe: Pipeline | None = None) -> None:
        """Start the retention clock of `fields` (in `pipe` when given, else now)."""
        mapping = {f: int(time.time() * 1000) for f in fields}
        if mapping:
            (pipe if pipe is not None else self._client).zadd(self.clock_key, dict(mapping))

    def prune(self, now_ms: int | None = None, batch: int = 1000) -> int:
        """Remove every field finished before the window; returns how many."""
        cutoff = (now_ms if now_ms is not None else int(time.time() * 1000)) - self.retention_ms
        removed = 0
        while True:
            raw: list[bytes] = self._client.zrangebyscore(self.clock_key, "-inf", cutoff, start=0, num=batch)  # type: ignore[assignment]
            fields = [as_str(f) for f in raw or []]
            if not fields:
                return removed
            pipe = self._client.pipeline(transaction=True)
            for h in self.hashes:
                pipe.hdel(h, *fields)
            pipe.zrem(self.clock_key, *fields)
            pipe.execute()
            removed += len(fields)


def prune_writes(
    ctx: Context, clock_key: str, hashes: Sequence[str], retention_ms: int, batch: int = 1000
) -> Writes:
    """A stage's pruning, as writes for its commit: the fields finished before the window, from every
    hash in `hashes` and from the clock (at most `batch` per call; the next tick takes the rest)."""
    old = ctx.older(clock_key, ctx.now_ns() // 1_000_000 - retention_ms)[:batch]
    writes = Writes()
    if old:
        for h in hashes:
            writes.hdel(h, *old)
        writes.zrem(clock_key, *old)
    return writes
