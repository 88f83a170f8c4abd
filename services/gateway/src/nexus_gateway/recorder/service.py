"""The recorder stage: every entry of the recorded streams into the archive, then acknowledged.

Guarantee: every message on a recorded stream is in the archive exactly once, whatever is killed
when. How:
- The recorder reads each recorded stream (signals, orders, fills raw / normalized / in USD with the
  routes, executions, events, dead letters; `nexus_archive.recorded`) through its own consumer
  group `recorder`, created at `0` so nothing written before it first ran is skipped, and Redis's
  retention never trims what the group has not acknowledged (`nexus_mesh.retention`).
- The handler only maps an entry to its rows (`nexus_archive.rows`); the batch's rows are written
  in one transaction by the processor's `on_commit`, before the batch is acknowledged. A crash
  before the commit leaves nothing written and the batch is redelivered; a crash after it
  redelivers entries whose insert is a no-op (ON CONFLICT DO NOTHING on namespace, stream, id).
- The database unreachable: the same batch is written again with backoff (nothing acknowledged, no
  delivery counted), `nx_archive_up` is 0, and the recorder's logs say why.
- A row the database refuses (a NUL in PostgreSQL text...) is kept whole in `messages` with the
  database's reason; an entry whose mapping fails likewise. An entry the recorder cannot decode (or
  one delivered too often) is kept in `messages` too, with the reason (`keep`), and not dead-lettered:
  the stage that owns the stream writes its one dead letter, which is archived from `dlq` (before,
  every bad entry on a stream a stage reads was dead-lettered twice). An entry past
  NX_MAX_ENTRY_BYTES is kept by reference (size and SHA-256 in `problem`, no data).
"""

from __future__ import annotations

import datetime as dt
import logging
import time
from collections import Counter as Tally
from collections.abc import Callable, Sequence
from typing import Any

import redis
from prometheus_client import Counter, Gauge, Histogram
from sqlalchemy import Engine
from sqlalchemy.exc import SQLAlchemyError

from nexus_archive.engine import archive_url, open_engine, redacted
from nexus_archive.migrate import upgrade
from nexus_archive.recorded import GROUP, recorded_streams
from nexus_archive.rows import Rows, raw_row, rows, unreadable_row
from nexus_archive.store import ArchiveStore, Transient, is_transient
from nexus_gateway.recorder.config import RecorderSettings
from nexus_mesh.config_files import load_symbols
from nexus_mesh.context import Context
from nexus_mesh.deadletter import Rejected, entry_digest, entry_size
from nexus_mesh.processor import Input, StreamProcessor
from nexus_mesh.publish import Output
from nexus_mesh.state import Result
from nexus_mesh.venues import load_venues
from nexus_protocol.codec import Envelope
from nexus_protocol.messages import Message
from nexus_protocol.streams import Names

log = logging.getLogger(__name__)

ARCHIVED = Counter("nx_archive_entries", "Entries committed to the archive", ["stream"])
REFUSED = Counter("nx_archive_refused", "Entries kept whole in `messages`: their typed row was refused")
COMMIT_SECONDS = Histogram(
    "nx_archive_commit_seconds",
    "Time to write one batch to the archive (one transaction)",
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 10.0),
)
ARCHIVE_UP = Gauge("nx_archive_up", "1 while the recorder reaches its archive database")


class Recorder:
    def __init__(
        self, store: ArchiveStore, names: Names, streams: Sequence[str], *, retry_max_s: float = 5.0
    ) -> None:
        self.store = store
        self.namespace = names.namespace
        self.logical = {names.stream(s): s for s in streams}
        self.retry_max_s = retry_max_s
        self.stopping: Callable[[], bool] = lambda: False
        self.pending: list[Rows] = []
        self.archived = 0
        self.refused = 0

    def handle(self, env: Envelope[Message], ctx: Context) -> list[Output]:
        assert ctx.stream is not None and ctx.entry_id is not None
        stream = self.logical[ctx.stream]
        now = dt.datetime.now(dt.UTC)
        try:
            self.pending.append(rows(self.namespace, stream, ctx.entry_id, env, now))
        except Exception as exc:  # a mapping bug must not lose the entry: keep it whole
            log.exception("entry %s on %s kept whole: its rows could not be built", ctx.entry_id, stream)
            problem = f"rows not built: {type(exc).__name__}: {exc}"
            self.pending.append(raw_row(self.namespace, stream, ctx.entry_id, env, now, problem))
        return []

    def keep(self, r: Rejected, ctx: Context) -> Result:
        """An entry the processor would dead-letter, archived instead: one that decoded (delivered too
        often while the database was away) as usual, any other in `messages` with the reason."""
        if r.envelope is not None:
            return Result(self.handle(r.envelope, ctx))
        stream, now = self.logical[r.stream], dt.datetime.now(dt.UTC)
        problem = r.reason
        if r.oversized:
            problem += f"; kept by reference: {entry_size(r.fields)} bytes, sha256 {entry_digest(r.fields)}"
        row = unreadable_row(
            self.namespace, stream, r.entry_id, r.fields, now, problem, whole=not r.oversized
        )
        self.pending.append(row)
        return Result()

    def commit(self) -> None:
        """Write what the batch's handlers gathered, in one transaction, until it is written."""
        batch, self.pending = self.pending, []
        if not batch:
            return
        started = time.perf_counter()
        delay = 0.1
        while True:
            try:
                refused = self.store.write_all(batch)
                break
            except Transient as exc:
                ARCHIVE_UP.set(0)
                if self.stopping():
                    raise
                log.warning("archive unavailable, writing the batch again in %.1fs: %s", delay, exc)
                self._sleep(delay)
                delay = min(delay * 2, self.retry_max_s)
        ARCHIVE_UP.set(1)
        COMMIT_SECONDS.observe(time.perf_counter() - started)
        for stream, n in Tally(r.row["stream"] for r in batch).items():
            ARCHIVED.labels(stream).inc(n)
        REFUSED.inc(refused)
        self.archived += len(batch)
        self.refused += refused

    def _sleep(self, seconds: float) -> None:
        end = time.monotonic() + seconds
        while time.monotonic() < end and not self.stopping():
            time.sleep(0.05)

    def detail(self) -> dict[str, Any]:
        return {"archived": self.archived, "refused": self.refused}


def migrated_engine(url: str, retry_max_s: float, attempts: int | None = None) -> Engine:
    """The archive's engine at the head schema; waits for a database that is not up yet."""
    engine = open_engine(url)
    delay, n = 0.5, 0
    while True:
        try:
            upgrade(engine)
            return engine
        except SQLAlchemyError as exc:
            n += 1
            if not is_transient(exc) or (attempts is not None and n >= attempts):
                raise
            log.warning("archive %s unreachable (%s); retrying in %.1fs", redacted(url), exc, delay)
            time.sleep(delay)
            delay = min(delay * 2, retry_max_s)


def build(settings: RecorderSettings, client: redis.Redis) -> StreamProcessor:
    url = archive_url(settings.archive_url, settings.data_dir)
    engine = migrated_engine(url, settings.archive_retry_max_s)
    log.info("archive %s", redacted(url))
    names = settings.names
    registry = load_symbols(settings.config_dir)
    venues = load_venues(settings.config_dir, settings.environment, registry)
    streams = recorded_streams(venues, registry.partitions)
    recorder = Recorder(ArchiveStore(engine), names, streams, retry_max_s=settings.archive_retry_max_s)
    proc = StreamProcessor(
        settings,
        [
            Input(names.stream(s), recorder.handle, on_dead_letter=recorder.keep, dead_letters=False)
            for s in streams
        ],
        client=client,
        group=GROUP,
        on_commit=recorder.commit,
        heartbeat_detail=lambda: {"archive": redacted(url), **recorder.detail()},
    )
    recorder.stopping = lambda: proc.stopping
    return proc
