"""Reading the archive back as the stream entries it recorded, and the end-of-day questions.

`entries(stream, start_ms, end_ms)` yields what the stream held in that window (by Redis entry time),
oldest first, each decoded from the archived header and body: the same messages `XRANGE` gave while
the stream still had them, so export, report and replay work alike on both.
"""

from __future__ import annotations

import datetime as dt
import heapq
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Engine, and_, exists, func, select

from nexus_archive import schema
from nexus_archive.types import aware, utc_from_ms
from nexus_protocol.codec import Envelope, decode
from nexus_protocol.errors import DecodeError
from nexus_protocol.messages import Message

_FETCH = 5_000


@dataclass(frozen=True, slots=True)
class Archived:
    stream: str
    entry_id: str
    env: Envelope[Message]


def envelope(row: Any) -> Envelope[Message]:
    return decode(
        {
            b"type": row.type.encode(),
            b"v": str(row.v).encode(),
            b"id": row.id.encode(),
            b"trace": row.trace.encode(),
            b"ts": str(row.ts_ns).encode(),
            b"data": bytes(row.data),
        }
    )


class ArchiveReader:
    def __init__(self, engine: Engine, namespace: str) -> None:
        self.engine = engine
        self.namespace = namespace

    def _window(self, t: Any, stream: str, start_ms: int, end_ms: int) -> Any:
        return and_(
            t.c.namespace == self.namespace,
            t.c.stream == stream,
            t.c.entry_time >= utc_from_ms(start_ms),
            t.c.entry_time < utc_from_ms(end_ms),
        )

    def _rows(self, table: Any, stream: str, start_ms: int, end_ms: int) -> Iterator[tuple[Any, ...]]:
        t = table
        cols = [t.c.entry_time, t.c.entry_seq, t.c.entry_id, t.c.type, t.c.v, t.c.id, t.c.trace, t.c.ts_ns]
        q = (
            select(*cols, t.c.data)
            .where(self._window(t, stream, start_ms, end_ms))
            .order_by(t.c.entry_time, t.c.entry_seq)
        )
        with self.engine.connect() as conn:
            for row in conn.execution_options(yield_per=_FETCH).execute(q):
                yield (row.entry_time, row.entry_seq, row)

    def entries(self, stream: str, start_ms: int, end_ms: int) -> Iterator[Archived]:
        """Entries of `stream` whose Redis entry time is in [start_ms, end_ms), oldest first.

        An archived body that no longer decodes (a schema version this code dropped) is skipped."""
        merged = heapq.merge(
            *(self._rows(t, stream, start_ms, end_ms) for t in schema.MESSAGE_TABLES),
            key=lambda r: (r[0], r[1]),
        )
        for _t, _seq, row in merged:
            try:
                yield Archived(stream, row.entry_id, envelope(row))
            except DecodeError:
                continue

    def streams(self, prefix: str) -> list[str]:
        """Recorded streams whose logical name starts with `prefix` (`orders:` gives every venue)."""
        found: set[str] = set()
        with self.engine.connect() as conn:
            for t in schema.MESSAGE_TABLES:
                q = select(t.c.stream).where(t.c.namespace == self.namespace, t.c.stream.startswith(prefix))
                found.update(conn.execute(q.distinct()).scalars())
        return sorted(found)

    def count(self, stream: str, start_ms: int, end_ms: int) -> int:
        with self.engine.connect() as conn:
            return sum(
                int(
                    conn.execute(
                        select(func.count()).where(self._window(t, stream, start_ms, end_ms))
                    ).scalar_one()
                )
                for t in schema.MESSAGE_TABLES
            )

    def ids(self, stream: str, start_ms: int, end_ms: int) -> set[str]:
        """Message ids of `stream` archived with an entry time in the window."""
        with self.engine.connect() as conn:
            return {
                i
                for t in schema.MESSAGE_TABLES
                for i in conn.execute(
                    select(t.c.id).where(self._window(t, stream, start_ms, end_ms))
                ).scalars()
            }

    def unfinished_signals(self, start_ms: int, end_ms: int) -> list[str]:
        """Signals of the window without a final execution in the archive."""
        s, e = schema.signals, schema.executions
        final = exists().where(e.c.namespace == s.c.namespace, e.c.signal_id == s.c.signal_id, e.c.final)
        q = (
            select(s.c.signal_id)
            .where(self._window(s, "signals", start_ms, end_ms), ~final)
            .order_by(s.c.entry_time, s.c.entry_seq)
        )
        with self.engine.connect() as conn:
            return list(dict.fromkeys(conn.execute(q).scalars()))

    def dead_letters(self, start_ms: int, end_ms: int) -> list[DeadLetterRow]:
        """Dead letters of the window, each with the operator's note if one was written."""
        d, n = schema.dead_letters, schema.notes
        q = (
            select(d.c.id, d.c.entry_time, d.c.reason, d.c.source_stream, d.c.group_name, n.c.note)
            .outerjoin(n, and_(n.c.namespace == d.c.namespace, n.c.subject == d.c.id))
            .where(self._window(d, "dlq", start_ms, end_ms))
            .order_by(d.c.entry_time, d.c.entry_seq)
        )
        with self.engine.connect() as conn:
            return [DeadLetterRow(*row) for row in conn.execute(q)]

    def notes(self) -> dict[str, str]:
        n = schema.notes
        with self.engine.connect() as conn:
            q = select(n.c.subject, n.c.note).where(n.c.namespace == self.namespace)
            return {row.subject: row.note for row in conn.execute(q)}

    def last_entry_time(self) -> dt.datetime | None:
        with self.engine.connect() as conn:
            times = [
                conn.execute(select(func.max(t.c.entry_time)).where(t.c.namespace == self.namespace)).scalar()
                for t in schema.MESSAGE_TABLES
            ]
        found = [t for t in times if t is not None]
        return aware(max(found)) if found else None


@dataclass(frozen=True, slots=True)
class DeadLetterRow:
    id: str
    entry_time: dt.datetime
    reason: str
    source_stream: str
    group: str
    note: str | None
