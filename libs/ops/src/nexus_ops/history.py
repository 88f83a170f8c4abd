"""Where nexusctl reads the mesh's past: the archive first, the streams for what it has not received.

Every entry the recorder acknowledged is in the archive (it acknowledges only after its commit). So
for each stream, what the archive may lack starts at the recorder group's *watermark*: its oldest
pending entry, else the entry after its last delivered one; without a recorder group, the whole
stream. `ArchiveHistory.entries` gives the archive's entries of a window and adds the stream's
entries from the watermark on whose message id the archive does not hold, in entry order. A day
older than the streams' retention, or a Redis that was flushed, is read from the archive alone.

`nexus_ops.records.StreamHistory` reads the streams alone (no archive, or `--streams-only`).
"""

from __future__ import annotations

import heapq
import logging
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import redis

from nexus_archive.read import ArchiveReader
from nexus_archive.recorded import GROUP
from nexus_mesh.connection import as_str
from nexus_ops.records import StreamEntry, StreamHistory, Window, entries, entry_order
from nexus_protocol.streams import Names

log = logging.getLogger(__name__)


def watermark(client: redis.Redis, key: str) -> str | None:
    """The first entry id the archive may lack on `key`: "0-0" without a recorder group, None when
    the stream does not exist (nothing to add)."""
    try:
        groups: Any = client.xinfo_groups(key)
    except redis.ResponseError:
        return None  # no such stream
    for g in groups:
        if as_str(g["name"]) != GROUP:
            continue
        if int(g.get("pending") or 0):
            summary: Any = client.xpending(key, GROUP)
            if summary.get("min"):
                return as_str(summary["min"])
        ms, seq = entry_order(as_str(g.get("last-delivered-id") or "0-0"))
        return f"{ms}-{seq + 1}"
    return "0-0"


@dataclass
class ArchiveHistory:
    reader: ArchiveReader
    names: Names
    client: redis.Redis | None = None  # None: the archive alone
    warnings: list[str] = field(default_factory=list)

    def _stream_part(self, stream: str, window: Window) -> Iterator[StreamEntry]:
        if self.client is None:
            return iter(())
        key = self.names.stream(stream)
        try:
            mark = watermark(self.client, key)
        except redis.RedisError as exc:
            self._warn(f"streams not read ({exc}): the archive alone answers")
            self.client = None
            return iter(())
        if mark is None:
            return iter(())
        start_ms = max(window.start_ms, entry_order(mark)[0])
        if start_ms >= window.end_ms:
            return iter(())
        rest = entries(self.client, key, Window(start_ms, window.end_ms))
        return (e for e in rest if entry_order(e.entry_id) >= entry_order(mark))

    def _warn(self, text: str) -> None:
        if text not in self.warnings:
            log.warning(text)
            self.warnings.append(text)

    def entries(self, stream: str, window: Window) -> Iterator[StreamEntry]:
        archived = [
            StreamEntry(self.names.stream(stream), a.entry_id, a.env)
            for a in self.reader.entries(stream, window.start_ms, window.end_ms)
        ]
        have = {e.env.id for e in archived}
        recent = [e for e in self._stream_part(stream, window) if e.env.id not in have]
        return heapq.merge(archived, recent, key=lambda e: entry_order(e.entry_id))

    def streams(self, prefix: str) -> list[str]:
        found = set(self.reader.streams(prefix))
        if self.client is not None:
            try:
                found |= set(StreamHistory(self.client, self.names).streams(prefix))
            except redis.RedisError as exc:
                self._warn(f"streams not read ({exc}): the archive alone answers")
                self.client = None
        return sorted(found)
