"""Bookmap's add-on messages as the base's reports: executions for fills, states from updates."""

from __future__ import annotations

from typing import Any

import pytest

from nexus_bookmap import addon_protocol as ap
from nexus_bookmap import mapping
from nexus_mesh.adapter import VenueExecution
from nexus_protocol.enums import OrderStatus, OrderType, Side, TimeInForce
from nexus_protocol.errors import VenueError
from nexus_protocol.messages import VenueOrder

COID = "01JD3ZK6Q9X8V7W5T4S3R2P1N0.bm0"


def update(
    status: OrderStatus, filled: float = 0.0, avg: float | None = None, **kw: Any
) -> ap.AddonOrderUpdate:
    fields: dict[str, Any] = dict(
        client_id=COID, order_id="17", alias="NQH5", is_buy=True, status=status, venue_status="X",
        order_type="market", size=3.0, filled=filled, avg_price=avg, limit_price=None, stop_price=None,
        reason=None, time_ms=1_700_000_000_000,
    )  # fmt: skip
    fields.update(kw)
    return ap.AddonOrderUpdate(**fields)


def execution(**kw: Any) -> ap.AddonExecution:
    fields: dict[str, Any] = dict(client_id=COID, order_id="17", exec_id="e1", alias="NQH5", is_buy=True,
                                  price=100.0, size=1.0, time_ms=5)  # fmt: skip
    fields.update(kw)
    return ap.AddonExecution(**fields)


def test_an_order_becomes_one_order_submit_with_our_client_order_id() -> None:
    order = VenueOrder(
        client_order_id=COID, signal_id=COID[:26], venue="bookmap", symbol="NQ", side=Side.SELL, quantity=1,
        order_type=OrderType.LIMIT, limit_price=21000.25, time_in_force=TimeInForce.DAY,
        venue_symbol="NQH5", venue_quantity=2,
    )  # fmt: skip
    msg = mapping.order_submit(order)
    assert (msg.client_id, msg.alias, msg.is_buy, msg.size, msg.limit_price, msg.stop_price) == (
        COID,
        "NQH5",
        False,
        2.0,
        21000.25,
        None,
    )
    with pytest.raises(VenueError, match="cannot be sent to Bookmap"):
        mapping.order_submit(order.replace(client_order_id="x" * 65))


def test_only_what_bookmap_said_answers_a_submit() -> None:
    assert not mapping.answers_submit(update(OrderStatus.PENDING, order_id=None))  # the add-on's own
    assert mapping.answers_submit(update(OrderStatus.PENDING))  # Bookmap gave it an order id
    assert mapping.answers_submit(update(OrderStatus.REJECTED, order_id=None, reason="unknown alias"))


def test_updates_report_states_and_leave_fills_to_executions() -> None:
    assert mapping.state_report(COID, update(OrderStatus.PENDING)) is None
    assert mapping.state_report(COID, update(OrderStatus.FILLED, 3.0, 100.0)) is None
    accepted = mapping.state_report(COID, update(OrderStatus.ACCEPTED))
    assert accepted is not None
    # leaves: the base's, from the order's quantity
    assert (accepted.status, accepted.venue_order_id, accepted.leaves_qty) == (
        OrderStatus.ACCEPTED,
        "17",
        None,
    )
    cancelled = mapping.state_report(COID, update(OrderStatus.CANCELLED, 1.0, 100.0))
    assert cancelled is not None
    assert (cancelled.status, cancelled.cum_qty, cancelled.leaves_qty) == (OrderStatus.CANCELLED, 1.0, 0.0)
    rejected = mapping.state_report(COID, update(OrderStatus.REJECTED, reason="data-only connection"))
    assert rejected is not None
    assert rejected.reason == "data-only connection"


def test_executions_keep_bookmaps_execution_id() -> None:
    assert mapping.execution(COID, execution()) == VenueExecution(
        client_order_id=COID, exec_id="e1", qty=1.0, price=100.0, ts_ns=5_000_000, venue_order_id="17"
    )


def test_orders_this_gateway_did_not_send_are_named_by_their_bookmap_id() -> None:
    known = {"18": COID}
    assert mapping.client_order_id(update(OrderStatus.ACCEPTED, client_id=None, order_id="55"), known) == (
        "bookmap:55"
    )
    assert mapping.client_order_id(execution(client_id=None, order_id="18"), known) == COID
    assert mapping.client_order_id(execution(), {}) == COID


def test_a_lost_fill_is_named_by_the_order_and_what_bookmap_counts() -> None:
    assert mapping.missing_fill_id(update(OrderStatus.FILLED, 3.0, 101.0)) == "syn-17-3"
    working = mapping.working_report(COID, update(OrderStatus.PARTIALLY_FILLED, 1.0, 100.0))
    assert (working.status, working.cum_qty, working.leaves_qty) == (OrderStatus.ACCEPTED, 1.0, 2.0)
