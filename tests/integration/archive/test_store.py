"""The store on both databases: a batch in one transaction, idempotent by (namespace, stream, id),
read back as the very messages the streams held; a refused row kept whole; an outage is transient."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from sqlalchemy import Engine, func, select

from nexus_archive import schema
from nexus_archive.engine import open_engine
from nexus_archive.read import ArchiveReader
from nexus_archive.store import ArchiveStore, Transient
from nexus_protocol.codec import Envelope
from nexus_protocol.enums import Side
from nexus_protocol.messages import Signal
from nexus_testing.archive import Sample, dead_letter_sample, event_sample, signal_life

from .conftest import to_rows

MS = 1_795_000_000_000


def counts(engine: Engine) -> dict[str, int]:
    with engine.connect() as conn:
        return {
            t.name: conn.execute(select(func.count()).select_from(t)).scalar_one()
            for t in schema.metadata.sorted_tables
        }


def test_a_batch_written_twice_is_archived_once(engine: Engine) -> None:
    samples = signal_life("01A", MS) + signal_life("01B", MS + 100, pnl=-20) + [event_sample(MS + 200)]
    store = ArchiveStore(engine)
    store.write_all(to_rows(samples))
    first = counts(engine)
    store.write_all(to_rows(samples))  # a redelivery after a crash between commit and acknowledgement
    store.write_all(to_rows(samples[3:9]))  # or part of it in another batch
    assert counts(engine) == first
    assert (first["signals"], first["orders"], first["fills"], first["executions"]) == (2, 4, 6, 2)
    assert (first["routes"], first["route_legs"], first["execution_legs"], first["events"]) == (2, 2, 2, 1)


def test_entries_read_back_are_the_messages_the_streams_held(engine: Engine) -> None:
    samples = [*signal_life("01A", MS, pnl=125.5), dead_letter_sample(MS + 50)]
    ArchiveStore(engine).write_all(to_rows(samples))
    reader = ArchiveReader(engine, "nx")
    for s in samples:
        got = list(reader.entries(s.stream, MS, MS + 1000))
        match = [g for g in got if g.env.id == s.env.id]
        assert len(match) == 1, s
        g = match[0]
        assert (g.entry_id, g.env.trace, g.env.ts, g.env.body) == (
            s.entry_id,
            s.env.trace,
            s.env.ts,
            s.env.body,
        )
    assert reader.streams("orders:") == ["orders:nt8", "orders:routed"]
    assert reader.count("fills", MS, MS + 1000) == 2  # the route and the fill in USD
    assert list(reader.entries("signals", MS + 1, MS + 1000)) == []  # the window is by entry time


def test_amounts_are_exact_decimals_and_times_aware_utc(engine: Engine) -> None:
    ArchiveStore(engine).write_all(to_rows(signal_life("01A", MS, pnl=0.1)))
    with engine.connect() as conn:
        row = conn.execute(select(schema.executions)).one()
        leg = conn.execute(select(schema.execution_legs)).one()
    assert row.realized_pnl_usd == Decimal("0.1") and row.avg_price == Decimal("21000.5")
    assert leg.fees_usd == Decimal("2.1")
    assert row.entry_time == dt.datetime.fromtimestamp((MS + 7) / 1000, dt.UTC)
    assert row.entry_time.tzinfo is not None and row.origin_time.utcoffset() == dt.timedelta(0)


def test_entries_come_back_in_stream_order_within_a_millisecond(engine: Engine) -> None:
    samples = [
        Sample(
            "signals",
            f"{MS}-{seq}",
            Envelope.new(
                Signal(signal_id=f"S{seq:02d}", symbol="NQ", side=Side.BUY, quantity=1), id=f"S{seq:02d}"
            ),
        )
        for seq in (11, 2, 10, 9, 0)
    ]
    ArchiveStore(engine).write_all(to_rows(samples))
    got = [a.entry_id for a in ArchiveReader(engine, "nx").entries("signals", MS, MS + 1)]
    assert got == [f"{MS}-{s}" for s in (0, 2, 9, 10, 11)]


def test_namespaces_are_apart(engine: Engine) -> None:
    store = ArchiveStore(engine)
    store.write_all(to_rows(signal_life("01A", MS), "nx"))
    store.write_all(to_rows(signal_life("01A", MS), "sbx1"))
    assert len(list(ArchiveReader(engine, "sbx1").entries("signals", MS, MS + 10))) == 1
    assert counts(engine)["signals"] == 2


def test_unfinished_signals_and_unexplained_dead_letters(engine: Engine) -> None:
    done = signal_life("01A", MS)
    open_ = signal_life("01B", MS + 100)[:-1]  # no execution yet
    store = ArchiveStore(engine)
    store.write_all(
        to_rows([*done, *open_, dead_letter_sample(MS + 200, 0), dead_letter_sample(MS + 201, 1)])
    )
    reader = ArchiveReader(engine, "nx")
    assert reader.unfinished_signals(MS, MS + 1000) == ["01B"]
    dls = reader.dead_letters(MS, MS + 1000)
    store.note("nx", dls[0].id, "a test sender's junk", "ops")
    store.note("nx", dls[0].id, "junk from a test sender", "ops")  # a later note replaces it
    notes = {d.id: d.note for d in reader.dead_letters(MS, MS + 1000)}
    assert notes == {dls[0].id: "junk from a test sender", dls[1].id: None}
    assert reader.last_entry_time() == dt.datetime.fromtimestamp((MS + 201) / 1000, dt.UTC)


def test_a_row_the_database_refuses_is_kept_whole_and_the_batch_goes_on(pg_database: str) -> None:
    from nexus_archive.migrate import upgrade

    engine = open_engine(pg_database)
    upgrade(engine)
    bad = Envelope.new(
        Signal(signal_id="S\x00X", symbol="NQ", side=Side.BUY, quantity=1, strategy="a\x00b"), id="S1"
    )
    samples = [*signal_life("01A", MS), Sample("signals", f"{MS + 50}-0", bad)]
    refused = ArchiveStore(engine).write_all(to_rows(samples))
    assert refused == 1
    c = counts(engine)
    assert (c["signals"], c["executions"], c["messages"]) == (1, 1, 1)
    with engine.connect() as conn:
        kept = conn.execute(select(schema.messages)).one()
    assert kept.type == "signal" and kept.id == "S1"
    assert "NUL" in (kept.problem or "")
    engine.dispose()


def test_an_unreachable_database_is_a_transient_failure(tmp_path: object) -> None:
    engine = open_engine("postgresql+psycopg://nobody@127.0.0.1:1/none?connect_timeout=2")
    with pytest.raises(Transient):
        ArchiveStore(engine).write_all(to_rows(signal_life("01A", MS)))
