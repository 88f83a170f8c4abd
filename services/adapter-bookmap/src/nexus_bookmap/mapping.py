"""Orders to the add-on and what it reports back, in the adapter base's terms. Pure: no I/O.

Fills come from `execution` frames only: Bookmap's executionId is stable, the base's execution ledger
counts each once and the report's fill id derives from it, so an execution seen twice dedupes.
`order_update` frames give the other states (accepted, cancelled, rejected, expired) with Bookmap's own
filled quantity and average price, which are also used for one thing: to find fills whose execution
was never seen (`missing_fill`).

Synthesized fills (DESIGN: anything synthesized during recovery gets a deterministic id). An add-on
process reports every execution it saw (held while the link is down, listed in `open_orders_snapshot`),
so for an order sent to the add-on process that answers a snapshot, the ledger plus that snapshot is
complete. Only when the order was sent to an earlier add-on process (a new `instance_id`: Bookmap
restarted the script) can executions be lost; then Bookmap's `filled` beyond the ledger is a fill to
synthesize, priced so the ledger's average becomes Bookmap's, with id `syn-{bookmap order id}-{filled}`
(the same whenever that state is seen again).
Assumption (Bookmap's L1 API, not verified on a live Bookmap): an order's execution callback precedes
the order update that counts it; the simulator and the add-on keep that order.
"""

from __future__ import annotations

from pydantic import ValidationError

from nexus_bookmap import addon_protocol as ap
from nexus_mesh.adapter import VenueExecution, VenueReport
from nexus_protocol.enums import OrderStatus, OrderType, Side
from nexus_protocol.errors import VenueError
from nexus_protocol.messages import VenueOrder

OPEN = frozenset({OrderStatus.PENDING, OrderStatus.ACCEPTED, OrderStatus.PARTIALLY_FILLED})
_STATE_ONLY = frozenset(
    {OrderStatus.ACCEPTED, OrderStatus.CANCELLED, OrderStatus.REJECTED, OrderStatus.EXPIRED}
)


def order_submit(order: VenueOrder) -> ap.AddonOrderSubmit:
    """The `order_submit` for `order`; VenueError (definitive) when the add-on could not take it."""
    try:
        return ap.AddonOrderSubmit(
            client_id=order.client_order_id, alias=order.venue_symbol, is_buy=order.side is Side.BUY,
            size=order.venue_quantity, order_type=order.order_type,
            limit_price=order.limit_price if order.order_type is OrderType.LIMIT else None,
            stop_price=order.stop_price if order.order_type is OrderType.STOP else None,
            time_in_force=order.time_in_force,
        )  # fmt: skip
    except ValidationError as exc:
        raise VenueError(f"cannot be sent to Bookmap: {exc.errors()[0]['msg']}") from exc


def answers_submit(update: ap.AddonOrderUpdate) -> bool:
    """Proof that Bookmap has the order (it gave it an order id) or that the add-on refused it. The
    add-on's own `pending` (handed to Bookmap, no answer yet) proves nothing."""
    return update.order_id is not None or update.status is not OrderStatus.PENDING


def foreign_id(order_id: str | None) -> str:
    """The id under which an order this gateway did not send is reported (the base raises an event)."""
    return f"bookmap:{order_id}"


def client_order_id(msg: ap.AddonOrderUpdate | ap.AddonExecution, order_ids: dict[str, str]) -> str:
    """Ours (Bookmap's clientId, or learned from Bookmap's order id), else the order's foreign id."""
    known = order_ids.get(msg.order_id) if msg.order_id else None
    return msg.client_id or known or foreign_id(msg.order_id)


def execution(coid: str, x: ap.AddonExecution) -> VenueExecution:
    return VenueExecution(client_order_id=coid, exec_id=x.exec_id, qty=x.size, price=x.price,
                          ts_ns=x.time_ms * 1_000_000, venue_order_id=x.order_id)  # fmt: skip


def state_report(coid: str, update: ap.AddonOrderUpdate) -> VenueReport | None:
    """A state change worth reporting (accepted, cancelled, rejected, expired); fills come from executions."""
    if update.status not in _STATE_ONLY:
        return None
    return VenueReport(
        client_order_id=coid, status=update.status, cum_qty=update.filled, avg_price=update.avg_price,
        leaves_qty=0.0 if update.status.terminal else None, reason=update.reason,
        venue_order_id=update.order_id, ts_ns=update.time_ms * 1_000_000,
    )  # fmt: skip


def working_report(coid: str, update: ap.AddonOrderUpdate) -> VenueReport:
    """An open order as reconciliation lists it (accepted, with what filled so far)."""
    return VenueReport(
        client_order_id=coid, status=OrderStatus.ACCEPTED, cum_qty=update.filled, avg_price=update.avg_price,
        leaves_qty=max(update.size - update.filled, 0.0), venue_order_id=update.order_id,
        ts_ns=update.time_ms * 1_000_000,
    )  # fmt: skip


def missing_fill_id(update: ap.AddonOrderUpdate) -> str:
    """The id of the fill synthesized when Bookmap counts `update.filled` and the ledger less."""
    return f"syn-{update.order_id}-{update.filled:g}"
