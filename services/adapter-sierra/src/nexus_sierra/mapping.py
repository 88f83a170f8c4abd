"""Orders to DTC, and DTC's order, fill, position and market-data messages in the adapter base's terms.
Pure: no I/O.

The venue execution id of a fill (`VenueReport.exec_id`, from which the Fill id is derived, so a fill
seen twice publishes once) is chosen so the *same* fill gets the *same* id whichever way it arrives:
live in an ORDER_UPDATE, or after a reconnect in a HISTORICAL_ORDER_FILL_RESPONSE.

1. The server's own fill identifier when it sends one: ORDER_UPDATE.LastFillExecutionID, and
   HISTORICAL_ORDER_FILL_RESPONSE.UniqueExecutionID for the same fill (DTCProtocol.h 2022 has both;
   Sierra Chart documents them as the unique id of the fill).
2. Otherwise `"{ServerOrderID}@{cumulative filled quantity after this fill}"`. The cumulative
   quantity strictly grows with every fill of an order, so the pair is unique per fill; it is
   ORDER_UPDATE.FilledQuantity live, and the running sum of the order's fill history (requested by
   ServerOrderID) on recovery. Timestamps are deliberately left out: LastFillDateTime is
   milliseconds in the 2022 header and seconds before, and the history has whole seconds only.

Quantities and prices at DBL_MAX/FLT_MAX (DTC's "unset"), NaN, infinities and negative quantities
read as absent, so a malformed message can never become a fill.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from decimal import Decimal

from nexus_mesh.adapter import VenueReport
from nexus_protocol.enums import OrderStatus, OrderType, Side, TimeInForce
from nexus_protocol.errors import VenueError
from nexus_protocol.messages import Tick, VenueOrder
from nexus_sierra.dtc.codec import (
    FLT_MAX,
    BuySellEnum,
    DtcEncodeError,
    HistoricalOrderFillResponse,
    MarketDataSnapshot,
    MarketDataUpdateBidAsk,
    MarketDataUpdateBidAskCompact,
    MarketDataUpdateLastTradeSnapshot,
    MarketDataUpdateTrade,
    MarketDataUpdateTradeCompact,
    Message,
    OrderStatusEnum,
    OrderTypeEnum,
    OrderUpdate,
    OrderUpdateReasonEnum,
    PositionUpdate,
    SubmitNewSingleOrder,
    TimeInForceEnum,
    encode_binary,
)

_TYPES = {OrderType.MARKET: OrderTypeEnum.MARKET, OrderType.LIMIT: OrderTypeEnum.LIMIT,
          OrderType.STOP: OrderTypeEnum.STOP}  # fmt: skip
_TIF = {TimeInForce.DAY: TimeInForceEnum.DAY, TimeInForce.GTC: TimeInForceEnum.GOOD_TILL_CANCELED,
        TimeInForce.IOC: TimeInForceEnum.IMMEDIATE_OR_CANCEL,
        TimeInForce.FOK: TimeInForceEnum.FILL_OR_KILL}  # fmt: skip
_UNSET = FLT_MAX * 0.999  # anything this large is one of DTC's "unset" markers (FLT_MAX, DBL_MAX)
_EPS = 1e-9
_SECONDS_BEFORE_MS = 10**11  # a LastFillDateTime below this is seconds (pre-2022 header), not ms
Reason = OrderUpdateReasonEnum

WORKING = frozenset(
    {
        OrderStatusEnum.ORDER_SENT,
        OrderStatusEnum.PENDING_OPEN,
        OrderStatusEnum.PENDING_CHILD,
        OrderStatusEnum.OPEN,
        OrderStatusEnum.PENDING_CANCEL_REPLACE,
        OrderStatusEnum.PENDING_CANCEL,
        OrderStatusEnum.PARTIALLY_FILLED,
    }
)


@dataclass(frozen=True, slots=True)
class OrderRef:
    """What recovery needs to know about a Sierra order: our id for it and its quantity."""

    client_order_id: str
    order_qty: float | None = None


def number(value: float) -> float | None:
    """A DTC price or quantity, or None when it is unset or not a usable number."""
    if not math.isfinite(value) or abs(value) >= _UNSET:
        return None
    return value


def quantity(value: float) -> float | None:
    q = number(value)
    return q if q is not None and q >= 0 else None


def qty_text(q: float | Decimal) -> str:
    """A canonical decimal spelling (2.0 -> "2", 0.50 -> "0.5") for ids built from quantities."""
    d = q if isinstance(q, Decimal) else Decimal(repr(q))
    return f"{d.normalize():f}"


def fallback_exec_id(server_order_id: str, cum_qty: float | Decimal) -> str:
    return f"{server_order_id}@{qty_text(cum_qty)}"


def fill_ts_ns(update: OrderUpdate) -> int | None:
    v = update.last_fill_date_time_ms
    if v <= 0:
        return None
    ms = v * 1000 if v < _SECONDS_BEFORE_MS else v
    return ms * 1_000_000


def _update_ts_ns(update: OrderUpdate) -> int | None:
    t = number(update.latest_transaction_date_time_s)
    return round(t * 1e9) if t and t > 0 else None


def _state(
    u: OrderUpdate, status: OrderStatus, *, reason: str | None = None, leaves_qty: float | None = None
) -> VenueReport:
    return VenueReport(
        client_order_id=u.client_order_id,
        status=status,
        reason=reason,
        cum_qty=quantity(u.filled_quantity) or 0.0,
        avg_price=number(u.average_fill_price),
        leaves_qty=leaves_qty,
        venue_order_id=u.server_order_id or None,
        ts_ns=_update_ts_ns(u),
    )


def _fill(u: OrderUpdate) -> VenueReport | None:
    last_qty, last_price = quantity(u.last_fill_quantity), number(u.last_fill_price)
    if not last_qty or last_price is None:
        return None
    cum, leaves = quantity(u.filled_quantity), quantity(u.remaining_quantity)
    done = u.order_status is OrderStatusEnum.FILLED or (leaves is not None and leaves <= _EPS)
    exec_id = u.last_fill_execution_id.strip()
    if not exec_id:
        exec_id = (
            fallback_exec_id(u.server_order_id, cum)
            if cum is not None
            else f"{u.server_order_id}@t{u.last_fill_date_time_ms}/{qty_text(last_qty)}"
        )
    return VenueReport(
        client_order_id=u.client_order_id,
        status=OrderStatus.FILLED if done else OrderStatus.PARTIALLY_FILLED,
        exec_id=exec_id,
        last_qty=last_qty,
        last_price=last_price,
        cum_qty=cum or last_qty,
        avg_price=number(u.average_fill_price),
        leaves_qty=leaves,
        venue_order_id=u.server_order_id or None,
        ts_ns=fill_ts_ns(u),
    )


def order_update_reports(u: OrderUpdate) -> list[VenueReport]:
    """A live ORDER_UPDATE as reports: a fill, or the order's new state; [] if it says nothing new."""
    if u.no_orders or not u.client_order_id:
        return []
    reason, status = u.order_update_reason, u.order_status
    if reason in (Reason.ORDER_CANCEL_REJECTED, Reason.ORDER_CANCEL_REPLACE_REJECTED):
        return []  # the order is unchanged (its status may say REJECTED: the request was); the client logs it
    if reason in (Reason.ORDER_FILLED, Reason.ORDER_FILLED_PARTIALLY):
        fill = _fill(u)
        return [fill] if fill is not None else []
    if reason is Reason.NEW_ORDER_REJECTED or status is OrderStatusEnum.REJECTED:
        return [
            _state(u, OrderStatus.REJECTED, reason=u.info_text or "rejected by Sierra Chart", leaves_qty=0.0)
        ]
    if reason is Reason.ORDER_CANCELED or status is OrderStatusEnum.CANCELED:
        return [_state(u, OrderStatus.CANCELLED, reason=u.info_text or None, leaves_qty=0.0)]
    if reason is Reason.NEW_ORDER_ACCEPTED or status in WORKING:
        return [open_order_report(u)]
    return []


def open_order_report(u: OrderUpdate) -> VenueReport:
    """A working order restated (open orders, accepted): its state, never a fill."""
    return _state(u, OrderStatus.ACCEPTED, leaves_qty=quantity(u.remaining_quantity))


def final_state_report(u: OrderUpdate) -> VenueReport | None:
    """A looked-up order's terminal non-fill state (cancelled, rejected), if it has one."""
    if u.order_status is OrderStatusEnum.CANCELED:
        return _state(u, OrderStatus.CANCELLED, reason=u.info_text or None, leaves_qty=0.0)
    if u.order_status is OrderStatusEnum.REJECTED:
        return _state(
            u, OrderStatus.REJECTED, reason=u.info_text or "rejected by Sierra Chart", leaves_qty=0.0
        )
    return None


def ref_of(u: OrderUpdate) -> OrderRef | None:
    if not u.server_order_id or not u.client_order_id:
        return None
    return OrderRef(u.client_order_id, quantity(u.order_quantity))


def fill_reports(
    history: Sequence[HistoricalOrderFillResponse], ref: OrderRef | None, server_order_id: str
) -> list[VenueReport]:
    """The complete fill history of one order as fill reports, cumulative fields computed in order.

    Without a ref (an order this gateway cannot attribute) the client order id is
    `sierra:{ServerOrderID}`: the adapter base reports it as a foreign order, never as ours."""
    coid = ref.client_order_id if ref else f"sierra:{server_order_id}"
    order_qty = ref.order_qty if ref else None
    rows = [f for f in history if not f.no_order_fills and f.server_order_id == server_order_id]
    ordered = sorted(enumerate(rows), key=lambda p: (p[1].date_time_s, p[0]))
    cum, notional, out = Decimal(0), Decimal(0), []
    for _i, f in ordered:
        q, p = quantity(f.quantity), number(f.price)
        if not q or p is None:
            continue
        cum += Decimal(repr(q))
        notional += Decimal(repr(q)) * Decimal(repr(p))
        leaves = max(order_qty - float(cum), 0.0) if order_qty is not None else None
        done = leaves is not None and leaves <= _EPS
        out.append(
            VenueReport(
                client_order_id=coid,
                status=OrderStatus.FILLED if done else OrderStatus.PARTIALLY_FILLED,
                exec_id=f.unique_execution_id.strip() or fallback_exec_id(server_order_id, cum),
                last_qty=q,
                last_price=p,
                cum_qty=float(cum),
                avg_price=float(notional / cum),
                leaves_qty=leaves,
                venue_order_id=server_order_id,
                ts_ns=f.date_time_s * 1_000_000_000 if f.date_time_s > 0 else None,
            )
        )
    return out


def positions(updates: Iterable[PositionUpdate], venue_symbol: Callable[[str], str]) -> dict[str, float]:
    """Signed net quantity per venue symbol (several position ids of one symbol are summed)."""
    out: dict[str, float] = {}
    for p in updates:
        q = number(p.quantity)
        if p.no_positions or not p.symbol or q is None:
            continue
        sym = venue_symbol(p.symbol)
        out[sym] = out.get(sym, 0.0) + q
    return {s: q for s, q in out.items() if abs(q) > _EPS}


@dataclass(slots=True)
class _Quote:
    symbol: str
    bid: float | None = None
    ask: float | None = None
    last: float | None = None
    bid_size: float | None = None
    ask_size: float | None = None
    last_size: float | None = None


class MarketDataBook:
    """Top of book per subscribed SymbolID, updated by snapshots and updates, read out as Ticks."""

    def __init__(self, venue: str) -> None:
        self.venue = venue
        self._quotes: dict[int, _Quote] = {}

    def subscribe(self, symbol_id: int, venue_symbol: str) -> None:
        self._quotes[symbol_id] = _Quote(venue_symbol)

    def apply(self, msg: Message) -> Tick | None:
        """The Tick after `msg`, or None if `msg` is not market data for a subscribed symbol."""
        q = self._quotes.get(getattr(msg, "symbol_id", -1))
        if q is None:
            return None
        ts: float | None = None
        if isinstance(msg, MarketDataSnapshot):
            q.bid, q.ask = number(msg.bid_price), number(msg.ask_price)
            q.bid_size, q.ask_size = quantity(msg.bid_quantity), quantity(msg.ask_quantity)
            q.last, q.last_size = number(msg.last_trade_price), quantity(msg.last_trade_volume)
            ts = msg.last_trade_date_time_s or msg.bid_ask_date_time_s
        elif isinstance(msg, MarketDataUpdateBidAsk | MarketDataUpdateBidAskCompact):
            q.bid, q.ask = number(msg.bid_price), number(msg.ask_price)
            q.bid_size, q.ask_size = quantity(msg.bid_quantity), quantity(msg.ask_quantity)
            ts = msg.date_time_s
        elif isinstance(msg, MarketDataUpdateTrade | MarketDataUpdateTradeCompact):
            q.last, q.last_size = number(msg.price), quantity(msg.volume)
            ts = msg.date_time_s
        elif isinstance(msg, MarketDataUpdateLastTradeSnapshot):
            q.last, q.last_size = number(msg.last_trade_price), quantity(msg.last_trade_volume)
            ts = msg.last_trade_date_time_s
        else:
            return None
        t = number(float(ts)) if ts else None
        return Tick(
            venue=self.venue,
            symbol=q.symbol,
            bid=q.bid,
            ask=q.ask,
            last=q.last,
            bid_size=q.bid_size,
            ask_size=q.ask_size,
            last_size=q.last_size,
            venue_ts_ns=round(t * 1e9) if t and 0 < t < 1e11 else None,
        )


def dtc_order(order: VenueOrder, wire_symbol: str, exchange: str, account: str) -> SubmitNewSingleOrder:
    """The SUBMIT_NEW_SINGLE_ORDER for `order`: ClientOrderID = our client order id, IsAutomatedOrder,
    FreeFormText "NEXUS {signal}". VenueError (definitive, nothing sent) when DTC cannot carry it."""
    if order.order_type is OrderType.LIMIT and order.limit_price is None:
        raise VenueError("limit order without a limit price")
    if order.order_type is OrderType.STOP and order.stop_price is None:
        raise VenueError("stop order without a stop price")
    price1 = order.limit_price if order.order_type is OrderType.LIMIT else order.stop_price
    msg = SubmitNewSingleOrder(
        symbol=wire_symbol, exchange=exchange, trade_account=account, client_order_id=order.client_order_id,
        order_type=_TYPES[order.order_type],
        buy_sell=BuySellEnum.BUY if order.side is Side.BUY else BuySellEnum.SELL,
        price1=price1 or 0.0, quantity=order.venue_quantity, time_in_force=_TIF[order.time_in_force],
        is_automated_order=True, free_form_text=f"NEXUS {order.signal_id}"[:47],
    )  # fmt: skip
    try:
        encode_binary(msg)
    except DtcEncodeError as exc:
        raise VenueError(f"cannot be sent over DTC: {exc}") from exc
    return msg
