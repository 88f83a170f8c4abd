"""Bookmap order events as VenueReports: fills from the ledger, states from updates, synthesized fills."""

from __future__ import annotations

from typing import Any

import pytest

from nexus_bookmap import addon_protocol as ap
from nexus_bookmap.orders import (
    LedgerFill,
    OrderRecord,
    fill_reports,
    foreign_report,
    missing_fill,
    state_report,
)
from nexus_protocol.enums import OrderStatus

COID = "01JD3ZK6Q9X8V7W5T4S3R2P1N0.bm0"


def update(status: OrderStatus, filled: float = 0.0, avg: float | None = None, **kw: Any) -> ap.OrderUpdate:
    fields: dict[str, Any] = dict(
        client_id=COID, order_id="17", alias="NQH5", is_buy=True, status=status, venue_status="X",
        order_type="market", size=3.0, filled=filled, avg_price=avg, limit_price=None, stop_price=None,
        reason=None, time_ms=1_700_000_000_000,
    )  # fmt: skip
    fields.update(kw)
    return ap.OrderUpdate(**fields)


def test_fill_reports_carry_cumulative_figures_as_of_each_fill() -> None:
    record = OrderRecord(COID, instance="a", order_id="17",
                         fills=[LedgerFill("e1", 1.0, 100.0), LedgerFill("e2", 2.0, 101.0)])  # fmt: skip
    first, second = fill_reports(record, 3.0)
    assert (first.status, first.cum_qty, first.leaves_qty, first.avg_price) == (
        OrderStatus.PARTIALLY_FILLED, 1.0, 2.0, 100.0)  # fmt: skip
    assert (second.status, second.cum_qty, second.leaves_qty) == (OrderStatus.FILLED, 3.0, 0.0)
    assert second.avg_price == pytest.approx(302.0 / 3)
    assert second.fill_id == f"{COID}:x:e2"  # keyed by Bookmap's execution id: re-reports dedupe
    assert fill_reports(record, 3.0) == [first, second]  # the same however often they are asked for


def test_updates_report_states_and_leave_fills_to_executions() -> None:
    record = OrderRecord(COID, fills=[LedgerFill("e1", 1.0, 100.0)])
    assert state_report(update(OrderStatus.PENDING), record, 3.0) is None
    assert state_report(update(OrderStatus.FILLED, 3.0, 100.0), record, 3.0) is None
    accepted = state_report(update(OrderStatus.ACCEPTED), record, 3.0)
    assert accepted is not None
    assert (accepted.status, accepted.venue_order_id, accepted.leaves_qty) == (
        OrderStatus.ACCEPTED,
        "17",
        2.0,
    )
    cancelled = state_report(update(OrderStatus.CANCELLED, 1.0, 100.0), record, 3.0)
    assert cancelled is not None
    assert (cancelled.status, cancelled.cum_qty, cancelled.leaves_qty) == (OrderStatus.CANCELLED, 1.0, 0.0)
    rejected = state_report(update(OrderStatus.REJECTED, reason="data-only connection"), record, 3.0)
    assert rejected is not None
    assert rejected.reason == "data-only connection"


def test_a_fill_lost_with_an_earlier_add_on_process_is_synthesized_deterministically() -> None:
    record = OrderRecord(COID, instance="old", order_id="17", fills=[LedgerFill("e1", 1.0, 100.0)])
    filled = update(OrderStatus.FILLED, 3.0, 101.0)
    syn = missing_fill(record, filled, "new")
    assert syn is not None
    assert (syn.exec_id, syn.qty, syn.synthetic) == ("syn-17-3", 2.0, True)
    assert syn.price == pytest.approx(101.5)  # so that the order's average is Bookmap's 101
    assert missing_fill(record, filled, "new") == syn  # the same state seen again: the same fill
    assert missing_fill(record, filled, "old") is None  # the same process reports every execution
    record.fills.append(syn)
    assert missing_fill(record, filled, "new") is None
    assert record.avg_price == pytest.approx(101.0)


def test_nothing_is_synthesized_without_a_price_or_a_gap() -> None:
    record = OrderRecord(COID, instance="old", order_id="17")
    assert missing_fill(record, update(OrderStatus.ACCEPTED), "new") is None
    assert missing_fill(record, update(OrderStatus.FILLED, 3.0, None), "new") is None
    priced = missing_fill(record, update(OrderStatus.FILLED, 3.0, None, limit_price=99.0), "new")
    assert priced is not None
    assert priced.price == 99.0


def test_orders_this_gateway_did_not_send_are_reported_under_their_bookmap_id() -> None:
    manual = foreign_report(update(OrderStatus.ACCEPTED, client_id=None, order_id="55"))
    assert manual.client_order_id == "bookmap:55"
    x = ap.Execution(client_id=None, order_id="55", exec_id="x9", alias="NQH5", is_buy=None, price=1.0,
                     size=1.0, time_ms=0)  # fmt: skip
    assert foreign_report(x).fill_id == "bookmap:55:x:x9"


def test_the_ledger_record_round_trips() -> None:
    fills = [LedgerFill("e1", 1.0, 100.0, 5, False), LedgerFill("syn-17-2", 1.0, 101.0, 6, True)]
    record = OrderRecord(COID, instance="i", order_id="17", fills=fills)
    assert OrderRecord.loads(COID, record.dumps()) == record
