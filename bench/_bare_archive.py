"""The bare baseline of bench/archive.py: read entries through a consumer group in batches, INSERT the
header fields and body of each (ON CONFLICT DO NOTHING) with the driver's executemany in one
transaction per batch, commit, XACK. No decoding, one table, no ORM layer.

    python bench/_bare_archive.py DB_URL REDIS_URL STREAM_KEY...   (runs until killed)
"""

from __future__ import annotations

import contextlib
import sqlite3
import sys
from typing import Any

import psycopg
import redis

GROUP, BATCH = "bare", 500
COLUMNS = "stream, id, type, v, trace, ts_ns, entry_id, data"


def connect(url: str) -> tuple[Any, str]:
    if url.startswith("sqlite:///"):
        conn: Any = sqlite3.connect(url.removeprefix("sqlite:///"))
        for pragma in ("journal_mode=WAL", "synchronous=FULL"):  # as the archive's engine
            conn.execute(f"PRAGMA {pragma}")
        blob, mark = "BLOB", "?"
    else:
        conn = psycopg.connect(url.replace("postgresql+psycopg://", "postgresql://"))
        blob, mark = "BYTEA", "%s"
    conn.execute(
        f"CREATE TABLE IF NOT EXISTS bare_entries (stream TEXT, id TEXT, type TEXT, v INTEGER, trace TEXT, "
        f"ts_ns BIGINT, entry_id TEXT, data {blob}, PRIMARY KEY (stream, id))"
    )
    conn.commit()
    marks = ", ".join([mark] * 8)
    return conn, f"INSERT INTO bare_entries ({COLUMNS}) VALUES ({marks}) ON CONFLICT DO NOTHING"


def main(db_url: str, redis_url: str, streams: list[str]) -> None:
    r = redis.Redis.from_url(redis_url)
    for s in streams:
        with contextlib.suppress(redis.ResponseError):  # BUSYGROUP: it exists
            r.xgroup_create(s, GROUP, id="0", mkstream=True)
    conn, insert = connect(db_url)
    cur = conn.cursor()
    while True:
        reply: Any = r.xreadgroup(GROUP, "c1", {s: ">" for s in streams}, count=BATCH, block=1000)
        rows, acks = [], {}
        for stream, items in reply or ():
            for entry_id, f in items:
                rows.append(
                    (stream.decode(), f[b"id"].decode(), f[b"type"].decode(), int(f[b"v"]),
                     f[b"trace"].decode(), int(f[b"ts"]), entry_id.decode(), f[b"data"])
                )  # fmt: skip
                acks.setdefault(stream, []).append(entry_id)
        if not rows:
            continue
        cur.executemany(insert, rows)
        conn.commit()
        pipe = r.pipeline(transaction=False)
        for stream, ids in acks.items():
            pipe.xack(stream, GROUP, *ids)
        pipe.execute()


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], sys.argv[3:])
