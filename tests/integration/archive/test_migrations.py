"""alembic's head builds exactly `nexus_archive.schema`, on both databases; readers refuse an archive
that is behind."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import msgspec
import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Engine, insert, inspect, select

from nexus_archive import schema
from nexus_archive.engine import open_engine
from nexus_archive.migrate import ArchiveError, current, downgrade, head, require_head, upgrade
from nexus_archive.schema import metadata
from nexus_archive.store import ArchiveStore
from nexus_protocol.codec import Envelope
from nexus_protocol.enums import OrderStatus
from nexus_protocol.messages import Message, Route, RouteLeg
from nexus_testing.archive import Sample, dead_letter_sample, signal_life

from .conftest import to_rows

MS = 1_795_000_000_000


def test_head_builds_the_schema_module_and_upgrading_again_changes_nothing(archive_url: str) -> None:
    engine = open_engine(archive_url)
    with pytest.raises(ArchiveError, match="has no schema yet"):
        require_head(engine)
    upgrade(engine)
    upgrade(engine)
    assert current(engine) == head()
    require_head(engine)
    with engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn, opts={"compare_type": True}), metadata)
    assert diff == []
    engine.dispose()


def _sized(ms: int) -> list[Sample]:
    """One signal life whose signal has a stop loss and whose route has a sized, mapped leg and a
    refused one, and a dead letter by reference: the fields revision 0002 gave columns."""
    life = signal_life("01S", ms)
    sig, route = life[0].env.body, life[3].env.body
    assert isinstance(route, Route)
    leg = msgspec.structs.replace(
        route.legs[0], quantity=9.0, rounding_residual=0.4, symbol="MNQ", ratio=10.0
    )
    refused = RouteLeg(venue="mt5", client_order_id="01S.mt0", status=OrderStatus.REJECTED, reason="closed")
    dl = dead_letter_sample(ms + 50)
    ref = msgspec.structs.replace(dl.env.body, size=2_000_000, sha256="ab" * 32, fields={})
    return [
        _with(life[0], msgspec.structs.replace(sig, stop_loss=12.5, noise=0.25)),
        _with(life[3], msgspec.structs.replace(route, legs=(leg, refused))),
        _with(dl, ref),
        *signal_life("01T", ms + 100),
        dead_letter_sample(ms + 150),
    ]


def _with(s: Sample, body: Message) -> Sample:
    return Sample(s.stream, s.entry_id, Envelope(id=s.env.id, trace=s.env.trace, ts=s.env.ts, body=body))


def _new_fields(engine: Engine) -> tuple[list[tuple[Any, ...]], list[tuple[Any, ...]], list[tuple[Any, ...]]]:
    s, legs, d = schema.signals, schema.route_legs, schema.dead_letters
    with engine.connect() as conn:
        return (
            [
                tuple(r)
                for r in conn.execute(select(s.c.signal_id, s.c.stop_loss, s.c.noise).order_by(s.c.signal_id))
            ],
            [
                (r.signal_id, r.leg, r.quantity, r.rounding_residual, r.symbol, r.ratio)
                for r in conn.execute(select(legs).order_by(legs.c.signal_id, legs.c.leg))
            ],
            [
                tuple(r)
                for r in conn.execute(select(d.c.source_entry_id, d.c.size, d.c.sha256).order_by(d.c.id))
            ],
        )


def test_revision_0002_fills_the_new_columns_of_rows_recorded_before_it(archive_url: str) -> None:
    engine = open_engine(archive_url)
    upgrade(engine, "0001")
    samples = _sized(MS)
    with engine.begin() as conn:
        for r in to_rows(samples):  # written as a recorder of revision 0001 wrote them
            for table, values in ((r.table, [r.row]), (schema.LEG_TABLES.get(r.table.name), r.legs)):
                if table is not None and values:
                    have = {c["name"] for c in inspect(conn).get_columns(table.name)}
                    conn.execute(
                        insert(table), [{k: v for k, v in row.items() if k in have} for row in values]
                    )
    upgrade(engine)
    backfilled = _new_fields(engine)
    d = Decimal
    assert backfilled == (
        [("01S", d("12.5"), 0.25), ("01T", None, None)],
        [
            ("01S", 0, d("9.0"), d("0.4"), "MNQ", d("10.0")),
            ("01S", 1, None, d("0"), None, d("1")),
            ("01T", 0, None, d("0"), None, d("1")),
        ],
        [(f"{MS + 50}-0", 2_000_000, "ab" * 32), (f"{MS + 150}-0", 0, None)],
    )
    with engine.begin() as conn:  # what the recorder of this revision writes is the same
        for t in reversed(schema.metadata.sorted_tables):
            conn.execute(t.delete())
    ArchiveStore(engine).write_all(to_rows(samples))
    assert _new_fields(engine) == backfilled
    downgrade(engine, "0001")
    assert current(engine) == "0001"
    engine.dispose()
