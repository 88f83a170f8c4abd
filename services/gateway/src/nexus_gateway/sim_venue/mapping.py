"""The simulated venue's engine in the adapter base's terms, both ways. Pure: no I/O."""

from __future__ import annotations

from nexus_mesh.adapter import VenueReport
from nexus_protocol.enums import OrderStatus, OrderType
from nexus_protocol.messages import Tick, VenueOrder
from nexus_sim import Quote, Report, ReportKind, SimOrder

_STATUS = {
    ReportKind.NEW: OrderStatus.ACCEPTED,
    ReportKind.REJECTED: OrderStatus.REJECTED,
    ReportKind.CANCELLED: OrderStatus.CANCELLED,
    ReportKind.EXPIRED: OrderStatus.EXPIRED,
}


def to_venue_report(r: Report) -> VenueReport | None:
    """An engine report as the base's report; None for the engine's own bookkeeping (pending, replaced)."""
    if r.kind is ReportKind.FILL:
        return VenueReport(
            client_order_id=r.client_order_id,
            status=r.status,
            exec_id=r.exec_id,
            last_qty=r.last_qty,
            last_price=r.last_price,
            cum_qty=r.cum_qty,
            avg_price=r.avg_price,
            leaves_qty=r.leaves_qty,
            venue_order_id=r.venue_order_id or None,
            ts_ns=r.ts_ns,
        )
    status = _STATUS.get(r.kind)
    if status is None:
        return None
    return VenueReport(
        client_order_id=r.client_order_id,
        status=status,
        cum_qty=r.cum_qty,
        avg_price=r.avg_price,
        leaves_qty=r.leaves_qty,
        reason=(r.text or (r.reason.value if r.reason else None)),
        venue_order_id=r.venue_order_id or None,
        ts_ns=r.ts_ns,
    )


def reports(engine_reports: list[Report]) -> list[VenueReport]:
    return [v for v in map(to_venue_report, engine_reports) if v is not None]


def engine_order(order: VenueOrder) -> SimOrder:
    return SimOrder(
        client_order_id=order.client_order_id, symbol=order.venue_symbol, side=order.side,
        quantity=order.venue_quantity, order_type=order.order_type,
        limit_price=order.limit_price if order.order_type is OrderType.LIMIT else None,
        stop_price=order.stop_price, time_in_force=order.time_in_force,
    )  # fmt: skip


def tick(venue: str, q: Quote) -> Tick:
    return Tick(venue=venue, symbol=q.symbol, bid=q.bid, ask=q.ask, last=q.last, bid_size=q.bid_size,
                ask_size=q.ask_size, last_size=q.last_size, venue_ts_ns=q.ts_ns)  # fmt: skip
