"""Orders in MT5 terms, the retcode table, and deals and orders as reports, positions, the marker (pure)."""

from __future__ import annotations

from enum import IntEnum
from typing import Any

import pytest

from nexus_mt5 import constants as k
from nexus_mt5 import mapping as m
from nexus_mt5.client import DealRec, OrderRec, trade_deals
from nexus_mt5.mapping import Marker, net_positions, order_reports
from nexus_mt5.simulator import constants as real
from nexus_protocol.enums import OrderStatus, OrderType, Side, TimeInForce
from nexus_protocol.errors import VenueError
from nexus_protocol.messages import VenueOrder

COID = "01JDX3K7Q8ZP4V5W6X7Y8Z9A0B.mg0"  # 30 characters, as every leg's id


@pytest.mark.parametrize(
    ("enum", "prefix"),
    [
        (k.Action, "TRADE_ACTION_"),
        (k.OrderKind, "ORDER_TYPE_"),
        (k.Filling, "ORDER_FILLING_"),
        (k.TypeTime, "ORDER_TIME_"),
        (k.Mt5OrderState, "ORDER_STATE_"),
        (k.DealType, "DEAL_TYPE_"),
        (k.PositionType, "POSITION_TYPE_"),
        (k.MarginMode, "ACCOUNT_MARGIN_MODE_"),
        (k.ExecMode, "SYMBOL_TRADE_EXECUTION_"),
        (k.SymbolFilling, "SYMBOL_FILLING_"),
        (k.Retcode, "TRADE_RETCODE_"),
        (k.IpcError, "RES_E_"),
    ],
)
def test_constants_have_the_packages_values(enum: type[IntEnum], prefix: str) -> None:
    for member in enum:
        assert getattr(real, prefix + member.name) == member.value, member


def test_every_retcode_of_the_package_is_in_the_one_table_once() -> None:
    package = {v for n, v in vars(real).items() if n.startswith("TRADE_RETCODE_")}
    assert {int(c) for c in k.RETCODES} == package
    sets = [k.SUCCESS, k.RETRYABLE, k.UNKNOWN, k.DEFINITIVE]
    assert set().union(*sets) == set(k.Retcode)
    assert sum(len(s) for s in sets) == len(k.Retcode)  # disjoint


def test_outcomes_of_the_codes_that_matter() -> None:
    assert {k.Retcode.DONE, k.Retcode.DONE_PARTIAL, k.Retcode.PLACED} <= k.SUCCESS
    assert {k.Retcode.REQUOTE, k.Retcode.PRICE_CHANGED, k.Retcode.PRICE_OFF} <= k.RETRYABLE
    assert m.outcome(10004) is k.RetcodeOutcome.RETRY_PRICE
    for code in (10027, 10019, 10018, 10014, 10030, 10006):
        assert code in k.DEFINITIVE, code
    assert m.outcome(10012) is k.RetcodeOutcome.UNKNOWN  # timed out at the server: maybe executed
    assert m.outcome(10099) is k.RetcodeOutcome.UNKNOWN  # a code we do not know: look it up, never resend
    assert m.reason(10027, "AutoTrading disabled by client") == (
        "autotrading disabled in the terminal (Algo Trading is off) "
        "(TRADE_RETCODE_CLIENT_DISABLES_AT 10027): AutoTrading disabled by client"
    )


def test_ipc_failures_are_unknown_and_malformed_requests_definitive() -> None:
    assert m.ipc_outcome(-2) is k.RetcodeOutcome.REJECT
    for code in (-10001, -10002, -10004, -10005, -1, -12345):
        assert m.ipc_outcome(code) is k.RetcodeOutcome.UNKNOWN


CFD = m.SymbolTerms(
    name="NAS100",
    volume_min=0.01,
    volume_max=100.0,
    volume_step=0.01,
    tick_size=0.01,
    point=0.01,
    digits=2,
    filling_flags=3,
    exec_mode=1,
)
B3 = m.SymbolTerms(
    name="WINZ25",
    volume_min=1,
    volume_max=500,
    volume_step=1,
    tick_size=5.0,
    point=1.0,
    digits=0,
    filling_flags=0,
    exec_mode=3,
)


@pytest.mark.parametrize(
    ("qty", "terms", "sent"),
    [(0.07, CFD, 0.07), (0.257, CFD, 0.25), (20.0, CFD, 20.0), (3.9, B3, 3.0), (1, B3, 1)],
)
def test_volume_is_rounded_down_never_up(qty: float, terms: m.SymbolTerms, sent: float) -> None:
    assert m.round_volume(qty, terms) == sent


@pytest.mark.parametrize(("qty", "terms"), [(0.004, CFD), (0.9, B3), (100.5, CFD)])
def test_volume_outside_the_symbol_limits_is_refused(qty: float, terms: m.SymbolTerms) -> None:
    with pytest.raises(VenueError) as err:
        m.round_volume(qty, terms)
    assert err.value.code == 10014 and not err.value.retryable


def test_limit_prices_round_to_the_tick_never_worse() -> None:
    assert m.round_price(125_003.0, B3, Side.BUY) == 125_000.0
    assert m.round_price(125_003.0, B3, Side.SELL) == 125_005.0
    assert m.round_price(21_000.004, CFD, Side.BUY) == 21_000.0
    assert m.round_price(21_000.0, CFD, Side.SELL) == 21_000.0


def test_filling_from_the_symbol_flags() -> None:
    assert m.choose_filling(CFD, "auto", TimeInForce.DAY) is k.Filling.FOK
    assert m.choose_filling(CFD, "ioc", TimeInForce.DAY) is k.Filling.IOC
    assert m.choose_filling(CFD, "auto", TimeInForce.IOC) is k.Filling.IOC
    assert m.choose_filling(B3, "auto", TimeInForce.DAY) is k.Filling.RETURN
    with pytest.raises(VenueError, match="does not allow filling RETURN"):
        m.choose_filling(CFD, "return", TimeInForce.DAY)
    with pytest.raises(VenueError, match="does not allow filling FOK"):
        m.choose_filling(B3, "auto", TimeInForce.FOK)


def order(**kw: object) -> VenueOrder:
    values: dict[str, object] = {
        "client_order_id": COID,
        "signal_id": COID[:26],
        "venue": "mt5-global",
        "symbol": "NQ",
        "side": Side.BUY,
        "quantity": 1,
        "venue_symbol": "NAS100",
        "venue_quantity": 20.0,
        **kw,
    }
    return VenueOrder(**values)  # type: ignore[arg-type]


def test_market_and_limit_requests() -> None:
    market = m.build_request(
        order(), CFD, bid=21000.0, ask=21001.5, magic=77, deviation_points=20, filling=k.Filling.FOK
    )
    assert market == {
        "action": 1,
        "symbol": "NAS100",
        "volume": 20.0,
        "type": 0,
        "price": 21001.5,
        "deviation": 20,
        "magic": 77,
        "comment": COID,
        "type_time": 0,
        "type_filling": 0,
    }
    sell = m.build_request(
        order(side=Side.SELL),
        CFD,
        bid=21000.0,
        ask=21001.5,
        magic=77,
        deviation_points=20,
        filling=k.Filling.FOK,
    )
    assert (sell["type"], sell["price"]) == (1, 21000.0)
    limit = m.build_request(
        order(order_type=OrderType.LIMIT, limit_price=20_990.123, side=Side.SELL),
        CFD,
        bid=0.0,
        ask=0.0,
        magic=77,
        deviation_points=20,
        filling=k.Filling.FOK,
    )
    assert (limit["action"], limit["type"], limit["price"], limit["type_time"]) == (5, 3, 20_990.13, 1)
    gtc = m.build_request(
        order(order_type=OrderType.LIMIT, limit_price=20_990.0, time_in_force=TimeInForce.GTC),
        CFD,
        bid=0.0,
        ask=0.0,
        magic=77,
        deviation_points=20,
        filling=k.Filling.FOK,
    )
    assert (gtc["type"], gtc["type_time"]) == (2, 0)


def test_requests_the_terminal_could_not_carry_are_refused_before_sending() -> None:
    with pytest.raises(VenueError, match="comment keeps 31"):
        m.build_request(
            order(client_order_id=COID + "xy"),
            CFD,
            bid=1.0,
            ask=1.0,
            magic=1,
            deviation_points=0,
            filling=k.Filling.FOK,
        )
    with pytest.raises(VenueError, match="stop orders are not supported"):
        m.build_request(
            order(order_type=OrderType.STOP, stop_price=1.0),
            CFD,
            bid=1.0,
            ask=1.0,
            magic=1,
            deviation_points=0,
            filling=k.Filling.FOK,
        )
    with pytest.raises(VenueError, match="no ask"):
        m.build_request(order(), CFD, bid=0.0, ask=0.0, magic=1, deviation_points=0, filling=k.Filling.FOK)
    assert len(COID) == 30 and m.check_comment(COID + "x") == COID + "x"  # 31 fits


def test_hedging_closes_our_oldest_opposite_position_that_absorbs_the_order() -> None:
    positions = [
        {"ticket": 5, "symbol": "NAS100", "type": 0, "volume": 20.0, "magic": 77, "time_msc": 3},
        {"ticket": 4, "symbol": "NAS100", "type": 0, "volume": 20.0, "magic": 77, "time_msc": 2},
        {"ticket": 3, "symbol": "NAS100", "type": 0, "volume": 50.0, "magic": 1, "time_msc": 1},  # not ours
        {"ticket": 2, "symbol": "NAS100", "type": 0, "volume": 5.0, "magic": 77, "time_msc": 0},  # too small
        {"ticket": 1, "symbol": "US30", "type": 0, "volume": 50.0, "magic": 77, "time_msc": 0},
    ]
    assert m.closable_position(positions, order(side=Side.SELL), 20.0, 77) == 4
    assert m.closable_position(positions, order(side=Side.SELL), 25.0, 77) is None  # opens instead
    assert m.closable_position(positions, order(side=Side.BUY), 1.0, 77) is None  # same side: adds


# ---- what the terminal says, as reports ----------------------------------------------------------------

REPORT_COID = "01JDX3K7Q8ZP4V5W6X7Y8Z9A0B.mb0"


def order_rec(state: int = 1, volume: float = 8.0, current: float | None = None) -> OrderRec:
    return OrderRec.of(
        {
            "ticket": 100,
            "symbol": "WINZ25",
            "state": state,
            "magic": 7,
            "volume_initial": volume,
            "volume_current": volume if current is None else current,
            "comment": REPORT_COID,
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
    reports = order_reports(REPORT_COID, order_rec(state=4, current=0), deals, server_utc_offset_s=3600)
    assert [r.status for r in reports] == [OrderStatus.PARTIALLY_FILLED, OrderStatus.FILLED]
    assert [(r.exec_id, r.cum_qty, r.leaves_qty, r.fee) for r in reports] == [
        ("3", 2.0, 6.0, 0.5),
        ("4", 8.0, 0.0, 1.85),
    ]
    assert reports[1].avg_price == 125_007.5
    assert reports[0].ts_ns == (1_503 - 3_600_000) * 1_000_000  # server time -> UTC
    assert {r.venue_order_id for r in reports} == {"100"}


def test_working_order_without_deals_is_accepted_and_a_cancelled_one_ends_after_its_fills() -> None:
    [acc] = order_reports(REPORT_COID, order_rec(state=1), [])
    assert (acc.status, acc.leaves_qty, acc.is_fill) == (OrderStatus.ACCEPTED, 8.0, False)
    reports = order_reports(REPORT_COID, order_rec(state=2, current=6), [deal(3, 2, 125_000.0)])
    assert [r.status for r in reports] == [OrderStatus.PARTIALLY_FILLED, OrderStatus.CANCELLED]
    assert (reports[-1].cum_qty, reports[-1].leaves_qty) == (2.0, 0.0)
    [expired] = order_reports(REPORT_COID, order_rec(state=6), [])
    assert expired.status is OrderStatus.EXPIRED


def test_fills_without_their_order_never_claim_filled() -> None:
    reports = order_reports(REPORT_COID, None, [deal(3, 8, 125_000.0)])
    assert [r.status for r in reports] == [OrderStatus.PARTIALLY_FILLED]
    assert (
        order_reports(REPORT_COID, order_rec(volume=0.0, state=0), [deal(3, 8, 1.0)])[0].status
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
