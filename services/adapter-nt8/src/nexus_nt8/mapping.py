"""Orders to the platform and what it reports back, for the bridge protocol and for the ATI. Pure: no I/O.

The rules that keep fills exact and single:
- Fills come only from executions (`execution_update`, or `executions` in a snapshot), each keyed
  by the platform's execution id and counted in the base's execution ledger. An `order_update` that
  says `partially_filled` / `filled` is a state, not a fill, and becomes no report: the execution that
  caused it is the report. So an order filled once produces exactly one FILLED fill on nx:fills:raw,
  however many updates describe it.
- Other states become status reports (`accepted`, `cancelled`, `rejected`, `expired`), whose ids
  derive from the client order id and the state, so repeats dedupe.
- Every execution time, marker and id passes through unchanged: the reconcile marker is the last
  execution's `time_ns|execution_id`, enough to ask for "everything after" by id or, if the platform
  no longer knows the id (restarted), by time.
- The ATI reports only an order's state, filled quantity and average price: each increase of the
  filled quantity is one fill the ledger synthesizes (`ati_execution_id`), whose id derives from the
  order and the new cumulative quantity, so reading the same state again yields the same fill.
"""

from __future__ import annotations

from nexus_mesh.adapter import VenueExecution, VenueReport
from nexus_nt8.ati_client import AtiState, PlaceCommand
from nexus_nt8.config import PlatformProfile
from nexus_protocol.bridge import (
    BridgeMessage,
    ErrorMessage,
    ExecutionUpdate,
    OrderSubmit,
    OrderUpdate,
    WorkingOrder,
)
from nexus_protocol.bridge.messages import ExecutionRecord
from nexus_protocol.enums import OrderStatus, OrderType, Side, TimeInForce
from nexus_protocol.errors import VenueError
from nexus_protocol.messages import VenueOrder

# States that are reported as such; fills are reported by executions instead.
STATUS_REPORTED = frozenset(
    {OrderStatus.ACCEPTED, OrderStatus.CANCELLED, OrderStatus.REJECTED, OrderStatus.EXPIRED}
)
MAX_QUANTITY = 2**31 - 1
ATI_TIF = {TimeInForce.DAY: "DAY", TimeInForce.GTC: "GTC"}
ATI_TYPE = {OrderType.MARKET: "MARKET", OrderType.LIMIT: "LIMIT", OrderType.STOP: "STOPMARKET"}


def order_submit(order: VenueOrder, account: str, profile: PlatformProfile) -> OrderSubmit:
    """The `order_submit` for `order`; VenueError (definitive) when the platform cannot express it."""
    coid = order.client_order_id
    if len(coid) > profile.max_order_id_chars:
        raise VenueError(f"client order id {coid!r} exceeds {profile.title}'s {profile.order_id_field} limit")
    if order.time_in_force not in profile.time_in_force:
        raise VenueError(
            f"{profile.title} cannot place time in force {order.time_in_force.value}", code="invalid_order"
        )
    qty = order.venue_quantity
    if qty != int(qty) or not 1 <= qty <= MAX_QUANTITY:
        raise VenueError(f"{profile.title} trades whole contracts; got quantity {qty}", code="invalid_order")
    limit = order.limit_price if order.order_type is OrderType.LIMIT else None
    stop = order.stop_price if order.order_type is OrderType.STOP else None
    if (order.order_type is OrderType.LIMIT and limit is None) or (
        order.order_type is OrderType.STOP and stop is None
    ):
        raise VenueError(f"a {order.order_type.value} order needs its price", code="invalid_order")
    return OrderSubmit(
        client_order_id=coid, account=account, instrument=order.venue_symbol, side=order.side,
        quantity=int(qty), order_type=order.order_type, limit_price=limit, stop_price=stop,
        time_in_force=order.time_in_force,
    )  # fmt: skip


def answers_submit(msg: BridgeMessage, coid: str) -> bool:
    """Proof that the platform has (or refused) the order: any update or execution for it, or an error."""
    if isinstance(msg, OrderUpdate | ExecutionUpdate):
        return msg.client_order_id == coid
    return isinstance(msg, ErrorMessage) and msg.client_order_id == coid


def answers_cancel(msg: BridgeMessage, coid: str) -> bool:
    if isinstance(msg, OrderUpdate):
        return msg.client_order_id == coid and msg.status.terminal
    return isinstance(msg, ErrorMessage) and msg.client_order_id == coid


def execution(x: ExecutionRecord | ExecutionUpdate) -> VenueExecution:
    """An execution, live or listed in a snapshot (the ledger gives it cumulative figures)."""
    return VenueExecution(
        client_order_id=x.client_order_id, exec_id=x.execution_id, qty=float(x.quantity), price=x.price,
        fee=x.commission, ts_ns=x.time_ns, venue_order_id=x.platform_order_id or None,
    )  # fmt: skip


def status_report(update: OrderUpdate | WorkingOrder) -> VenueReport | None:
    """A state change as a report, or None for states that are not reported (pending, fills)."""
    status = update.status
    if status not in STATUS_REPORTED:
        return None
    leaves: float | None = None  # a working order's: the base's, from the order's quantity
    if status.terminal:
        leaves = 0.0
    elif isinstance(update, WorkingOrder):
        leaves = max(0.0, float(update.quantity) - update.filled_quantity)
    reason = update.reason if isinstance(update, OrderUpdate) else None
    ts_ns = update.time_ns if isinstance(update, OrderUpdate) else None
    return VenueReport(
        client_order_id=update.client_order_id, status=status, cum_qty=float(update.filled_quantity),
        avg_price=update.avg_fill_price, leaves_qty=leaves, venue_order_id=update.platform_order_id,
        reason=reason, ts_ns=ts_ns,
    )  # fmt: skip


def working_report(order: WorkingOrder) -> VenueReport:
    """A non-terminal order as listed by reconciliation: working (accepted), with what has filled."""
    filled = float(order.filled_quantity)
    return VenueReport(
        client_order_id=order.client_order_id, status=OrderStatus.ACCEPTED, cum_qty=filled,
        avg_price=order.avg_fill_price, leaves_qty=float(order.quantity) - filled,
        venue_order_id=order.platform_order_id,
    )  # fmt: skip


def marker(execution: ExecutionRecord | ExecutionUpdate) -> str:
    """The reconcile marker after `execution`: `time_ns|execution_id`."""
    return f"{execution.time_ns}|{execution.execution_id}"


def parse_marker(value: str | None) -> tuple[str | None, int | None]:
    """(since_execution_id, since_time_ns) for `open_orders_query`; tolerant of a bare execution id."""
    if not value:
        return None, None
    head, sep, tail = value.partition("|")
    if sep and head.isdigit() and tail:
        return tail, int(head)
    return value, None


# ---- NinjaTrader's ATI ----------------------------------------------------------------------------


def place_command(order: VenueOrder, account: str) -> PlaceCommand:
    """The ATI PLACE for `order` (its ORDER ID is our client order id); VenueError when the ATI cannot."""
    tif = ATI_TIF.get(order.time_in_force)
    if tif is None:
        raise VenueError(
            f"NinjaTrader's ATI has no {order.time_in_force.value} orders (DAY, GTC only)",
            code="invalid_order",
        )
    qty = order.venue_quantity
    if qty != int(qty) or qty < 1:
        raise VenueError(f"NinjaTrader trades whole contracts; got quantity {qty}", code="invalid_order")
    return PlaceCommand(
        account=account, instrument=order.venue_symbol, action="BUY" if order.side is Side.BUY else "SELL",
        quantity=int(qty), order_type=ATI_TYPE[order.order_type],
        limit_price=order.limit_price if order.order_type is OrderType.LIMIT else None,
        stop_price=order.stop_price if order.order_type is OrderType.STOP else None,
        tif=tif, order_id=order.client_order_id,
    )  # fmt: skip


def ati_execution_id(coid: str, filled: int) -> str:
    """The id of the fill synthesized when an order's filled quantity reaches `filled`."""
    return f"ati-{coid}-{filled}"


def ati_status(coid: str, state: AtiState) -> VenueReport | None:
    """An ATI state worth a report (accepted, cancelled, rejected); fills come from the ledger."""
    if state.status not in STATUS_REPORTED:
        return None
    refused = state.status is OrderStatus.REJECTED
    return VenueReport(
        client_order_id=coid, status=state.status, cum_qty=float(state.filled),
        avg_price=state.avg_price or None, leaves_qty=0.0 if state.status.terminal else None,
        reason="rejected by NinjaTrader (the ATI gives no reason)" if refused else None,
    )  # fmt: skip
