"""The bare baseline of bench/archive.py: the recorder's work and nothing more, as a plain loop.

Read entries through a consumer group in batches (the recorder's batch size), decode each as the
recorder does (`nexus_protocol.codec.decode`), map it to the archive's rows (`nexus_archive.rows`),
insert them into the archive's own tables (migrated by alembic: same columns, keys and indexes) with
the same compiled INSERT ... ON CONFLICT DO NOTHING through the driver's executemany, one transaction
per batch, commit, XACK. No stream processor (dedupe, heartbeats, claims, metrics, retries), no
SQLAlchemy connection: the same database work on the bare driver.

    python bench/_bare_archive.py DB_URL REDIS_URL NAMESPACE BATCH STREAM...   (runs until killed)

STREAM: logical names as the recorder records them (`signals`, `orders:nt8`, `fills:raw`...).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import sqlite3
import sys
from typing import Any

import psycopg
import redis
from sqlalchemy.engine import Dialect

from nexus_archive.engine import is_sqlite, open_engine, sqlite_file
from nexus_archive.migrate import upgrade
from nexus_archive.rows import Rows, rows
from nexus_archive.store import by_table, compiled_insert
from nexus_protocol.codec import decode
from nexus_protocol.streams import Names

GROUP = "bare"


def connect(url: str) -> tuple[Any, Dialect]:
    """The bare driver's connection, and the dialect the recorder's engine compiles for."""
    engine = open_engine(url)
    upgrade(engine)  # the archive's tables, as the recorder makes them
    engine.dispose()
    if is_sqlite(url):
        conn: Any = sqlite3.connect(sqlite_file(url))
        for pragma in ("journal_mode=WAL", "synchronous=FULL", "foreign_keys=ON"):  # the archive engine's
            conn.execute(f"PRAGMA {pragma}")
    else:
        conn = psycopg.connect(url.replace("postgresql+psycopg://", "postgresql://"))
    return conn, engine.dialect


def main(db_url: str, redis_url: str, namespace: str, batch: int, streams: list[str]) -> None:
    r = redis.Redis.from_url(redis_url)
    names = Names(namespace)
    keys = {names.stream(s): s for s in streams}
    for k in keys:
        with contextlib.suppress(redis.ResponseError):  # BUSYGROUP: it exists
            r.xgroup_create(k, GROUP, id="0", mkstream=True)
    logical = {k.encode(): s for k, s in keys.items()}
    conn, dialect = connect(db_url)
    cur = conn.cursor()
    while True:
        reply: Any = r.xreadgroup(GROUP, "c1", {k: ">" for k in keys}, count=batch, block=1000)
        out: list[Rows] = []
        acks: dict[bytes, list[bytes]] = {}
        now = dt.datetime.now(dt.UTC)
        for stream, items in reply or ():
            for entry_id, fields in items:
                out.append(rows(namespace, logical[stream], entry_id.decode(), decode(fields), now))
                acks.setdefault(stream, []).append(entry_id)
        if not out:
            continue
        for table, values in by_table(out):
            ins = compiled_insert(dialect, table)
            cur.executemany(ins.sql, ins.params(values))
        conn.commit()
        pipe = r.pipeline(transaction=False)
        for stream, ids in acks.items():
            pipe.xack(stream, GROUP, *ids)
        pipe.execute()


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4]), sys.argv[5:])
