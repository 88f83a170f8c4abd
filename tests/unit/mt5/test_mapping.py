"""Order mapping and the retcode table (pure)."""

from __future__ import annotations

from enum import IntEnum

import pytest

from nexus_mt5 import constants as k
from nexus_mt5 import mapping as m
from nexus_mt5.simulator import constants as real
from nexus_protocol.enums import OrderType, Side, TimeInForce
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
        (k.OrderState, "ORDER_STATE_"),
        (k.DealType, "DEAL_TYPE_"),
        (k.PositionType, "POSITION_TYPE_"),
        (k.MarginMode, "ACCOUNT_MARGIN_MODE_"),
        (k.ExecMode, "SYMBOL_TRADE_EXECUTION_"),
        (k.SymbolFilling, "SYMBOL_FILLING_"),
        (m.Retcode, "TRADE_RETCODE_"),
        (m.IpcError, "RES_E_"),
    ],
)
def test_constants_have_the_packages_values(enum: type[IntEnum], prefix: str) -> None:
    for member in enum:
        assert getattr(real, prefix + member.name) == member.value, member


def test_every_retcode_of_the_package_is_in_the_one_table_once() -> None:
    package = {v for n, v in vars(real).items() if n.startswith("TRADE_RETCODE_")}
    assert {int(c) for c in m.RETCODES} == package
    sets = [m.SUCCESS, m.RETRYABLE, m.UNKNOWN, m.DEFINITIVE]
    assert set().union(*sets) == set(m.Retcode)
    assert sum(len(s) for s in sets) == len(m.Retcode)  # disjoint


def test_outcomes_of_the_codes_that_matter() -> None:
    assert {m.Retcode.DONE, m.Retcode.DONE_PARTIAL, m.Retcode.PLACED} <= m.SUCCESS
    assert {m.Retcode.REQUOTE, m.Retcode.PRICE_CHANGED, m.Retcode.PRICE_OFF} <= m.RETRYABLE
    assert m.outcome(10004) is m.Outcome.RETRY_PRICE
    for code in (10027, 10019, 10018, 10014, 10030, 10006):
        assert code in m.DEFINITIVE, code
    assert m.outcome(10012) is m.Outcome.UNKNOWN  # timed out at the server: maybe executed
    assert m.outcome(10099) is m.Outcome.UNKNOWN  # a code we do not know: look it up, never resend
    assert m.reason(10027, "AutoTrading disabled by client") == (
        "autotrading disabled in the terminal (Algo Trading is off) "
        "(TRADE_RETCODE_CLIENT_DISABLES_AT 10027): AutoTrading disabled by client"
    )


def test_ipc_failures_are_unknown_and_malformed_requests_definitive() -> None:
    assert m.ipc_outcome(-2) is m.Outcome.REJECT
    for code in (-10001, -10002, -10004, -10005, -1, -12345):
        assert m.ipc_outcome(code) is m.Outcome.UNKNOWN


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
