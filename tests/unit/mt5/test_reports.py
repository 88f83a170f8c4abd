"""Deals and orders as reports, positions, the marker (pure)."""

from __future__ import annotations

from typing import Any

from nexus_mt5.reports import DealRec, Marker, OrderRec, net_positions, order_reports, trade_deals
from nexus_protocol.enums import OrderStatus

COID = "01JDX3K7Q8ZP4V5W6X7Y8Z9A0B.mb0"


def order(state: int = 1, volume: float = 8.0, current: float | None = None) -> OrderRec:
    return OrderRec.of(
        {
            "ticket": 100,
            "symbol": "WINZ25",
            "state": state,
            "magic": 7,
            "volume_initial": volume,
            "volume_current": volume if current is None else current,
            "comment": COID,
            "time_setup_msc": 1_000,
            "time_done_msc": 2_000,
        }
    )


def deal(ticket: int, volume: float, price: float, **kw: Any) -> DealRec:
    return DealRec.of(
        {
            "ticket": ticket,
            "order": 100,
            "type": 1,
            "magic": 7,
            "volume": volume,
            "price": price,
            "commission": -0.5,
            "time_msc": 1_500 + ticket,
            "symbol": "WINZ25",
            **kw,
        }
    )


def test_one_report_per_deal_with_running_totals_and_costs_as_positive_fees() -> None:
    deals = [deal(3, 2, 125_000.0), deal(4, 6, 125_010.0, swap=-1.25, fee=-0.1)]
    reports = order_reports(COID, order(state=4, current=0), deals, server_utc_offset_s=3600)
    assert [r.status for r in reports] == [OrderStatus.PARTIALLY_FILLED, OrderStatus.FILLED]
    assert [(r.exec_id, r.cum_qty, r.leaves_qty, r.fee) for r in reports] == [
        ("3", 2.0, 6.0, 0.5),
        ("4", 8.0, 0.0, 1.85),
    ]
    assert reports[1].avg_price == 125_007.5
    assert reports[0].ts_ns == (1_503 - 3_600_000) * 1_000_000  # server time -> UTC
    assert {r.venue_order_id for r in reports} == {"100"}


def test_working_order_without_deals_is_accepted_and_a_cancelled_one_ends_after_its_fills() -> None:
    [acc] = order_reports(COID, order(state=1), [])
    assert (acc.status, acc.leaves_qty, acc.is_fill) == (OrderStatus.ACCEPTED, 8.0, False)
    reports = order_reports(COID, order(state=2, current=6), [deal(3, 2, 125_000.0)])
    assert [r.status for r in reports] == [OrderStatus.PARTIALLY_FILLED, OrderStatus.CANCELLED]
    assert (reports[-1].cum_qty, reports[-1].leaves_qty) == (2.0, 0.0)
    [expired] = order_reports(COID, order(state=6), [])
    assert expired.status is OrderStatus.EXPIRED


def test_fills_without_their_order_never_claim_filled() -> None:
    reports = order_reports(COID, None, [deal(3, 8, 125_000.0)])
    assert [r.status for r in reports] == [OrderStatus.PARTIALLY_FILLED]
    assert (
        order_reports(COID, order(volume=0.0, state=0), [deal(3, 8, 1.0)])[0].status
        is OrderStatus.PARTIALLY_FILLED
    )


def test_only_trade_deals_are_fills() -> None:
    records = [
        {"ticket": 1, "order": 0, "type": 2, "volume": 0.0, "profit": 50_000.0},  # the deposit
        {"ticket": 5, "order": 101, "type": 0, "volume": 1.0, "price": 1.0},
        {"ticket": 4, "order": 100, "type": 1, "volume": 1.0, "price": 1.0},
        {"ticket": 6, "order": 0, "type": 7, "volume": 0.0, "commission": -3.0},  # a commission booking
    ]
    assert [d.ticket for d in trade_deals(records)] == [4, 5]


def test_positions_are_signed_and_hedging_tickets_summed() -> None:
    hedging = [
        {"symbol": "NAS100", "type": 0, "volume": 2.0},
        {"symbol": "NAS100", "type": 1, "volume": 0.5},
        {"symbol": "XAUUSD", "type": 1, "volume": 0.1},
        {"symbol": "US30", "type": 0, "volume": 0.3},
        {"symbol": "US30", "type": 1, "volume": 0.3},
    ]
    assert net_positions(hedging) == {"NAS100": 1.5, "XAUUSD": -0.1}
    assert net_positions([{"symbol": "WINZ25", "type": 1, "volume": 3.0}]) == {"WINZ25": -3.0}
    assert net_positions(None) == {}


def test_marker_round_trip_and_only_moves_forward() -> None:
    marker = Marker.parse("200000007:1700000000123")
    assert marker == Marker(200_000_007, 1_700_000_000_123)
    assert str(marker) == "200000007:1700000000123"
    assert Marker.parse(None) is None and Marker.parse("garbage") is None
    later = marker.after(deal(200_000_009, 1, 1.0, time_msc=1_700_000_000_999))
    assert later == Marker(200_000_009, 1_700_000_000_999)
    assert later.after(deal(200_000_008, 1, 1.0)) is later


def test_a_marker_from_our_clock_gives_way_to_the_first_deals_server_time() -> None:
    ours = Marker(0, 1_700_000_000_000 + 3 * 3_600_000)  # we thought the server ran 3 h ahead
    assert ours.after(deal(200_000_001, 1, 1.0, time_msc=1_700_000_000_000)) == Marker(
        200_000_001, 1_700_000_000_000
    )
