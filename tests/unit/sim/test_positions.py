"""Positions, realized and unrealized P&L, netting vs hedging, account info, recovery lookups."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import Any

import pytest

from nexus_sim import (
    Market,
    MatchingEngine,
    OrderStatus,
    OrderType,
    RejectReason,
    Side,
    SimOrder,
)

pytestmark = pytest.mark.unit

EngineFactory = Callable[..., MatchingEngine]


def order(coid: str, side: Side = Side.BUY, qty: float = 1, **kw: Any) -> SimOrder:
    fields: dict[str, Any] = {"symbol": "NQZ5", **kw}
    return SimOrder(client_order_id=coid, side=side, quantity=qty, **fields)


def trade(engine: MatchingEngine, market: Market, o: SimOrder, price: float) -> None:
    """Fill a market order at exactly `price` (the quote is placed so the far side is `price`)."""
    tick = market.instrument(o.symbol).tick_size
    if o.side is Side.BUY:
        market.set_quote(o.symbol, bid=price - tick, ask=price)
    else:
        market.set_quote(o.symbol, bid=price, ask=price + tick)
    reports = engine.submit(o)
    assert reports[-1].status is OrderStatus.FILLED, reports[-1]


def test_netting_position_average_and_realized_pnl(engine: MatchingEngine, market: Market) -> None:
    trade(engine, market, order("1", Side.BUY, 2), 21000.0)
    trade(engine, market, order("2", Side.BUY, 1), 21003.0)
    (pos,) = engine.positions()
    assert (pos.symbol, pos.quantity, pos.avg_price, pos.ticket, pos.side) == (
        "NQZ5",
        3.0,
        21001.0,
        None,
        Side.BUY,
    )
    trade(engine, market, order("3", Side.SELL, 2), 21011.0)
    # (21011 - 21001) * 2 * $20
    assert engine.realized_pnl("NQZ5") == Decimal(400)
    (pos,) = engine.positions()
    assert (pos.quantity, pos.avg_price, pos.realized_pnl) == (1.0, 21001.0, Decimal(400))
    # Flip: sell 3 closes 1 (+(20991-21001)*20 = -200) and opens 2 short at 20991.
    trade(engine, market, order("4", Side.SELL, 3), 20991.0)
    (pos,) = engine.positions()
    assert (pos.quantity, pos.avg_price, pos.side) == (-2.0, 20991.0, Side.SELL)
    assert engine.realized_pnl() == Decimal(200)
    trade(engine, market, order("5", Side.BUY, 2), 20981.0)  # short covered 10 points lower: +400
    assert engine.positions() == []
    (flat,) = engine.positions(include_flat=True)
    assert (flat.quantity, flat.avg_price, flat.realized_pnl) == (0.0, 0.0, Decimal(600))
    assert engine.net_position("NQZ5") == 0.0


def test_fill_reports_carry_the_pnl_they_realized(engine: MatchingEngine, market: Market) -> None:
    trade(engine, market, order("1", Side.BUY, 1), 21000.0)
    trade(engine, market, order("2", Side.SELL, 1), 20999.0)
    fills = engine.fills_since()
    assert [f.realized_pnl for f in fills] == [Decimal(0), Decimal(-20)]


def test_unrealized_pnl_marks_longs_at_bid_shorts_at_ask(engine: MatchingEngine, market: Market) -> None:
    trade(engine, market, order("1", Side.BUY, 1), 21000.0)
    trade(engine, market, order("2", Side.SELL, 2, symbol="NAS100"), 100.0)
    market.set_quote("NQZ5", bid=21010.0, ask=21010.25)
    market.set_quote("NAS100", bid=99.0, ask=99.5)
    assert engine.unrealized_pnl("NQZ5") == Decimal(200)
    assert engine.unrealized_pnl("NAS100") == Decimal(1)  # (100 - 99.5) * 2 * $1
    assert engine.unrealized_pnl() == Decimal(201)


def test_hedging_each_order_opens_its_own_ticket(make_engine: EngineFactory, market: Market) -> None:
    engine = make_engine(hedging=True, fill_parts=2)
    market.set_quote("NQZ5", bid=20999.75, ask=21000.0)
    reports = engine.submit(order("b1", qty=2))
    market.set_quote("NQZ5", bid=21000.75, ask=21001.0)
    reports += engine.process()
    buy_ticket = int(reports[0].venue_order_id)
    assert {r.position_ticket for r in reports if r.is_fill} == {buy_ticket}
    trade(engine, market, order("s1", Side.SELL, 1), 21005.0)
    positions = engine.positions()
    assert [(p.ticket, p.quantity) for p in positions] == [(buy_ticket, 2.0), (buy_ticket + 1, -1.0)]
    assert positions[0].avg_price == 21000.5
    assert engine.net_position("NQZ5") == 1.0
    assert engine.realized_pnl() == Decimal(0)  # nothing nets on a hedging account


def test_hedging_close_by_ticket(make_engine: EngineFactory, market: Market) -> None:
    engine = make_engine(hedging=True)
    trade(engine, market, order("b1", Side.BUY, 2), 21000.0)
    trade(engine, market, order("b2", Side.BUY, 1), 21004.0)
    first, second = (p.ticket for p in engine.positions())
    assert first is not None
    assert second is not None
    trade(engine, market, order("c1", Side.SELL, 1, position_ticket=first), 21010.0)
    fill = engine.fills_since()[-1]
    assert (fill.position_ticket, fill.realized_pnl) == (first, Decimal(200))
    assert [(p.ticket, p.quantity) for p in engine.positions()] == [(first, 1.0), (second, 1.0)]
    trade(engine, market, order("c2", Side.SELL, 1, position_ticket=second), 21000.0)
    assert [p.ticket for p in engine.positions()] == [first]
    assert engine.realized_pnl("NQZ5") == Decimal(200 - 80)


def test_hedging_close_rejects(make_engine: EngineFactory, market: Market) -> None:
    engine = make_engine(hedging=True)
    trade(engine, market, order("b1", Side.BUY, 2), 21000.0)
    (ticket,) = (p.ticket for p in engine.positions())
    assert ticket is not None

    def reason(o: SimOrder) -> RejectReason | None:
        return engine.submit(o)[-1].reason

    assert reason(order("x1", Side.SELL, position_ticket=999)) is RejectReason.UNKNOWN_POSITION
    assert reason(order("x2", Side.BUY, position_ticket=ticket)) is RejectReason.UNKNOWN_POSITION
    assert reason(order("x3", Side.SELL, 3, position_ticket=ticket)) is RejectReason.INVALID_QUANTITY
    assert (
        reason(order("x4", Side.SELL, symbol="NAS100", position_ticket=ticket))
        is RejectReason.UNKNOWN_POSITION
    )


def test_netting_is_the_default_and_position_ticket_needs_hedging(engine: MatchingEngine) -> None:
    assert engine.submit(order("x", position_ticket=1))[-1].reason is RejectReason.UNKNOWN_POSITION


def test_accounts_are_separate(engine: MatchingEngine, market: Market) -> None:
    engine.add_account("HEDGE", hedging=True)
    trade(engine, market, order("a", Side.BUY, 1), 21000.0)
    trade(engine, market, order("b", Side.SELL, 1, account="HEDGE"), 21000.0)
    assert engine.accounts == ("SIM", "HEDGE")
    assert [(p.account, p.quantity) for p in engine.positions()] == [("SIM", 1.0), ("HEDGE", -1.0)]
    assert [p.account for p in engine.positions(account="HEDGE")] == ["HEDGE"]
    assert [f.client_order_id for f in engine.fills_since(account="HEDGE")] == ["b"]
    with pytest.raises(ValueError, match="exists"):
        engine.add_account("HEDGE")


def test_account_info(make_engine: EngineFactory, market: Market) -> None:
    engine = make_engine(cash=100_000)
    info = engine.account_info()
    assert (info.balance, info.equity, info.margin_used, info.free_margin) == (
        Decimal(100_000),
        Decimal(100_000),
        Decimal(0),
        Decimal(100_000),
    )
    trade(engine, market, order("1", Side.BUY, 1), 21000.0)
    trade(engine, market, order("2", Side.SELL, 1), 21001.0)
    trade(engine, market, order("3", Side.BUY, 1), 21000.0)
    market.set_quote("NQZ5", bid=20999.0, ask=20999.25)
    info = engine.account_info()
    assert info.realized_pnl == Decimal(20)
    assert info.unrealized_pnl == Decimal(-20)
    assert (info.balance, info.equity) == (Decimal(100_020), Decimal(100_000))
    no_cash = make_engine().account_info()
    assert (no_cash.balance, no_cash.equity, no_cash.free_margin) == (None, None, None)


def test_recovery_lookups(make_engine: EngineFactory, market: Market, clock: Any) -> None:
    engine = make_engine(fill_parts=2)
    market.set_quote("NQZ5", bid=21000.0, ask=21000.25)
    engine.submit(order("m", qty=2))
    engine.submit(order("l", order_type=OrderType.LIMIT, limit_price=20000.0))
    first_fill = engine.fills_since()[0]
    clock.advance(1_000)
    engine.process()
    fills = engine.fills_since()
    assert [f.client_order_id for f in fills] == ["m", "m"]
    assert engine.fills_since(exec_id=first_fill.exec_id) == fills[1:]
    assert engine.fills_since(exec_id=fills[-1].exec_id) == []
    assert engine.fills_since(exec_id="unknown") == fills  # caller dedupes by exec id
    assert engine.fills_since(ts_ns=clock.now_ns()) == fills[1:]
    assert [o.client_order_id for o in engine.open_orders()] == ["l"]
    assert [o.client_order_id for o in engine.orders()] == ["m", "l"]
    by_venue = engine.order_by_venue_id(first_fill.venue_order_id)
    assert by_venue is not None
    assert by_venue == engine.order_by_client_id("m")
    assert by_venue.is_open is False
    assert engine.order_by_client_id("nope") is None
    assert engine.order_by_venue_id("0") is None
