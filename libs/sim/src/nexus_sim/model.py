"""Value types of the simulated venue: quotes and depth, orders, execution reports, positions.

All are frozen dataclasses: what the market or the engine hands out is a snapshot that later activity
cannot change under the caller. Prices and quantities are floats on the tick and lot grid; money (P&L,
balances, margin) is `Decimal`, as everywhere in NEXUS.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum

from nexus_protocol.enums import OrderStatus, OrderType, Side, TimeInForce

DEFAULT_ACCOUNT = "SIM"


# -- market data --------------------------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True, slots=True)
class Quote:
    """Top of book plus the last trade for one symbol at `ts_ns`."""

    symbol: str
    bid: float
    ask: float
    last: float
    bid_size: float
    ask_size: float
    last_size: float
    ts_ns: int

    @property
    def mid(self) -> float:
        return (self.bid + self.ask) / 2

    @property
    def spread(self) -> float:
        return self.ask - self.bid


@dataclass(frozen=True, slots=True)
class DepthLevel:
    price: float
    size: float


@dataclass(frozen=True, kw_only=True, slots=True)
class Depth:
    """L2 book: `bids` best (highest) first, `asks` best (lowest) first; level 0 is the quote."""

    symbol: str
    bids: tuple[DepthLevel, ...]
    asks: tuple[DepthLevel, ...]
    ts_ns: int


# -- orders and reports -------------------------------------------------------------------------------


class RejectReason(StrEnum):
    UNKNOWN_ACCOUNT = "unknown_account"
    UNKNOWN_SYMBOL = "unknown_symbol"
    INVALID_QUANTITY = "invalid_quantity"  # <= 0, below the minimum, above the maximum, off the lot step
    INVALID_PRICE = "invalid_price"  # missing, <= 0 or off the tick grid
    MARKET_CLOSED = "market_closed"
    INSUFFICIENT_MARGIN = "insufficient_margin"
    DUPLICATE_CLIENT_ORDER_ID = "duplicate_client_order_id"
    PRICE_OUT_OF_BAND = "price_out_of_band"
    REQUOTE = "requote"  # MT5: the price moved beyond the allowed deviation
    UNKNOWN_ORDER = "unknown_order"  # cancel/replace of an order the venue does not know
    ORDER_NOT_OPEN = "order_not_open"  # cancel/replace of a filled, cancelled or rejected order
    UNKNOWN_POSITION = "unknown_position"  # hedging: close of a ticket that is not open
    UNSUPPORTED = "unsupported"  # e.g. replacing a market order
    VENUE_REJECTED = "venue_rejected"  # generic; the default for injected rejects


class ReportKind(StrEnum):
    """What happened (FIX ExecType); `Report.status` says where the order now stands."""

    PENDING_NEW = "pending_new"  # received, acknowledgement delayed by injected latency
    NEW = "new"
    FILL = "fill"  # partial or full: see status
    CANCELLED = "cancelled"
    REPLACED = "replaced"
    REJECTED = "rejected"
    CANCEL_REJECTED = "cancel_rejected"
    REPLACE_REJECTED = "replace_rejected"
    EXPIRED = "expired"


@dataclass(frozen=True, kw_only=True, slots=True)
class SimOrder:
    """A new-order request as a client sends it."""

    client_order_id: str
    symbol: str
    side: Side
    quantity: float
    order_type: OrderType = OrderType.MARKET
    limit_price: float | None = None
    stop_price: float | None = None
    time_in_force: TimeInForce = TimeInForce.GTC
    account: str = DEFAULT_ACCOUNT
    # MT5 instant execution: the price the client saw and how far (in ticks) the fill may differ from it
    # before the venue requotes instead of filling. Ignored unless both are set.
    expected_price: float | None = None
    deviation_ticks: int | None = None
    # Hedging accounts: close (part of) this position ticket instead of opening a new one.
    position_ticket: int | None = None


@dataclass(frozen=True, kw_only=True, slots=True)
class OrderState:
    """The venue's view of one order (what `order_by_client_id` returns)."""

    order: SimOrder  # as currently working: after a replace, the new id, quantity and prices
    venue_order_id: str  # "" for orders rejected before they were given one
    status: OrderStatus
    cum_qty: float
    avg_price: float  # 0.0 until the first fill
    leaves_qty: float
    created_ts_ns: int
    updated_ts_ns: int
    triggered: bool = False  # stop orders: the stop price was reached and the order now trades at market
    orig_client_order_id: str | None = None  # the id before the last replace that changed it
    reason: RejectReason | None = None
    text: str = ""

    @property
    def client_order_id(self) -> str:
        return self.order.client_order_id

    @property
    def symbol(self) -> str:
        return self.order.symbol

    @property
    def side(self) -> Side:
        return self.order.side

    @property
    def quantity(self) -> float:
        return self.order.quantity

    @property
    def account(self) -> str:
        return self.order.account

    @property
    def is_open(self) -> bool:
        return not self.status.terminal


@dataclass(frozen=True, kw_only=True, slots=True)
class Report:
    """One execution report. `exec_id` is unique per report; fills are the reports of kind FILL."""

    kind: ReportKind
    exec_id: str
    client_order_id: str
    venue_order_id: str
    account: str
    symbol: str
    side: Side
    order_type: OrderType
    quantity: float  # the order quantity
    status: OrderStatus
    ts_ns: int
    limit_price: float | None = None
    stop_price: float | None = None
    last_qty: float = 0.0
    last_price: float = 0.0
    cum_qty: float = 0.0
    avg_price: float = 0.0
    leaves_qty: float = 0.0
    reason: RejectReason | None = None
    text: str = ""
    orig_client_order_id: str | None = None  # REPLACED: the id the order had before
    position_ticket: int | None = None  # FILL on a hedging account: the ticket opened, added to or closed
    realized_pnl: Decimal = Decimal(0)  # FILL: P&L this fill realized by reducing a position

    @property
    def is_fill(self) -> bool:
        return self.kind is ReportKind.FILL


# -- positions and accounts ---------------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True, slots=True)
class SimPosition:
    """A net position (netting accounts) or one position ticket (hedging accounts)."""

    account: str
    symbol: str
    quantity: float  # signed: > 0 long, < 0 short, 0 flat
    avg_price: float  # average open price of the current quantity; 0.0 when flat
    realized_pnl: Decimal  # netting: everything realized on the symbol; hedging: on this ticket
    opened_ts_ns: int
    updated_ts_ns: int
    ticket: int | None = None  # hedging: the position ticket (the opening order's venue id as int)

    @property
    def side(self) -> Side | None:
        if self.quantity > 0:
            return Side.BUY
        if self.quantity < 0:
            return Side.SELL
        return None


@dataclass(frozen=True, kw_only=True, slots=True)
class SimAccountInfo:
    account: str
    currency: str
    hedging: bool
    balance: Decimal | None  # starting cash plus realized P&L; None when the cash check is off
    equity: Decimal | None  # balance plus unrealized P&L at the current quotes
    margin_used: Decimal  # positions and working orders
    free_margin: Decimal | None
    realized_pnl: Decimal
    unrealized_pnl: Decimal
