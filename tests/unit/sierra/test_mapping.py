"""DTC messages into the adapter base's terms: states, fills, the execution id rule, positions, ticks."""

from __future__ import annotations

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from nexus_protocol.enums import OrderStatus, OrderType, Side, TimeInForce
from nexus_protocol.errors import VenueError
from nexus_protocol.messages import VenueOrder
from nexus_sierra.config import ClientConfig
from nexus_sierra.dtc.codec import (
    DBL_MAX,
    BuySellEnum,
    HistoricalOrderFillResponse,
    MarketDataSnapshot,
    MarketDataUpdateBidAsk,
    MarketDataUpdateTrade,
    OrderStatusEnum,
    OrderTypeEnum,
    OrderUpdate,
    OrderUpdateReasonEnum,
    PositionUpdate,
    TimeInForceEnum,
)
from nexus_sierra.mapping import (
    MarketDataBook,
    OrderRef,
    dtc_order,
    fallback_exec_id,
    fill_reports,
    order_update_reports,
    positions,
    qty_text,
)

COID = "01JD3ZK6Q9X8V7W5T4S3R2P1N0.sc0"
R = OrderUpdateReasonEnum


def update(reason: R, status: OrderStatusEnum, **kw: object) -> OrderUpdate:
    fields: dict[str, object] = {"client_order_id": COID, "server_order_id": "S1", "order_quantity": 3.0}
    fields.update(kw)
    return OrderUpdate(order_update_reason=reason, order_status=status, **fields)  # type: ignore[arg-type]


def fill_update(cum: float, last: float, price: float, total: float = 3.0, exec_id: str = "") -> OrderUpdate:
    done = cum >= total
    return update(
        R.ORDER_FILLED if done else R.ORDER_FILLED_PARTIALLY,
        OrderStatusEnum.FILLED if done else OrderStatusEnum.PARTIALLY_FILLED,
        order_quantity=total,
        filled_quantity=cum,
        remaining_quantity=total - cum,
        last_fill_quantity=last,
        last_fill_price=price,
        average_fill_price=price,
        last_fill_execution_id=exec_id,
        last_fill_date_time_ms=1_700_000_000_123,
    )


def test_accepted_rejected_cancelled_become_states() -> None:
    [acc] = order_update_reports(update(R.NEW_ORDER_ACCEPTED, OrderStatusEnum.OPEN, remaining_quantity=3.0))
    assert (acc.status, acc.leaves_qty, acc.venue_order_id, acc.is_fill) == (
        OrderStatus.ACCEPTED,
        3.0,
        "S1",
        False,
    )
    [rej] = order_update_reports(
        update(R.NEW_ORDER_REJECTED, OrderStatusEnum.REJECTED, info_text="no margin")
    )
    assert (rej.status, rej.reason) == (OrderStatus.REJECTED, "no margin")
    [can] = order_update_reports(update(R.ORDER_CANCELED, OrderStatusEnum.CANCELED, filled_quantity=1.0))
    assert (can.status, can.cum_qty, can.leaves_qty) == (OrderStatus.CANCELLED, 1.0, 0.0)


def test_a_cancel_refusal_and_an_empty_open_orders_answer_say_nothing() -> None:
    assert order_update_reports(update(R.ORDER_CANCEL_REJECTED, OrderStatusEnum.REJECTED)) == []
    assert (
        order_update_reports(OrderUpdate(no_orders=True, order_update_reason=R.OPEN_ORDERS_REQUEST_RESPONSE))
        == []
    )


def test_a_fill_carries_the_servers_execution_id_and_its_time_in_ns() -> None:
    [f] = order_update_reports(fill_update(cum=3.0, last=3.0, price=21000.25, exec_id="E77"))
    assert (f.status, f.exec_id, f.last_qty, f.last_price, f.cum_qty, f.leaves_qty) == (
        OrderStatus.FILLED,
        "E77",
        3.0,
        21000.25,
        3.0,
        0.0,
    )
    assert f.fill_id == f"{COID}:x:E77"
    assert f.ts_ns == 1_700_000_000_123_000_000


def test_without_an_execution_id_the_fill_is_named_by_order_and_cumulative_quantity() -> None:
    [f] = order_update_reports(fill_update(cum=1.0, last=1.0, price=100.0))
    assert (f.status, f.exec_id) == (OrderStatus.PARTIALLY_FILLED, "S1@1")
    assert qty_text(2.0) == "2"
    assert qty_text(0.50) == "0.5"
    assert fallback_exec_id("S", 1.25) == "S@1.25"


@pytest.mark.parametrize("bad", [DBL_MAX, math.nan, math.inf, -1.0, 0.0])
def test_a_fill_with_an_unusable_quantity_is_not_a_fill(bad: float) -> None:
    assert order_update_reports(fill_update(cum=1.0, last=bad, price=100.0)) == []


def test_pre_2022_servers_send_fill_times_in_seconds() -> None:
    [f] = order_update_reports(
        update(
            R.ORDER_FILLED,
            OrderStatusEnum.FILLED,
            filled_quantity=3.0,
            last_fill_quantity=3.0,
            last_fill_price=1.0,
            remaining_quantity=0.0,
            last_fill_date_time_ms=1_700_000_000,
        )
    )
    assert f.ts_ns == 1_700_000_000 * 10**9


def history_row(sid: str, qty: float, price: float, t: int, exec_id: str = "") -> HistoricalOrderFillResponse:
    return HistoricalOrderFillResponse(
        server_order_id=sid, quantity=qty, price=price, date_time_s=t, unique_execution_id=exec_id
    )


def test_fill_history_is_ordered_by_time_and_cumulated() -> None:
    rows = [history_row("S1", 2.0, 102.0, 20), history_row("S1", 1.0, 100.0, 10), history_row("S2", 9, 1, 5)]
    reps = fill_reports(rows, OrderRef(COID, 3.0), "S1")
    assert [(r.last_qty, r.cum_qty, r.status) for r in reps] == [
        (1.0, 1.0, OrderStatus.PARTIALLY_FILLED),
        (2.0, 3.0, OrderStatus.FILLED),
    ]
    assert reps[-1].avg_price == pytest.approx((100 + 204) / 3)
    assert [r.exec_id for r in reps] == ["S1@1", "S1@3"]


def test_an_order_nobody_here_sent_is_reported_as_foreign() -> None:
    [r] = fill_reports([history_row("S9", 1.0, 5.0, 1, "E1")], None, "S9")
    assert (r.client_order_id, r.exec_id, r.status) == ("sierra:S9", "E1", OrderStatus.PARTIALLY_FILLED)


@settings(max_examples=60, deadline=None)
@given(parts=st.lists(st.integers(1, 5), min_size=1, max_size=6), with_ids=st.booleans())
def test_a_fill_gets_the_same_id_live_and_from_the_history(parts: list[int], with_ids: bool) -> None:
    """The property recovery relies on: a fill seen live and again after a reconnect dedupes."""
    total = float(sum(parts))
    live, rows, cum = [], [], 0.0
    for i, q in enumerate(parts):
        cum += q
        exec_id = f"E{i}" if with_ids else ""
        live += order_update_reports(
            fill_update(cum=cum, last=q, price=100.0 + i, total=total, exec_id=exec_id)
        )
        rows.append(history_row("S1", q, 100.0 + i, 1000 + i, exec_id))
    recovered = fill_reports(rows, OrderRef(COID, total), "S1")
    assert [r.fill_id for r in recovered] == [r.fill_id for r in live]
    assert [r.status for r in recovered] == [r.status for r in live]
    assert len({r.fill_id for r in live}) == len(parts)


def test_positions_are_net_per_venue_symbol() -> None:
    cfg = ClientConfig(symbol_suffix="-CME")
    got = positions(
        [
            PositionUpdate(symbol="NQH25-CME", quantity=2.0),
            PositionUpdate(symbol="NQH25-CME", quantity=-1.0),
            PositionUpdate(symbol="ESH25-CME", quantity=0.0),
            PositionUpdate(no_positions=True),
        ],
        cfg.venue_symbol,
    )
    assert got == {"NQH25": 1.0}


def test_market_data_becomes_ticks_for_subscribed_symbols() -> None:
    book = MarketDataBook("sierra")
    book.subscribe(1, "NQH25")
    t = book.apply(
        MarketDataSnapshot(
            symbol_id=1,
            bid_price=10.0,
            ask_price=10.25,
            bid_quantity=3,
            ask_quantity=4,
            last_trade_price=10.0,
            last_trade_volume=1,
            last_trade_date_time_s=1_700_000_000.5,
        )
    )
    assert t is not None
    assert (t.symbol, t.bid, t.ask, t.last, t.venue_ts_ns) == (
        "NQH25",
        10.0,
        10.25,
        10.0,
        1_700_000_000_500_000_000,
    )
    t = book.apply(MarketDataUpdateBidAsk(symbol_id=1, bid_price=10.25, ask_price=DBL_MAX, bid_quantity=2))
    assert t is not None
    assert (t.bid, t.ask, t.last) == (10.25, None, 10.0)
    t = book.apply(MarketDataUpdateTrade(symbol_id=1, price=10.5, volume=2.0, date_time_s=1_700_000_001.0))
    assert t is not None
    assert (t.last, t.last_size) == (10.5, 2.0)
    assert book.apply(MarketDataUpdateTrade(symbol_id=2, price=1.0)) is None


def test_an_order_becomes_one_automated_submit_carrying_our_client_order_id() -> None:
    coid = "01JD3ZK6Q9X8V7W5T4S3R2P1N0.sc0"
    order = VenueOrder(client_order_id=coid, signal_id=coid[:26], venue="sierra", symbol="NQ", side=Side.SELL,
                       quantity=1, order_type=OrderType.LIMIT, limit_price=21000.25, venue_symbol="NQH25",
                       venue_quantity=1, time_in_force=TimeInForce.GTC)  # fmt: skip
    msg = dtc_order(order, "NQH25-CME", "CME", "Sim1")
    assert (msg.symbol, msg.exchange, msg.trade_account, msg.client_order_id) == (
        "NQH25-CME",
        "CME",
        "Sim1",
        coid,
    )
    assert (msg.order_type, msg.buy_sell, msg.price1, msg.time_in_force) == (
        OrderTypeEnum.LIMIT,
        BuySellEnum.SELL,
        21000.25,
        TimeInForceEnum.GOOD_TILL_CANCELED,
    )
    assert msg.is_automated_order
    assert msg.free_form_text == f"NEXUS {coid[:26]}"
    with pytest.raises(VenueError, match="without a limit price"):
        dtc_order(order.replace(limit_price=None), "NQH25", "", "Sim1")
    with pytest.raises(VenueError, match="cannot be sent over DTC"):
        dtc_order(order.replace(client_order_id="x" * 40), "NQH25", "", "Sim1")
