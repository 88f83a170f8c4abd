"""Fault and latency injection: delayed acks and fills, injected rejects, requotes, disconnects."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from nexus_sim import (
    DisconnectRule,
    FaultConfig,
    FaultEvent,
    Faults,
    ManualClock,
    Market,
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


def test_ack_latency_delays_the_venue_processing(make_engine: EngineFactory, clock: ManualClock) -> None:
    engine = make_engine(FaultConfig(ack_latency_ns=5_000))
    (pending,) = engine.submit(order("a"))
    assert (pending.kind, pending.status) == (ReportKind.PENDING_NEW, OrderStatus.PENDING)
    state = engine.order_by_client_id("a")
    assert state is not None
    assert state.status is OrderStatus.PENDING
    assert [o.client_order_id for o in engine.open_orders()] == ["a"]
    # The id is taken as soon as the venue has the request.
    assert engine.submit(order("a"))[0].reason is RejectReason.DUPLICATE_CLIENT_ORDER_ID
    clock.advance(4_999)
    assert engine.process() == []
    clock.advance(1)
    reports = engine.process()
    assert [(r.kind, r.status) for r in reports] == [
        (ReportKind.NEW, OrderStatus.ACCEPTED),
        (ReportKind.FILL, OrderStatus.FILLED),
    ]


def test_fill_latency_delays_the_first_fill(make_engine: EngineFactory, clock: ManualClock) -> None:
    engine = make_engine(FaultConfig(fill_latency_ns=1_000))
    (new,) = engine.submit(order("a"))
    assert new.kind is ReportKind.NEW
    assert engine.process() == []
    clock.advance(1_000)
    (fill,) = engine.process()
    assert fill.status is OrderStatus.FILLED


def test_pending_orders_can_be_cancelled_but_not_replaced(make_engine: EngineFactory) -> None:
    engine = make_engine(FaultConfig(ack_latency_ns=5_000))
    engine.submit(order("a", order_type=OrderType.LIMIT, limit_price=20000.0))
    (r,) = engine.replace("a", limit_price=20001.0)
    assert r.reason is RejectReason.ORDER_NOT_OPEN
    (c,) = engine.cancel("a")
    assert c.status is OrderStatus.CANCELLED


def test_reject_next_n_orders(make_engine: EngineFactory) -> None:
    engine = make_engine(FaultConfig(reject_next=2, reject_reason=RejectReason.MARKET_CLOSED))
    first, second = (engine.submit(order(c))[-1] for c in ("a", "b"))
    assert [first.reason, second.reason] == [RejectReason.MARKET_CLOSED] * 2
    assert first.text == "injected reject"
    assert engine.submit(order("c"))[-1].status is OrderStatus.FILLED
    engine.faults.reject_next(1, RejectReason.INSUFFICIENT_MARGIN, "no money")
    report = engine.submit(order("d"))[-1]
    assert (report.reason, report.text) == (RejectReason.INSUFFICIENT_MARGIN, "no money")


def test_injected_requote_and_price_deviation_requote(engine: MatchingEngine, market: Market) -> None:
    market.set_quote("NQZ5", bid=21000.0, ask=21000.25)
    engine.faults.requote_next()
    # Limit orders do not consume a requote: MT5 requotes market (instant execution) orders.
    assert (
        engine.submit(order("l", order_type=OrderType.LIMIT, limit_price=20000.0))[-1].kind is ReportKind.NEW
    )
    assert engine.submit(order("a"))[-1].reason is RejectReason.REQUOTE
    assert engine.submit(order("b"))[-1].status is OrderStatus.FILLED
    # The client saw 20999.00; the ask is 5 ticks away; 4 allowed -> requote, 5 allowed -> fill.
    tight = order("c", expected_price=20999.0, deviation_ticks=4)
    assert engine.submit(tight)[-1].reason is RejectReason.REQUOTE
    loose = order("d", expected_price=20999.0, deviation_ticks=5)
    assert engine.submit(loose)[-1].status is OrderStatus.FILLED


def test_disconnect_before_submit_loses_the_request(engine: MatchingEngine) -> None:
    events: list[str] = []
    engine.faults.on_disconnect(events.append)
    engine.faults.disconnect_on(FaultEvent.BEFORE_SUBMIT)
    assert engine.submit(order("a")) == []
    assert events == ["before_submit"]
    assert engine.order_by_client_id("a") is None
    assert engine.submit(order("a"))[-1].status is OrderStatus.FILLED  # the retry is the first the venue sees


def test_disconnect_after_submit_leaves_an_unknown_outcome_to_look_up(engine: MatchingEngine) -> None:
    dropped: list[str] = []
    engine.faults.on_disconnect(dropped.append)
    engine.faults.disconnect_on(FaultEvent.AFTER_SUBMIT)
    engine.submit(order("a"))
    assert dropped == ["after_submit"]
    state = engine.order_by_client_id("a")
    assert state is not None
    assert state.status is OrderStatus.FILLED
    assert [f.client_order_id for f in engine.fills_since()] == ["a"]


def test_disconnect_before_fill_fires_before_the_report_is_returned(
    make_engine: EngineFactory, market: Market
) -> None:
    engine = make_engine(fill_parts=2)
    seen_at_drop: list[float] = []
    engine.faults.on_disconnect(lambda _event: seen_at_drop.append(len(engine.fills_since())))
    engine.faults.disconnect_on(FaultEvent.BEFORE_FILL, skip=1)  # the second fill
    engine.submit(order("a", qty=2))
    assert seen_at_drop == []
    engine.process()
    assert seen_at_drop == [1]
    assert engine.faults.disconnects_fired == 1


def test_disconnect_on_cancel(engine: MatchingEngine) -> None:
    engine.submit(order("a", order_type=OrderType.LIMIT, limit_price=20000.0))
    engine.faults.disconnect_on(FaultEvent.BEFORE_CANCEL)
    assert engine.cancel("a") == []
    state = engine.order_by_client_id("a")
    assert state is not None
    assert state.is_open
    engine.faults.disconnect_on(FaultEvent.AFTER_CANCEL)
    assert engine.cancel("a")[0].status is OrderStatus.CANCELLED


def test_disconnect_rules_count_occurrences() -> None:
    faults = Faults(FaultConfig(disconnects=(DisconnectRule(event="tick", skip=2, times=2),)))
    assert [faults.should_disconnect("tick") for _ in range(6)] == [False, False, True, True, False, False]
    assert faults.should_disconnect("other") is False
    faults.reset()
    assert [faults.should_disconnect("tick") for _ in range(3)] == [False, False, True]
    faults.clear()
    assert faults.should_disconnect("tick") is False


def test_fault_config_from_dict() -> None:
    config = FaultConfig.from_dict(
        {
            "ack_latency_ms": 2.5,
            "fill_latency_ns": 7,
            "reject_next": 1,
            "reject_reason": "market_closed",
            "requote_next": 3,
            "disconnects": [{"event": "before_fill", "skip": 1}],
        }
    )
    assert config == FaultConfig(
        ack_latency_ns=2_500_000,
        fill_latency_ns=7,
        reject_next=1,
        reject_reason=RejectReason.MARKET_CLOSED,
        requote_next=3,
        disconnects=(DisconnectRule(event="before_fill", skip=1),),
    )
    with pytest.raises(ValueError, match="unknown fault settings"):
        FaultConfig.from_dict({"latency": 1})
    with pytest.raises(ValueError, match=">= 0"):
        FaultConfig(ack_latency_ns=-1)


def test_latency_can_be_changed_at_run_time_with_a_wall_clock() -> None:
    from nexus_sim import InstrumentSpec, SystemClock

    market = Market(seed=0, clock=SystemClock())
    market.add_instrument(InstrumentSpec(symbol="NQZ5", tick_size=0.25, start_price=21000.0))
    engine = MatchingEngine(market)
    engine.faults.set_latency(ack_ns=60_000_000_000)  # a minute of real time
    assert engine.submit(order("a"))[0].kind is ReportKind.PENDING_NEW
    assert engine.process() == []
    engine.faults.set_latency(ack_ns=0)
    assert engine.submit(order("b"))[-1].status is OrderStatus.FILLED
