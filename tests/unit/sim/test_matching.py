"""The matching engine: market/limit/stop orders, partial fills, slippage, cancel, replace, ids."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from nexus_sim import (
    InstrumentSpec,
    ManualClock,
    Market,
    MatchingEngine,
    OrderStatus,
    OrderType,
    RejectReason,
    Report,
    ReportKind,
    Side,
    SimOrder,
    TimeInForce,
)

pytestmark = pytest.mark.unit

EngineFactory = Callable[..., MatchingEngine]


def order(coid: str, side: Side = Side.BUY, qty: float = 1, **kw: Any) -> SimOrder:
    fields: dict[str, Any] = {"symbol": "NQZ5", **kw}
    return SimOrder(client_order_id=coid, side=side, quantity=qty, **fields)


def kinds(reports: list[Report]) -> list[tuple[ReportKind, OrderStatus]]:
    return [(r.kind, r.status) for r in reports]


def test_market_order_fills_at_once_buy_at_ask_sell_at_bid(engine: MatchingEngine, market: Market) -> None:
    market.set_quote("NQZ5", bid=21000.0, ask=21000.5)
    buy = engine.submit(order("b1", qty=2))
    assert kinds(buy) == [(ReportKind.NEW, OrderStatus.ACCEPTED), (ReportKind.FILL, OrderStatus.FILLED)]
    fill = buy[1]
    assert (fill.last_qty, fill.last_price, fill.cum_qty, fill.avg_price, fill.leaves_qty) == (
        2.0,
        21000.5,
        2.0,
        21000.5,
        0.0,
    )
    sell = engine.submit(order("s1", Side.SELL, qty=1))
    assert sell[-1].last_price == 21000.0


def test_ids_are_deterministic_counters(make_engine: EngineFactory) -> None:
    engine = make_engine(first_order_id=1000, first_exec_id=5000)
    first = engine.submit(order("a"))
    second = engine.submit(order("b"))
    assert [r.venue_order_id for r in first + second] == ["1000", "1000", "1001", "1001"]
    assert [r.exec_id for r in first + second] == ["5000", "5001", "5002", "5003"]


def test_same_inputs_give_the_same_reports(clock: ManualClock) -> None:
    def run() -> list[Report]:
        market = Market(seed=5, clock=ManualClock(start_ns=clock.now_ns()))
        market.add_instrument(InstrumentSpec(symbol="NQZ5", tick_size=0.25, start_price=21000.0))
        engine = MatchingEngine(market)
        reports = engine.submit(order("a", qty=3, order_type=OrderType.LIMIT, limit_price=20999.0))
        for _ in range(50):
            market.step(market.clock.now_ns() + 1)
            reports += engine.process()
        return reports

    first = run()
    assert any(r.is_fill for r in first)
    assert first == run()


def test_partial_fills_over_steps_sum_to_the_order_with_correct_average(
    make_engine: EngineFactory, market: Market
) -> None:
    engine = make_engine(fill_parts=3)
    market.set_quote("NQZ5", bid=21000.0, ask=21000.25)
    reports = engine.submit(order("p", qty=7))
    market.set_quote("NQZ5", bid=21000.5, ask=21000.75)
    reports += engine.process()
    market.set_quote("NQZ5", bid=21001.0, ask=21001.5)
    reports += engine.process()
    assert engine.process() == []
    fills = [r for r in reports if r.is_fill]
    assert [f.last_qty for f in fills] == [3.0, 3.0, 1.0]
    assert [f.status for f in fills] == [OrderStatus.PARTIALLY_FILLED] * 2 + [OrderStatus.FILLED]
    assert sum(f.last_qty for f in fills) == 7.0
    expected_avg = (3 * 21000.25 + 3 * 21000.75 + 1 * 21001.5) / 7
    assert fills[-1].avg_price == pytest.approx(expected_avg, abs=1e-9)
    assert [f.leaves_qty for f in fills] == [4.0, 1.0, 0.0]
    state = engine.order_by_client_id("p")
    assert state is not None
    assert (state.status, state.cum_qty, state.leaves_qty) == (OrderStatus.FILLED, 7.0, 0.0)
    assert state.avg_price == pytest.approx(expected_avg, abs=1e-9)


def test_partial_fills_in_lots_with_a_per_step_cap(make_engine: EngineFactory) -> None:
    engine = make_engine(max_fill_qty_per_step=0.255)  # rounds down to 0.25 on a 0.01 lot step
    reports = engine.submit(order("c", qty=1.0, symbol="NAS100"))
    while not reports[-1].status.terminal:
        reports += engine.process()
    fills = [r.last_qty for r in reports if r.is_fill]
    assert fills == [0.25, 0.25, 0.25, 0.25]
    assert reports[-1].cum_qty == 1.0


def test_fractional_lots_sum_exactly(make_engine: EngineFactory) -> None:
    engine = make_engine(fill_parts=3)
    reports = engine.submit(order("c", qty=0.1, symbol="NAS100"))
    reports += engine.process() + engine.process()
    fills = [r.last_qty for r in reports if r.is_fill]
    assert fills == [0.04, 0.04, 0.02]
    assert reports[-1].cum_qty == 0.1  # exactly, not 0.09999999999999999


def test_slippage_in_ticks(make_engine: EngineFactory, market: Market) -> None:
    engine = make_engine(slippage_ticks=2)
    market.set_quote("NQZ5", bid=21000.0, ask=21000.25)
    assert engine.submit(order("b"))[-1].last_price == 21000.75
    assert engine.submit(order("s", Side.SELL))[-1].last_price == 20999.5


def test_limit_order_rests_then_fills_at_its_price_when_the_quote_crosses(
    engine: MatchingEngine, market: Market
) -> None:
    market.set_quote("NQZ5", bid=21000.0, ask=21000.25)
    reports = engine.submit(order("l", qty=2, order_type=OrderType.LIMIT, limit_price=20990.0))
    assert kinds(reports) == [(ReportKind.NEW, OrderStatus.ACCEPTED)]
    assert engine.process() == []
    assert [o.client_order_id for o in engine.open_orders()] == ["l"]
    market.set_quote("NQZ5", bid=20989.0, ask=20989.5)  # gaps through the limit
    (fill,) = engine.process()
    assert (fill.status, fill.last_price, fill.last_qty) == (OrderStatus.FILLED, 20990.0, 2.0)
    assert engine.open_orders() == []


def test_marketable_limit_takes_the_quote(engine: MatchingEngine, market: Market) -> None:
    market.set_quote("NQZ5", bid=21000.0, ask=21000.25)
    reports = engine.submit(order("l", order_type=OrderType.LIMIT, limit_price=21005.0))
    assert reports[-1].last_price == 21000.25
    reports = engine.submit(order("s", Side.SELL, order_type=OrderType.LIMIT, limit_price=20995.0))
    assert reports[-1].last_price == 21000.0


def test_stop_order_triggers_and_fills_at_market(engine: MatchingEngine, market: Market) -> None:
    market.set_quote("NQZ5", bid=21000.0, ask=21000.25)
    engine.submit(order("st", Side.SELL, order_type=OrderType.STOP, stop_price=20990.0))
    assert engine.process() == []
    state = engine.order_by_client_id("st")
    assert state is not None
    assert not state.triggered
    market.set_quote("NQZ5", bid=20989.75, ask=20990.0)
    (fill,) = engine.process()
    assert fill.last_price == 20989.75
    state = engine.order_by_client_id("st")
    assert state is not None
    assert state.triggered
    assert state.status is OrderStatus.FILLED


def test_ioc_and_fok(make_engine: EngineFactory, market: Market) -> None:
    engine = make_engine(fill_parts=2)
    market.set_quote("NQZ5", bid=21000.0, ask=21000.25)
    ioc = engine.submit(order("ioc", qty=4, time_in_force=TimeInForce.IOC))
    assert kinds(ioc) == [
        (ReportKind.NEW, OrderStatus.ACCEPTED),
        (ReportKind.FILL, OrderStatus.PARTIALLY_FILLED),
        (ReportKind.CANCELLED, OrderStatus.CANCELLED),
    ]
    assert ioc[-1].cum_qty == 2.0
    fok = engine.submit(order("fok", qty=4, time_in_force=TimeInForce.FOK))
    assert kinds(fok)[-1] == (ReportKind.CANCELLED, OrderStatus.CANCELLED)
    assert fok[-1].cum_qty == 0.0
    away = engine.submit(
        order("away", qty=1, order_type=OrderType.LIMIT, limit_price=20000.0, time_in_force=TimeInForce.IOC)
    )
    assert kinds(away)[-1] == (ReportKind.CANCELLED, OrderStatus.CANCELLED)


def test_day_orders_expire_at_end_of_day(engine: MatchingEngine) -> None:
    engine.submit(
        order("day", order_type=OrderType.LIMIT, limit_price=20000.0, time_in_force=TimeInForce.DAY)
    )
    engine.submit(order("gtc", order_type=OrderType.LIMIT, limit_price=20000.0))
    (expired,) = engine.expire_day_orders()
    assert (expired.client_order_id, expired.kind, expired.status) == (
        "day",
        ReportKind.EXPIRED,
        OrderStatus.EXPIRED,
    )
    assert [o.client_order_id for o in engine.open_orders()] == ["gtc"]


def test_cancel_by_client_or_venue_id(engine: MatchingEngine) -> None:
    engine.submit(order("l1", order_type=OrderType.LIMIT, limit_price=20000.0))
    (new,) = engine.submit(order("l2", order_type=OrderType.LIMIT, limit_price=20000.0))
    (c1,) = engine.cancel("l1")
    (c2,) = engine.cancel(venue_order_id=new.venue_order_id)
    assert [(c.kind, c.status, c.client_order_id) for c in (c1, c2)] == [
        (ReportKind.CANCELLED, OrderStatus.CANCELLED, "l1"),
        (ReportKind.CANCELLED, OrderStatus.CANCELLED, "l2"),
    ]
    assert engine.open_orders() == []


def test_cancel_rejects_unknown_and_finished_orders(engine: MatchingEngine) -> None:
    (unknown,) = engine.cancel("nope")
    assert (unknown.kind, unknown.reason, unknown.client_order_id) == (
        ReportKind.CANCEL_REJECTED,
        RejectReason.UNKNOWN_ORDER,
        "nope",
    )
    engine.submit(order("m"))
    (late,) = engine.cancel("m")
    assert (late.kind, late.reason, late.status) == (
        ReportKind.CANCEL_REJECTED,
        RejectReason.ORDER_NOT_OPEN,
        OrderStatus.FILLED,
    )


def test_cancel_keeps_partial_fills(make_engine: EngineFactory) -> None:
    engine = make_engine(fill_parts=2)
    engine.submit(order("m", qty=2))
    (cancelled,) = engine.cancel("m")
    assert (cancelled.status, cancelled.cum_qty, cancelled.leaves_qty) == (OrderStatus.CANCELLED, 1.0, 0.0)


def test_cancel_replace_price_quantity_and_id(engine: MatchingEngine, market: Market) -> None:
    market.set_quote("NQZ5", bid=21000.0, ask=21000.25)
    (new,) = engine.submit(order("r0", qty=2, order_type=OrderType.LIMIT, limit_price=20990.0))
    (replaced,) = engine.replace("r0", new_client_order_id="r1", quantity=3, limit_price=20995.0)
    assert (replaced.kind, replaced.client_order_id, replaced.orig_client_order_id) == (
        ReportKind.REPLACED,
        "r1",
        "r0",
    )
    assert (replaced.venue_order_id, replaced.quantity, replaced.limit_price, replaced.leaves_qty) == (
        new.venue_order_id,
        3.0,
        20995.0,
        3.0,
    )
    old, current = engine.order_by_client_id("r0"), engine.order_by_client_id("r1")
    assert old == current
    assert current is not None
    assert current.orig_client_order_id == "r0"
    # Moving the price through the market fills at once, at the quote.
    reports = engine.replace("r1", limit_price=21001.0)
    assert kinds(reports) == [
        (ReportKind.REPLACED, OrderStatus.ACCEPTED),
        (ReportKind.FILL, OrderStatus.FILLED),
    ]
    assert reports[-1].last_price == 21000.25


def test_replace_rejections(make_engine: EngineFactory) -> None:
    engine = make_engine(fill_parts=2)
    engine.submit(order("a", qty=4, order_type=OrderType.LIMIT, limit_price=20000.0))
    engine.submit(order("b", order_type=OrderType.LIMIT, limit_price=20000.0))
    engine.submit(order("m", qty=4))  # market order, half filled

    def reason(*args: Any, **kw: Any) -> RejectReason | None:
        (r,) = engine.replace(*args, **kw)
        assert r.kind is ReportKind.REPLACE_REJECTED
        return r.reason

    assert reason("zzz", quantity=2) is RejectReason.UNKNOWN_ORDER
    assert reason("m", quantity=5) is RejectReason.UNSUPPORTED
    assert reason("a") is RejectReason.UNSUPPORTED  # nothing to change
    assert reason("a", new_client_order_id="b") is RejectReason.DUPLICATE_CLIENT_ORDER_ID
    assert reason("a", quantity=0.5) is RejectReason.INVALID_QUANTITY
    assert reason("a", limit_price=20000.1) is RejectReason.INVALID_PRICE
    engine.cancel("b")
    assert reason("b", quantity=2) is RejectReason.ORDER_NOT_OPEN


def test_replace_quantity_must_exceed_what_filled(make_engine: EngineFactory, market: Market) -> None:
    engine = make_engine(fill_parts=2)
    market.set_quote("NQZ5", bid=21000.0, ask=21000.25)
    engine.submit(order("a", qty=4, order_type=OrderType.LIMIT, limit_price=21000.25))  # 2 fill now
    (r,) = engine.replace("a", quantity=2)
    assert r.reason is RejectReason.INVALID_QUANTITY
    (r,) = engine.replace("a", quantity=3, limit_price=20000.0)
    assert (r.kind, r.cum_qty, r.leaves_qty) == (ReportKind.REPLACED, 2.0, 1.0)


def test_cancel_all(engine: MatchingEngine) -> None:
    engine.submit(order("a", order_type=OrderType.LIMIT, limit_price=20000.0))
    engine.submit(order("b", order_type=OrderType.LIMIT, limit_price=20000.0, symbol="NAS100"))
    reports = engine.cancel_all(symbol="NAS100")
    assert [r.client_order_id for r in reports] == ["b"]
    assert [r.client_order_id for r in engine.cancel_all()] == ["a"]


def test_closed_market_does_not_fill_resting_orders(engine: MatchingEngine, market: Market) -> None:
    market.set_quote("NQZ5", bid=21000.0, ask=21000.25)
    engine.submit(order("l", order_type=OrderType.LIMIT, limit_price=20990.0))
    market.set_session("NQZ5", False)
    market.set_quote("NQZ5", bid=20980.0, ask=20980.25)
    assert engine.process() == []
    market.set_session("NQZ5", True)
    assert engine.process()[-1].status is OrderStatus.FILLED
