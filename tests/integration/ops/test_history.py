"""Reading the past: the archive first, the streams only past the recorder's watermark (its oldest
pending entry, else after its last delivered one), each entry once and in order; the archive alone
when the streams are gone."""

from __future__ import annotations

import datetime as dt

import redis
from sqlalchemy import Engine

from nexus_archive.engine import open_engine
from nexus_archive.migrate import upgrade
from nexus_archive.read import ArchiveReader
from nexus_archive.recorded import GROUP
from nexus_archive.rows import rows
from nexus_archive.store import ArchiveStore
from nexus_ops.history import ArchiveHistory, watermark
from nexus_ops.records import StreamHistory, Window, entries
from nexus_protocol import Names
from nexus_protocol.codec import decode, encode
from nexus_testing.archive import signal_life

NOW = dt.datetime(2026, 12, 1, tzinfo=dt.UTC)
ALL = Window(0, 253_402_300_799_000)


def record(client: redis.Redis, engine: Engine, names: Names, stream: str, count: int, ack: bool) -> None:
    """What the recorder does with `count` entries: read through its group, archive, acknowledge."""
    key = names.stream(stream)
    reply = client.xreadgroup(GROUP, "r1", {key: ">"}, count=count)
    batch = [
        rows(names.namespace, stream, i.decode(), decode(f), NOW) for _s, items in reply for i, f in items
    ]
    ArchiveStore(engine).write_all(batch)
    if ack:
        client.xack(key, GROUP, *[r.row["entry_id"] for r in batch])


def test_archive_then_the_streams_past_the_watermark(
    archive_url: str, client: redis.Redis, names: Names
) -> None:
    engine = open_engine(archive_url)
    upgrade(engine)
    key = names.signals
    sigs = [
        s for i in range(10) for s in signal_life(f"H{i:02d}", 1_795_000_000_000 + i) if s.stream == "signals"
    ]
    for s in sigs:
        client.xadd(key, encode(s.env))  # type: ignore[arg-type]
    assert watermark(client, key) == "0-0"  # no recorder yet: the whole stream
    client.xgroup_create(key, GROUP, id="0")
    record(client, engine, names, "signals", 4, ack=True)  # archived and acknowledged
    record(client, engine, names, "signals", 3, ack=False)  # archived, not acknowledged (a crash)
    ids = [e.entry_id for e in entries(client, key, ALL)]
    assert watermark(client, key) == ids[4]  # the oldest pending entry
    history = ArchiveHistory(ArchiveReader(engine, names.namespace), names, client)
    got = list(history.entries("signals", ALL))
    assert [e.env.id for e in got] == [s.env.id for s in sigs]  # each once, in stream order
    assert [e.entry_id for e in got] == ids
    assert [e.env.id for e in got] == [e.env.id for e in StreamHistory(client, names).entries("signals", ALL)]
    client.xack(key, GROUP, *ids[4:7])
    assert watermark(client, key) == f"{ids[6].split('-')[0]}-{int(ids[6].split('-')[1]) + 1}"
    client.delete(key)  # the streams gone (flushed, or trimmed past retention): the archive answers
    assert watermark(client, key) is None
    assert [e.env.id for e in history.entries("signals", ALL)] == [s.env.id for s in sigs[:7]]
    assert history.streams("sig") == ["signals"]
    engine.dispose()


def test_the_archive_alone_when_redis_is_unreachable(archive_url: str, names: Names) -> None:
    engine = open_engine(archive_url)
    upgrade(engine)
    life = signal_life("U1", 1_795_000_000_000)
    ArchiveStore(engine).write_all([rows(names.namespace, s.stream, s.entry_id, s.env, NOW) for s in life])
    dead = redis.Redis(port=1, socket_connect_timeout=0.5)
    history = ArchiveHistory(ArchiveReader(engine, names.namespace), names, dead)
    assert [e.env.id for e in history.entries("executions", ALL)] == [life[-1].env.id]
    assert history.client is None and history.warnings and "archive alone" in history.warnings[0]
    engine.dispose()
