"""Idempotent publish: an output is appended to its stream at most once, however often it is sent.

Each output's dedupe key (`{stream}:seen:{id}`) is set with NX and the entry appended only if the key
was new, in one script call per hash slot (`nexus_mesh.commit`). The dedupe keys carry the stream's
hash tag, so a call never spans two slots. A stage's outputs go out with its state writes through the
StreamProcessor's commit; `Publisher` is for writers outside a stage (operator tools, the adapter base
pushing platform reports). Market-data outputs skip the dedupe key and are capped with MAXLEN ~.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import redis
from redis.client import Pipeline

from nexus_mesh import commit
from nexus_mesh.scripts import run_pipeline
from nexus_protocol.codec import Envelope


@dataclass(frozen=True, slots=True)
class Output:
    """One message for one stream. `maxlen` caps the stream (market data); `idempotent=False` skips
    the dedupe key (market data, where a duplicate tick is harmless and keys would be wasted)."""

    stream: str
    envelope: Envelope[Any]
    maxlen: int = 0
    idempotent: bool = True


class Publisher:
    """Publishes outputs in one pipeline per call; every publish is idempotent, so re-running the
    pipeline after NOSCRIPT is safe."""

    def __init__(self, client: redis.Redis, *, dedupe_ttl_ms: int) -> None:
        self._client = client
        self._ttl = dedupe_ttl_ms

    def publish(self, outputs: Sequence[Output]) -> list[str | None]:
        """Publish now; per output its new entry id, or None when it had been published before.

        Raises on any error (nothing is then known to be published; a retry is safe).
        """
        if not outputs:
            return []
        p = commit.plan(outputs)

        def build(pipe: Pipeline) -> None:
            commit.queue(pipe, p, outputs, self._ttl)

        return commit.entry_ids(p, len(outputs), run_pipeline(self._client, build, [commit.APPLY]))
