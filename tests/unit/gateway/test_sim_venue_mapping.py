"""The simulated venue's mapping: engine reports to the base's, orders to the engine's, quotes to ticks."""

from __future__ import annotations

from typing import Any

from nexus_gateway.sim_venue.mapping import engine_order, reports, tick, to_venue_report
from nexus_protocol.enums import OrderStatus, OrderType, Side, TimeInForce
from nexus_protocol.messages import VenueOrder
from nexus_sim import Quote, RejectReason, Report, ReportKind

COID = "01JD3ZK6Q9X8V7W5T4S3R2P1N0.sm0"


def report(kind: ReportKind, status: OrderStatus, **kw: Any) -> Report:
    fields: dict[str, Any] = dict(
        kind=kind, exec_id="E1", client_order_id=COID, venue_order_id="V1", account="A", symbol="NQH25",
        side=Side.BUY, order_type=OrderType.MARKET, quantity=2.0, status=status, ts_ns=5,
    )  # fmt: skip
    fields.update(kw)
    return Report(**fields)


def test_fills_keep_the_engines_execution_id_and_states_carry_their_reason() -> None:
    fill = to_venue_report(report(ReportKind.FILL, OrderStatus.FILLED, last_qty=2.0, last_price=21000.0,
                                  cum_qty=2.0, avg_price=21000.0))  # fmt: skip
    assert fill is not None
    assert (fill.exec_id, fill.last_qty, fill.last_price, fill.fill_id) == (
        "E1",
        2.0,
        21000.0,
        f"{COID}:x:E1",
    )
    refused = to_venue_report(
        report(ReportKind.REJECTED, OrderStatus.REJECTED, reason=RejectReason.MARKET_CLOSED)
    )
    assert refused is not None
    assert (refused.status, refused.reason) == (OrderStatus.REJECTED, RejectReason.MARKET_CLOSED.value)
    assert reports(
        [report(ReportKind.NEW, OrderStatus.ACCEPTED), report(ReportKind.PENDING_NEW, OrderStatus.PENDING)]
    ) == [to_venue_report(report(ReportKind.NEW, OrderStatus.ACCEPTED))]


def test_an_order_and_a_quote_in_the_other_terms() -> None:
    order = VenueOrder(
        client_order_id=COID, signal_id=COID[:26], venue="sim", symbol="NQ", side=Side.SELL, quantity=1,
        order_type=OrderType.LIMIT, limit_price=20990.0, time_in_force=TimeInForce.GTC, venue_symbol="NQH25",
        venue_quantity=1,
    )  # fmt: skip
    sim = engine_order(order)
    assert (sim.client_order_id, sim.symbol, sim.side, sim.quantity, sim.limit_price) == (
        COID,
        "NQH25",
        Side.SELL,
        1.0,
        20990.0,
    )
    q = Quote(symbol="NQH25", bid=1.0, ask=2.0, last=1.5, bid_size=3.0, ask_size=4.0, last_size=1.0, ts_ns=9)
    t = tick("sim", q)
    assert (t.venue, t.symbol, t.bid, t.ask, t.last, t.venue_ts_ns) == ("sim", "NQH25", 1.0, 2.0, 1.5, 9)
