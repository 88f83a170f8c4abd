"""Rejects: every check a new order passes, the duplicate client id check, rejected orders on record."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import pytest

from nexus_sim import (
    InstrumentSpec,
    ManualClock,
    Market,
    MatchingConfig,
    MatchingEngine,
    OrderStatus,
    OrderType,
    RejectReason,
    ReportKind,
    Side,
    SimOrder,
)

pytestmark = pytest.mark.unit

EngineFactory = Callable[..., MatchingEngine]


def order(coid: str, side: Side = Side.BUY, qty: float = 1, **kw: Any) -> SimOrder:
    fields: dict[str, Any] = {"symbol": "NQZ5", **kw}
    return SimOrder(client_order_id=coid, side=side, quantity=qty, **fields)


def reject_reason(engine: MatchingEngine, o: SimOrder) -> RejectReason | None:
    (report,) = engine.submit(o)
    assert (report.kind, report.status) == (ReportKind.REJECTED, OrderStatus.REJECTED)
    return report.reason


def test_unknown_symbol_and_account(engine: MatchingEngine) -> None:
    assert reject_reason(engine, order("a", symbol="NOPE")) is RejectReason.UNKNOWN_SYMBOL
    assert reject_reason(engine, order("b", account="OTHER")) is RejectReason.UNKNOWN_ACCOUNT


@pytest.mark.parametrize("qty", [0, -1, math.nan, math.inf, 0.5, 1.5])
def test_invalid_quantity(engine: MatchingEngine, qty: float) -> None:
    assert reject_reason(engine, order("q", qty=qty)) is RejectReason.INVALID_QUANTITY


def test_quantity_limits_and_lot_step() -> None:
    market = Market(seed=0, clock=ManualClock())
    market.add_instrument(
        InstrumentSpec(symbol="X", tick_size=0.01, start_price=10, lot_step=0.01, min_qty=0.1, max_qty=5)
    )
    engine = MatchingEngine(market)
    assert reject_reason(engine, order("a", qty=0.05, symbol="X")) is RejectReason.INVALID_QUANTITY
    assert reject_reason(engine, order("b", qty=5.01, symbol="X")) is RejectReason.INVALID_QUANTITY
    assert reject_reason(engine, order("c", qty=0.105, symbol="X")) is RejectReason.INVALID_QUANTITY
    assert engine.submit(order("d", qty=0.1 + 0.2, symbol="X"))[-1].status is OrderStatus.FILLED


def test_invalid_prices(engine: MatchingEngine) -> None:
    assert reject_reason(engine, order("a", order_type=OrderType.LIMIT)) is RejectReason.INVALID_PRICE
    assert reject_reason(engine, order("b", order_type=OrderType.STOP)) is RejectReason.INVALID_PRICE
    off_tick = order("c", order_type=OrderType.LIMIT, limit_price=21000.1)
    assert reject_reason(engine, off_tick) is RejectReason.INVALID_PRICE
    negative = order("d", order_type=OrderType.LIMIT, limit_price=-1.0)
    assert reject_reason(engine, negative) is RejectReason.INVALID_PRICE


def test_price_band() -> None:
    market = Market(seed=0, clock=ManualClock())
    market.add_instrument(InstrumentSpec(symbol="NQZ5", tick_size=0.25, start_price=20000, price_band_pct=5))
    engine = MatchingEngine(market)
    far = order("a", order_type=OrderType.LIMIT, limit_price=18000.0)
    assert reject_reason(engine, far) is RejectReason.PRICE_OUT_OF_BAND
    (new,) = engine.submit(order("b", order_type=OrderType.LIMIT, limit_price=19500.0))
    assert new.kind is ReportKind.NEW
    (r,) = engine.replace("b", limit_price=25000.0)
    assert (r.kind, r.reason) == (ReportKind.REPLACE_REJECTED, RejectReason.PRICE_OUT_OF_BAND)


def test_market_closed(engine: MatchingEngine, market: Market, clock: ManualClock) -> None:
    market.set_session("NQZ5", False)
    assert reject_reason(engine, order("a")) is RejectReason.MARKET_CLOSED
    closes_at = clock.now_ns() + 1_000
    market.set_session("NQZ5", lambda ts: ts < closes_at)
    assert engine.submit(order("b"))[-1].status is OrderStatus.FILLED
    clock.advance(1_000)
    assert reject_reason(engine, order("c")) is RejectReason.MARKET_CLOSED


def test_duplicate_client_order_id_is_refused_and_the_original_untouched(
    engine: MatchingEngine,
) -> None:
    engine.submit(order("dup", order_type=OrderType.LIMIT, limit_price=20000.0))
    (report,) = engine.submit(order("dup", Side.SELL, qty=5))
    assert report.reason is RejectReason.DUPLICATE_CLIENT_ORDER_ID
    assert report.venue_order_id == ""
    original = engine.order_by_client_id("dup")
    assert original is not None
    assert (original.status, original.side, original.quantity) == (OrderStatus.ACCEPTED, Side.BUY, 1)
    assert len(engine.orders()) == 1
    # A finished order still owns its id (a redelivered signal must not trade twice).
    engine.cancel("dup")
    assert reject_reason(engine, order("dup")) is RejectReason.DUPLICATE_CLIENT_ORDER_ID


def test_rejected_orders_are_on_record_and_own_their_id(make_engine: EngineFactory) -> None:
    engine = make_engine()
    assert reject_reason(engine, order("r", qty=0)) is RejectReason.INVALID_QUANTITY
    state = engine.order_by_client_id("r")
    assert state is not None
    assert (state.status, state.reason) == (OrderStatus.REJECTED, RejectReason.INVALID_QUANTITY)
    assert state.venue_order_id != ""
    assert reject_reason(engine, order("r")) is RejectReason.DUPLICATE_CLIENT_ORDER_ID
    lenient = make_engine(reuse_rejected_client_ids=True)
    lenient.submit(order("r", qty=0))
    assert lenient.submit(order("r"))[-1].status is OrderStatus.FILLED


def test_insufficient_margin(market: Market) -> None:
    spec = InstrumentSpec(symbol="ES", tick_size=0.25, start_price=6000, point_value=50, margin_per_unit=1000)
    market.add_instrument(spec)
    engine = MatchingEngine(market, config=MatchingConfig(cash=2500))
    assert engine.submit(order("a", qty=2, symbol="ES"))[-1].status is OrderStatus.FILLED
    assert reject_reason(engine, order("b", qty=1, symbol="ES")) is RejectReason.INSUFFICIENT_MARGIN
    # Reducing the position needs no margin.
    assert engine.submit(order("c", Side.SELL, qty=1, symbol="ES"))[-1].status is OrderStatus.FILLED
    # A working order reserves margin too.
    engine.submit(order("d", qty=1, symbol="ES", order_type=OrderType.LIMIT, limit_price=5000.0))
    assert reject_reason(engine, order("e", qty=1, symbol="ES")) is RejectReason.INSUFFICIENT_MARGIN


def test_margin_rate_on_notional(market: Market) -> None:
    engine = MatchingEngine(market, config=MatchingConfig(cash=1000))
    market.add_instrument(
        InstrumentSpec(symbol="CFD", tick_size=0.1, start_price=20000, lot_step=0.01, margin_rate=0.05)
    )
    # 0.5 lot * 20000 * 5% = 500 margin per half lot: one fits, a second does not once both are held.
    assert engine.submit(order("a", qty=0.5, symbol="CFD"))[-1].status is OrderStatus.FILLED
    assert reject_reason(engine, order("b", qty=0.6, symbol="CFD")) is RejectReason.INSUFFICIENT_MARGIN
