"""The recorder as a process on a real Redis, into SQLite and PostgreSQL: every entry of every recorded
stream archived once and acknowledged; odd entries kept (an undecodable one in `messages`, with why, and
not dead-lettered a second time); a database outage delays, never loses; a bad
archive URL stops it at start naming the setting."""

from __future__ import annotations

import msgspec
import redis
from sqlalchemy import create_engine, select, text
from sqlalchemy.engine import make_url

from nexus_archive import schema
from nexus_archive.engine import open_engine
from nexus_archive.read import ArchiveReader
from nexus_archive.recorded import GROUP, recorded_streams
from nexus_protocol import Envelope, Names
from nexus_protocol.messages import Cancel
from nexus_testing import Services, wait_for, xadd
from nexus_testing.archive import Sample, archived_rows, dead_letter_sample, event_sample, signal_life

MS = 1_795_000_000_000
DEV_VENUES = ("mt5-brazil", "mt5-global", "nt8", "quantower", "sierra")


def publish(client: redis.Redis, names: Names, samples: list[Sample]) -> dict[str, list[str]]:
    """XADD each sample to its stream; returns the message ids per logical stream."""
    ids: dict[str, list[str]] = {}
    for s in samples:
        xadd(client, names.stream(s.stream), s.env)
        ids.setdefault(s.stream, []).append(s.env.id)
    return ids


def day(n: int) -> list[Sample]:
    out: list[Sample] = []
    for i in range(n):
        out += signal_life(
            f"S{i:04d}", MS + i * 10, pnl=float(i % 5 - 2), venue=DEV_VENUES[i % len(DEV_VENUES)]
        )
    out += [event_sample(MS, 1), dead_letter_sample(MS, 1)]
    cancel = Envelope.new(Cancel(client_order_id="S0000.mt0", venue="nt8", reason="kill switch"), id="cx-1")
    return [*out, Sample("orders:nt8", "", cancel)]


def archived_ids(url: str, namespace: str) -> dict[str, list[str]]:
    engine = open_engine(url)
    reader = ArchiveReader(engine, namespace)
    got = {s: [a.env.id for a in reader.entries(s, 0, 2**42)] for s in recorded_streams(DEV_VENUES)}
    engine.dispose()
    return {s: ids for s, ids in got.items() if ids}


def pending(client: redis.Redis, names: Names) -> int:
    total = 0
    for s in recorded_streams(DEV_VENUES):
        for g in client.xinfo_groups(names.stream(s)):
            if g["name"] in (GROUP, GROUP.encode()):
                total += int(g["pending"]) + int(g.get("lag") or 0)
    return total


def test_every_recorded_entry_is_archived_once_then_acknowledged(
    archive_url: str, client: redis.Redis, names: Names, services: Services
) -> None:
    samples = day(40)
    sent = publish(client, names, samples)
    junk = client.xadd(
        names.signals, {"type": "signal", "v": "1", "id": "junk", "trace": "junk", "ts": "x", "data": b"\x00"}
    ).decode()
    services.start("nexus_gateway.recorder", name="recorder", NX_ARCHIVE_URL=archive_url, NX_BATCH_SIZE="37")
    expected = len(samples) + 1  # and the junk entry, kept in `messages`
    wait_for(lambda: archived_rows(archive_url) == expected, timeout_s=60, what="the archive to catch up")
    wait_for(lambda: pending(client, names) == 0, timeout_s=10, what="every entry acknowledged")
    got = archived_ids(archive_url, names.namespace)
    for stream, ids in sent.items():
        assert got[stream] == ids, stream  # each once, in stream order
    # one input, one dead letter: the router owns nx:{signals}; the recorder keeps the junk, with why
    assert client.xlen(names.dlq) == 1
    engine = open_engine(archive_url)
    with engine.connect() as conn:
        kept = {r.id: r for r in conn.execute(select(schema.messages)).all()}
    engine.dispose()
    assert set(kept) == {"cx-1", junk} and kept["cx-1"].type == "cancel" and kept["cx-1"].problem is None
    raw = kept[junk]
    assert raw.type == "signal" and raw.trace == "junk" and raw.problem.startswith("invalid entry: ")
    assert msgspec.msgpack.decode(raw.data)[b"data"] == b"\x00"  # every field, as it was


def test_a_database_outage_delays_the_archive_and_loses_nothing(
    pg_database: str, client: redis.Redis, names: Names, services: Services
) -> None:
    dbname = make_url(pg_database).database
    admin = create_engine(make_url(pg_database).set(database="postgres"), isolation_level="AUTOCOMMIT")
    rec = services.start(
        "nexus_gateway.recorder", name="recorder", NX_ARCHIVE_URL=pg_database, NX_ARCHIVE_RETRY_MAX_S="0.5"
    )
    first = publish(client, names, signal_life("A1", MS))
    wait_for(
        lambda: archived_rows(pg_database) == len(first["signals"]) * 8,
        timeout_s=30,
        what="the first signal archived",
    )

    def outage(on: bool) -> None:
        with admin.connect() as conn:
            conn.execute(text(f'ALTER DATABASE "{dbname}" ALLOW_CONNECTIONS {"false" if on else "true"}'))
            if on:
                conn.execute(
                    text("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = :d"),
                    {"d": dbname},
                )

    outage(True)
    try:
        publish(client, names, signal_life("B1", MS + 100) + signal_life("C1", MS + 200))
        wait_for(lambda: "archive unavailable" in rec.log(), timeout_s=20, what="the recorder to notice")
        assert rec.alive()
        assert pending(client, names) > 0  # nothing acknowledged while the database is away
    finally:
        outage(False)
    wait_for(lambda: pending(client, names) == 0, timeout_s=30, what="the backlog archived after the outage")
    assert archived_rows(pg_database) == 24
    admin.dispose()


def test_a_bad_archive_url_stops_the_recorder_at_start(services: Services) -> None:
    proc = services.start("nexus_gateway.recorder", name="recorder", NX_ARCHIVE_URL="mysql://x@y/z")
    assert proc.proc is not None and proc.proc.wait(30) == 2
    lines = [ln for ln in proc.log().splitlines() if "NX_ARCHIVE_URL" in ln]
    assert lines and "postgresql://" in lines[0]
