"""The numbers behind export, report, dashboard and positions, on a record written with known entry
times: latency per stage, slippage per venue, fill rate, the session day, P&L in USD."""

from __future__ import annotations

import datetime as dt
import re
import time
import xml.dom.minidom
from decimal import Decimal as D
from pathlib import Path

import msgpack
import msgspec
import pyarrow.parquet as pq
import pytest
import redis

from nexus_ops import export, positions, records, report, svg
from nexus_ops.tally import Tally, session_start
from nexus_protocol import Envelope, Names
from nexus_protocol.codec import encode, pack
from nexus_protocol.enums import OrderStatus, Side
from nexus_protocol.messages import (
    Execution,
    Fill,
    Heartbeat,
    Leg,
    Order,
    Route,
    RouteLeg,
    Signal,
    Tick,
    VenueOrder,
)

T = 1_800_000_000_000  # ms: the first signal's origin time
S1, S2 = "01KA0000000000000000000001", "01KA0000000000000000000002"
CONFIG = Path(__file__).resolve().parents[3] / "deploy" / "config"


def put(client: redis.Redis, key: str, at_ms: int, body: object, *, id: str, trace: str, ts_ms: int) -> None:
    client.xadd(key, encode(Envelope(id=id, trace=trace, ts=ts_ms * 1_000_000, body=body)), id=f"{at_ms}-0")  # type: ignore[arg-type]


def write_day(client: redis.Redis, n: Names) -> None:
    """S1: NQ buy filled at nt8 0.5 points worse than its quote; S2: ES refused by the kill switch."""
    put(
        client,
        n.signals,
        T + 5,
        Signal(signal_id=S1, symbol="NQ", side=Side.BUY, quantity=1, reference_price=21000.0),
        id=S1,
        trace=S1,
        ts_ms=T,
    )
    put(
        client,
        n.fills,
        T + 8,
        Route(
            signal_id=S1,
            symbol="NQ",
            side=Side.BUY,
            quantity=1,
            reference_price=21000.0,
            legs=(RouteLeg(venue="nt8", client_order_id=f"{S1}.n80", status=OrderStatus.PENDING),),
        ),
        id=f"route:{S1}",
        trace=S1,
        ts_ms=T,
    )
    order = Order(
        client_order_id=f"{S1}.n80", signal_id=S1, venue="nt8", symbol="NQ", side=Side.BUY, quantity=1
    )
    put(client, n.orders_routed, T + 9, order, id=order.client_order_id, trace=S1, ts_ms=T)
    vo = VenueOrder(
        **msgspec.structs.asdict(order),
        venue_symbol="NQ 03-25",
        venue_quantity=1,
        venue_reference_price=21000.0,
    )
    put(client, n.orders("nt8"), T + 12, vo, id=order.client_order_id, trace=S1, ts_ms=T)
    fill = Fill(
        fill_id="F1",
        client_order_id=order.client_order_id,
        signal_id=S1,
        venue="nt8",
        status=OrderStatus.FILLED,
        venue_symbol="NQ 03-25",
        side=Side.BUY,
        last_qty=1,
        last_price=21000.5,
        cum_qty=1,
        avg_price=21000.5,
        symbol="NQ",
        venue_reference_price=21000.0,
        usd_rate=1.0,
    )
    put(client, n.fills_raw, T + 21, fill, id="F1", trace=S1, ts_ms=T + 20)
    put(client, n.fills_normalized, T + 23, fill, id="F1", trace=S1, ts_ms=T + 20)
    put(client, n.fills, T + 24, fill, id="F1", trace=S1, ts_ms=T + 20)
    leg = Leg(
        venue="nt8",
        client_order_id=order.client_order_id,
        status=OrderStatus.FILLED,
        venue_symbol="NQ 03-25",
        quantity=1,
        filled_quantity=1,
        venue_filled_qty=1,
        avg_price=21000.5,
        slippage_points=0.5,
        slippage_usd=10.0,
    )
    ex = Execution(
        signal_id=S1,
        symbol="NQ",
        side=Side.BUY,
        quantity=1,
        status=OrderStatus.FILLED,
        final=True,
        filled_quantity=1,
        avg_price=21000.5,
        reference_price=21000.0,
        realized_pnl_usd=-12.5,
        legs=(leg,),
    )
    put(client, n.executions, T + 26, ex, id=f"{S1}:F1", trace=S1, ts_ms=T + 20)
    put(
        client,
        n.signals,
        T + 1_005,
        Signal(signal_id=S2, symbol="ES", side=Side.SELL, quantity=2),
        id=S2,
        trace=S2,
        ts_ms=T + 1_000,
    )
    refused = Leg(
        venue="nt8",
        client_order_id=f"{S2}.n80",
        status=OrderStatus.REJECTED,
        quantity=2,
        reason="kill switch is on",
    )
    ex2 = Execution(
        signal_id=S2,
        symbol="ES",
        side=Side.SELL,
        quantity=2,
        status=OrderStatus.REJECTED,
        final=True,
        legs=(refused,),
        reason="kill switch is on: drill",
    )
    put(client, n.executions, T + 1_009, ex2, id=f"{S2}:route", trace=S2, ts_ms=T + 1_000)


@pytest.fixture
def day(client: redis.Redis, names: Names) -> records.WindowRecord:
    write_day(client, names)
    history = records.StreamHistory(client, names)
    return records.load(history, records.Window(T, T + 2_000), venues=["nt8", "sierra"])


def test_latency_per_stage_from_origin_times_and_entry_ids(
    client: redis.Redis, names: Names, day: records.WindowRecord
) -> None:
    got = {
        s.name: (s.since_origin_ms, s.hop_ms)
        for s in report.stage_latencies(records.StreamHistory(client, names), day)
    }
    assert got["signal on the bus"] == ([5.0, 5.0], [])
    assert got["routed (router)"] == ([9.0], [4.0])
    assert got["venue order (normalizer)"] == ([12.0], [3.0])
    assert got["venue report (adapter)"] == ([1.0], [])
    assert got["normalized (normalizer)"] == ([3.0], [2.0])
    assert got["in USD (fx)"] == ([4.0], [1.0])  # the route on nx:fills is not a fill
    assert got["execution (fills)"] == ([6.0], [2.0])  # S2's execution came from its route
    assert got["end to end: final execution - signal origin"] == ([26.0, 9.0], [])


def test_export_tables_and_files(day: records.WindowRecord, tmp_path: Path) -> None:
    tables = export.tables(day)
    ex = {r["signal_id"]: r for r in tables["executions"]}
    assert ex[S1]["slippage_points"] == 0.5 and ex[S1]["latency_ms"] == 26.0 and ex[S1]["status"] == "filled"
    assert ex[S2]["status"] == "rejected" and ex[S2]["slippage_points"] is None
    legs = {r["signal_id"]: r for r in tables["legs"]}
    assert legs[S1]["venue_quote"] == 21000.0 and legs[S1]["reached_venue"] is True
    assert legs[S2]["reached_venue"] is False
    (nt8,) = tables["slippage"]
    assert nt8 == {
        "venue": "nt8",
        "legs": 1,
        "filled": 1,
        "refused_before_venue": 1,
        "fill_rate": 1.0,
        "mean_slippage_points": 0.5,
        "median_slippage_points": 0.5,
        "p95_slippage_points": 0.5,
        "mean_vs_signal_ref_points": 0.5,
        "total_slippage_usd": 10.0,
        "mean_slippage_usd": 10.0,
    }
    assert [r["stage"] for r in tables["orders"]] == ["routed", "venue"] and len(tables["fills"]) == 1
    files = export.export(day, tmp_path)
    assert pq.read_table(files["legs"][1]).num_rows == 2
    assert (tmp_path / "executions.csv").read_text().count("\n") == 3


def test_report_is_self_contained_html(client: redis.Redis, names: Names, day: records.WindowRecord) -> None:
    html = report.build(records.StreamHistory(client, names), day)
    assert "<script" not in html and "http" not in html.replace("http://www.w3.org/2000/svg", "")
    assert re.search(r"<td>fill rate</td><td>100.0%</td>", html) and "kill switch is on" in html
    for chart in re.findall(r"<svg.*?</svg>", html, re.S):
        xml.dom.minidom.parseString(chart)


def test_svg_charts_handle_negative_and_empty_data() -> None:
    bars = svg.bar_chart([("NQ", 120.0), ("ES", -80.5)], "P&L", "USD")
    assert 'fill="#d9534f"' in bars and "-80.5" in bars
    line = svg.line_chart([(T, 0.0), (T + 60_000, -30.0), (T + 120_000, 45.0)], "cumulative", "USD")
    assert line.count("<circle") == 3
    for chart in (bars, line, svg.histogram([1.0, 2.0, 2.5, 9.0], "h", "ms"), svg.empty("nothing")):
        xml.dom.minidom.parseString(chart)


def test_dashboard_tally_reads_the_day_incrementally(client: redis.Redis, names: Names) -> None:
    tally, history = Tally(names, T), records.StreamHistory(client, names)
    tally.update(history)
    assert tally.latencies == []  # nothing yet
    write_day(client, names)
    tally.update(history)
    assert tally.latencies == [26.0, 9.0] and tally.fill_rate() == 1.0 and tally.active_orders() == 0
    t = tally.trading().total
    assert (t.trades, t.losing, t.realized_pnl, tally.rejected(), len(tally.origins)) == (
        1,
        1,
        D("-12.5"),
        1,
        2,
    )
    tally.update(history)  # nothing new: the same figures
    assert len(tally.latencies) == 2


def test_the_session_day_starts_at_the_routers_reset_time() -> None:
    before = session_start(CONFIG, "dev", dt.datetime(2025, 3, 3, 21, 30, tzinfo=dt.UTC))  # 16:30 New York
    after = session_start(CONFIG, "dev", dt.datetime(2025, 3, 3, 22, 30, tzinfo=dt.UTC))  # 17:30
    assert before == dt.datetime(2025, 3, 2, 22, 0, tzinfo=dt.UTC)
    assert after == dt.datetime(2025, 3, 3, 22, 0, tzinfo=dt.UTC)


def test_positions_valued_at_the_venues_price_and_converted_to_usd(client: redis.Redis, names: Names) -> None:
    def pos(**kw: object) -> bytes:
        return msgpack.packb(kw)  # type: ignore[no-any-return]

    client.hset(
        names.state("fills", "positions"),
        mapping={
            "WIN|mt5-brazil|WINJ25": pos(
                symbol="WIN",
                venue="mt5-brazil",
                venue_symbol="WINJ25",
                contract="WINJ25",
                quantity="2",
                avg_price="130000",
                realized="0",
                realized_usd="0",
                point_value=0.2,
                qty_factor=1.0,
                currency="BRL",
            ),
            "NQ|nt8|NQM25": pos(
                symbol="NQ",
                venue="nt8",
                venue_symbol="NQ 06-25",
                contract="NQM25",
                quantity="-1",
                avg_price="21000",
                realized="0",
                realized_usd="55.5",
                point_value=20.0,
                qty_factor=1.0,
                currency="USD",
            ),
            "ES|nt8|ESM25": pos(symbol="ES", venue="nt8", quantity="0", avg_price="0", realized_usd="7"),
        },
    )
    client.xadd(
        names.md("WIN"), encode(Envelope.new(Tick(venue="mt5-brazil", symbol="WIN", last=130100.0), id="t1"))
    )  # type: ignore[arg-type]
    client.hset(names.state("md", "last"), "NQ", 21010.0)
    hb = Heartbeat(service="fx", instance="fx-1", started_ns=time.time_ns(), detail={"usdbrl": "5.0"})
    client.set(names.health("fx", "fx-1"), pack(hb), px=10_000)
    rows = {r.symbol: r for r in positions.collect(client, names, CONFIG)}
    assert set(rows) == {"WIN", "NQ"}  # flat ES left out
    win, nq = rows["WIN"], rows["NQ"]
    assert (win.last_price, win.price_source, win.unrealized, win.unrealized_usd) == (
        130100.0,
        "venue",
        40.0,
        8.0,
    )
    assert (nq.last_price, nq.price_source, nq.unrealized_usd, nq.realized_usd) == (
        21010.0,
        "root",
        -200.0,
        55.5,
    )
    assert {r.symbol for r in positions.collect(client, names, CONFIG, include_flat=True)} == {
        "WIN",
        "NQ",
        "ES",
    }


def test_time_windows_and_percentiles() -> None:
    now = dt.datetime(2025, 3, 3, 12, 0, tzinfo=dt.UTC)
    assert records.parse_time("-2h", now=now) == dt.datetime(2025, 3, 3, 10, 0, tzinfo=dt.UTC)
    assert records.parse_time("2025-03-01", now=now, end=True) == dt.datetime(2025, 3, 2, tzinfo=dt.UTC)
    assert records.parse_time("2025-03-01T14:30", now=now) == dt.datetime(2025, 3, 1, 14, 30, tzinfo=dt.UTC)
    with pytest.raises(ValueError, match="not a time"):
        records.parse_time("yesterday-ish", now=now)
    with pytest.raises(ValueError, match="is not after"):
        records.Window.parse("-1h", "-2h")
    assert records.percentile([float(i) for i in range(1, 101)], 99) == 99.0
    assert records.percentile([5.0], 99) == 5.0 and records.percentile([], 50) is None
