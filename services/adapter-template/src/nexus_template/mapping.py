"""Orders in the platform's terms, and what the platform reports in the adapter base's. Pure: no I/O,
unit-tested without the platform (tests/unit/<platform>/test_mapping.py).

Replace `PlatformOrder` with the platform's own request and `STATUS` with its states; keep the
client order id as the platform's order name or comment, so an order can be looked up by it."""

from __future__ import annotations

from dataclasses import dataclass

from nexus_mesh.adapter import VenueExecution, VenueReport
from nexus_protocol.enums import OrderStatus, OrderType, Side
from nexus_protocol.errors import VenueError
from nexus_protocol.messages import VenueOrder


@dataclass(frozen=True, slots=True)
class PlatformOrder:
    """What the platform's "new order" request carries."""

    name: str  # our client order id
    symbol: str
    buy: bool
    quantity: float
    limit_price: float | None = None


STATUS = {  # the platform's order states -> ours
    "new": OrderStatus.ACCEPTED,
    "partial": OrderStatus.PARTIALLY_FILLED,
    "filled": OrderStatus.FILLED,
    "cancelled": OrderStatus.CANCELLED,
    "rejected": OrderStatus.REJECTED,
}


def platform_order(order: VenueOrder) -> PlatformOrder:
    """Raises VenueError for what the platform cannot carry (refused before anything is sent)."""
    if order.order_type not in (OrderType.MARKET, OrderType.LIMIT):
        raise VenueError(f"{order.order_type.value} orders are not mapped for this platform")
    return PlatformOrder(
        name=order.client_order_id,
        symbol=order.venue_symbol,
        buy=order.side is Side.BUY,
        quantity=order.venue_quantity,
        limit_price=order.limit_price if order.order_type is OrderType.LIMIT else None,
    )


def order_report(
    name: str, state: str, reason: str | None = None, venue_order_id: str | None = None
) -> VenueReport:
    """One order's state as the platform reports it (fills come as executions, below)."""
    status = STATUS.get(state)
    if status is None:
        return VenueReport(name, OrderStatus.REJECTED, reason=f"unknown platform state {state!r}")
    return VenueReport(name, status, reason=reason, venue_order_id=venue_order_id)


def execution(name: str, exec_id: str, qty: float, price: float, ts_ns: int | None = None) -> VenueExecution:
    """One execution with the platform's own id: the base's ledger adds cumulative figures and
    derives the fill id from it, so the same execution seen twice is one fill."""
    return VenueExecution(client_order_id=name, exec_id=exec_id, qty=qty, price=price, ts_ns=ts_ns)
