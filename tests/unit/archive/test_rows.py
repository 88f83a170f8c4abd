"""Entries to archive rows: every kind to its table, the header exact, legs numbered, odd kinds kept."""

from __future__ import annotations

import datetime as dt

import msgspec
import pytest
from sqlalchemy import Table

from nexus_archive import schema
from nexus_archive.rows import rows
from nexus_protocol.codec import Envelope, encode
from nexus_protocol.messages import (
    Cancel,
    DeadLetter,
    Event,
    Execution,
    Fill,
    Leg,
    OrderStatus,
    Route,
    RouteLeg,
    Signal,
    VenueOrder,
)
from nexus_testing.archive import dead_letter_sample, event_sample, signal_life

NOW = dt.datetime(2026, 12, 1, 21, 0, tzinfo=dt.UTC)
MS = 1_795_000_000_000


def test_each_kind_goes_to_its_table_with_the_header_of_its_entry() -> None:
    life = signal_life("01SIG", MS)
    tables = [rows("nx", s.stream, s.entry_id, s.env, NOW).table.name for s in life]
    assert tables == ["signals", "orders", "orders", "routes", "fills", "fills", "fills", "executions"]
    s = life[2]
    r = rows("nx", s.stream, s.entry_id, s.env, NOW).row
    assert (r["namespace"], r["stream"], r["id"], r["type"], r["v"]) == (
        "nx",
        "orders:nt8",
        "01SIG.nt0",
        "venue_order",
        1,
    )
    assert r["entry_time"] == dt.datetime.fromtimestamp(MS / 1000, dt.UTC) + dt.timedelta(milliseconds=2)
    assert r["entry_seq"] == 2
    assert r["origin_time"] == dt.datetime.fromtimestamp(MS / 1000, dt.UTC)
    assert r["ts_ns"] == MS * 1_000_000
    assert r["data"] == encode(s.env)["data"]
    assert (r["venue_symbol"], r["point_value"], r["venue_reference_price"]) == ("NQ 12-26", 20.0, 21000.5)


def test_a_routed_order_has_no_venue_fields() -> None:
    s = signal_life("01SIG", MS)[1]
    r = rows("nx", s.stream, s.entry_id, s.env, NOW).row
    assert r["venue_symbol"] is None and r["venue_quantity"] is None and r["client_order_id"] == "01SIG.nt0"


def test_routes_and_executions_get_one_row_per_leg() -> None:
    life = signal_life("01SIG", MS, pnl=125.5)
    route = rows("nx", life[3].stream, life[3].entry_id, life[3].env, NOW)
    ex = rows("nx", life[-1].stream, life[-1].entry_id, life[-1].env, NOW)
    assert route.row["legs"] == 1 and route.legs[0]["status"] == "pending" and route.legs[0]["leg"] == 0
    assert ex.row["realized_pnl_usd"] == 125.5 and ex.row["final"] is True
    assert ex.legs[0]["slippage_usd"] == 5.0 and ex.legs[0]["signal_id"] == "01SIG"
    assert ex.legs[0]["id"] == ex.row["id"] == "01SIG:01SIG.nt0:f1"


def test_event_details_are_json_safe_and_dead_letters_keep_their_origin() -> None:
    ev = event_sample(MS, 3)
    r = rows("nx", ev.stream, ev.entry_id, ev.env, NOW).row
    assert r["details"] == {"attempt": 3, "raw": "0102"}
    dl = dead_letter_sample(MS)
    r = rows("nx", dl.stream, dl.entry_id, dl.env, NOW)
    assert r.table is schema.dead_letters
    assert (r.row["source_stream"], r.row["group_name"]) == ("nx:{signals}", "router")


def test_a_kind_without_a_table_is_kept_whole_in_messages() -> None:
    env = Envelope.new(Cancel(client_order_id="X.nt0", venue="nt8", reason="kill switch"), id="cx1")
    r = rows("nx", "orders:nt8", f"{MS}-0", env, NOW)
    assert r.table is schema.messages
    assert r.row["type"] == "cancel" and r.row["problem"] is None


# A field of a message kept only in `data`, on purpose: the name of its column when it has one.
KEPT_AS = {
    (Fill, "venue_ts_ns"): "venue_time",
    (DeadLetter, "group"): "group_name",
    (DeadLetter, "stream"): "source_stream",
    (DeadLetter, "entry_id"): "source_entry_id",
    (DeadLetter, "fields"): None,  # the entry's fields: only in `data`
    (Event, "data"): "details",
    (Route, "legs"): "legs",
    (Execution, "legs"): "legs",
}
TABLES: tuple[tuple[type[msgspec.Struct], Table], ...] = (
    (Signal, schema.signals),
    (VenueOrder, schema.orders),
    (Fill, schema.fills),
    (Route, schema.routes),
    (RouteLeg, schema.route_legs),
    (Execution, schema.executions),
    (Leg, schema.execution_legs),
    (Event, schema.events),
    (DeadLetter, schema.dead_letters),
)


@pytest.mark.parametrize(("kind", "table"), TABLES, ids=[k.__name__ for k, _ in TABLES])
def test_every_field_of_an_archived_kind_has_its_typed_column(
    kind: type[msgspec.Struct], table: Table
) -> None:
    columns = {c.name for c in table.columns}
    wanted = {f: KEPT_AS.get((kind, f), f) for f in kind.__struct_fields__}
    missing = [f for f, column in wanted.items() if column is not None and column not in columns]
    assert missing == [], f"{kind.__name__}: no column for {missing} (add it with an alembic revision)"


def test_stop_loss_noise_sized_legs_and_dead_letters_by_reference_have_their_values() -> None:
    life = signal_life("01SIG", MS)
    sig = msgspec.structs.replace(life[0].env.body, stop_loss=12.5, noise=0.25, reduce_only=True)
    r = rows("nx", "signals", life[0].entry_id, Envelope.new(sig, id="01SIG"), NOW).row
    assert (r["stop_loss"], r["noise"], r["reduce_only"]) == (12.5, 0.25, True)
    route = life[3].env.body
    assert isinstance(route, Route)
    legs = (
        msgspec.structs.replace(route.legs[0], quantity=9.0, rounding_residual=0.4, symbol="MNQ", ratio=10.0),
        RouteLeg(venue="mt5", client_order_id="01SIG.mt0", status=OrderStatus.REJECTED, reason="no symbol"),
    )
    env = Envelope.new(msgspec.structs.replace(route, legs=legs), id="route:01SIG")
    got = [
        (leg["quantity"], leg["rounding_residual"], leg["symbol"], leg["ratio"])
        for leg in rows("nx", "fills", life[3].entry_id, env, NOW).legs
    ]
    assert got == [(9.0, 0.4, "MNQ", 10.0), (None, 0.0, None, 1.0)]
    dl = dead_letter_sample(MS)
    ref = msgspec.structs.replace(dl.env.body, size=2_000_000, sha256="ab" * 32, fields={})
    r = rows("nx", "dlq", dl.entry_id, Envelope.new(ref, id="dl1"), NOW).row
    assert (r["size"], r["sha256"]) == (2_000_000, "ab" * 32)
    assert rows("nx", "dlq", dl.entry_id, dl.env, NOW).row["sha256"] is None
