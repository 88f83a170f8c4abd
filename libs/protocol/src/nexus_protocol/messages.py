"""Message bodies: one msgspec Struct per message kind (decision 0008).

Every body declares its wire `TYPE` and schema `VERSION`; the codec puts both in the entry header.
Prices and quantities are floats on the wire; money is computed by the stages that own it and
rounded at the edge. Decoding checks types, enums and the declared constraints (`Meta`) in C; unknown
fields are refused. Constructing a message with keyword arguments checks nothing: where a message is
built from untrusted data (a platform, a client, an operator, a file), pass it through
`nexus_protocol.codec.validated`, which also refuses non-finite floats (a NaN price or an infinite
quantity would pass `gt=0`-style checks or none at all and fail later, far from where it entered)
and text longer than its limit (`TEXT_LIMITS`).
Quantities are *universal* (units of the root, e.g. NQ contracts) unless the field says `venue_`.
"""

from __future__ import annotations

from typing import Annotated, Any, ClassVar, Self

import msgspec
from msgspec import Meta, field

from nexus_protocol.enums import OrderStatus, OrderType, Severity, Side, TimeInForce

Positive = Annotated[float, Meta(gt=0)]
Unit = Annotated[float, Meta(ge=0, le=1)]

# The longest text a message from outside may carry, in characters, by field name (every other text
# field: TEXT_DEFAULT; a tuple of texts: each item, and at most ITEMS_MAX items). Checked where data
# enters (`codec.validated`, `decode(..., validate=True)`), not between the mesh's own stages, whose
# messages (a route's joined reasons, a dead letter's fields) are bounded by what entered.
TEXT_LIMITS: dict[str, int] = {
    **dict.fromkeys(("signal_id", "client_order_id", "activation"), 64),  # (a fill id holds a venue's: 256)
    **dict.fromkeys(("symbol", "venue_symbol", "contract", "root", "previous", "venue", "venues"), 64),
    **dict.fromkeys(("currency", "purpose", "kind", "source", "by", "strategy"), 128),
    **dict.fromkeys(("reason", "message"), 2000),
}
TEXT_DEFAULT = 256
ITEMS_MAX = 64


class Message(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    TYPE: ClassVar[str]
    VERSION: ClassVar[int] = 1

    def replace(self, **changes: Any) -> Self:
        """A copy with `changes` (not validated: see `codec.validated`)."""
        return msgspec.structs.replace(self, **changes)

    def to_dict(self) -> dict[str, Any]:
        """Plain data (enums as strings, tuples as lists), as JSON or a report would show it."""
        out: dict[str, Any] = msgspec.to_builtins(self)
        return out


class Part(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """A struct nested in a message (a route leg, an execution leg, a book level)."""


class Signal(Message, frozen=True, kw_only=True):
    """What NEXUS wants: one decision on a universal symbol, fanned out to venues by the router."""

    TYPE: ClassVar[str] = "signal"

    signal_id: str = ""  # ULID; the router assigns one when empty
    symbol: str
    side: Side
    quantity: Positive
    order_type: OrderType = OrderType.MARKET
    limit_price: float | None = None
    stop_price: float | None = None
    time_in_force: TimeInForce = TimeInForce.DAY
    reference_price: float | None = None  # the price NEXUS saw; slippage is measured against it
    confidence: Unit | None = None
    mqscore: float | None = None
    noise: float | None = None
    strategy: str = ""
    venues: tuple[str, ...] = ()  # empty: every enabled venue that lists the symbol
    reduce_only: bool = False  # closing and roll orders; allowed while risk blocks new exposure
    contract: str | None = None  # a dated (NQH25) or continuous (NQ2!) contract instead of the active one
    stop_loss: Positive | None = None  # where the idea is wrong: risk sizing's distance


class Order(Message, frozen=True, kw_only=True):
    """One routed leg: the signal for one venue, still in universal terms (router -> normalizer)."""

    TYPE: ClassVar[str] = "order"

    client_order_id: str
    signal_id: str
    venue: str
    symbol: str
    side: Side
    quantity: Positive
    order_type: OrderType = OrderType.MARKET
    limit_price: float | None = None
    stop_price: float | None = None
    time_in_force: TimeInForce = TimeInForce.DAY
    reference_price: float | None = None
    attempt: int = 0
    purpose: str = "signal"  # signal | roll | flatten
    reduce_only: bool = False
    contract: str | None = None  # set: this contract, not the active one (position rolls)


class VenueOrder(Order, frozen=True, kw_only=True):
    """A leg in the venue's terms (normalizer -> adapter): its symbol, contract and quantity units."""

    TYPE: ClassVar[str] = "venue_order"

    venue_symbol: str
    contract: str | None = None
    venue_quantity: Positive
    qty_factor: float = 1.0
    rounding_residual: float = 0.0  # universal units lost to the venue's lot step, reported not dropped
    currency: str = "USD"
    point_value: float = 1.0  # venue currency per point per venue unit
    venue_reference_price: float | None = None  # the venue's own quote when routed


class Cancel(Message, frozen=True, kw_only=True):
    """Cancel a working leg (kill switch, roll, operator)."""

    TYPE: ClassVar[str] = "cancel"

    client_order_id: str
    venue: str
    reason: str


class Fill(Message, frozen=True, kw_only=True):
    """A venue report on one leg: a fill, or a state change (accepted, rejected, cancelled).

    Adapters fill the venue part; the normalizer adds the universal part; fx adds the USD part.
    `fill_id` is derived from the venue's own execution id (or from what a synthesized report stands
    for), so a report seen twice dedupes.
    """

    TYPE: ClassVar[str] = "fill"

    fill_id: str
    client_order_id: str
    signal_id: str
    venue: str
    status: OrderStatus
    venue_symbol: str
    side: Side
    last_qty: float = 0.0
    last_price: float | None = None
    cum_qty: float = 0.0
    avg_price: float | None = None
    leaves_qty: float | None = None
    fee: float = 0.0
    currency: str = "USD"
    reason: str | None = None
    venue_order_id: str | None = None
    venue_ts_ns: int | None = None
    synthetic: bool = False
    # normalizer
    symbol: str | None = None
    contract: str | None = None
    qty_factor: float | None = None  # venue units per universal unit
    point_value: float | None = None  # venue currency per point per venue unit
    venue_reference_price: float | None = None  # the venue's quote when the leg was routed
    # fx
    usd_rate: float | None = None  # USD per one unit of `currency`
    fee_usd: float | None = None


class RouteLeg(Part, frozen=True, kw_only=True):
    venue: str
    client_order_id: str
    status: OrderStatus  # PENDING (routed) or REJECTED (refused by risk or routing)
    reason: str | None = None
    quantity: float | None = None  # universal units this venue's sizing gave (None: the signal's)
    rounding_residual: float = 0.0  # universal units the venue's lot step leaves out of `quantity`
    symbol: str | None = None  # the root this venue trades for the signal's (NQ -> MNQ); None: the same
    ratio: float = 1.0  # units of `symbol` per unit of the signal's root at equal exposure (MNQ: 10)


class Route(Message, frozen=True, kw_only=True):
    """The router's decision for one signal: which legs went where, which were refused and why.

    Published on nx:fills ahead of any venue report, so the aggregator knows every leg of a signal
    (and can call the execution final when each is terminal) and reports refusals with their reason.
    """

    TYPE: ClassVar[str] = "route"

    signal_id: str
    symbol: str
    side: Side
    quantity: float
    reference_price: float | None = None
    legs: tuple[RouteLeg, ...] = ()
    reason: str | None = None  # why the whole signal was refused (no legs routed)


class Leg(Part, frozen=True, kw_only=True):
    venue: str
    client_order_id: str
    status: OrderStatus
    venue_symbol: str | None = None
    contract: str | None = None
    quantity: float = 0.0
    filled_quantity: float = 0.0
    venue_filled_qty: float = 0.0
    avg_price: float | None = None  # in the leg's own instrument
    currency: str = "USD"
    slippage_points: float | None = None
    slippage_usd: float | None = None
    fees_usd: float = 0.0
    realized_pnl_usd: float = 0.0
    rounding_residual: float = 0.0
    reason: str | None = None


class Execution(Message, frozen=True, kw_only=True):
    """The one report NEXUS reads per signal: every leg, combined quantity and price, P&L in USD."""

    TYPE: ClassVar[str] = "execution"

    signal_id: str
    symbol: str
    side: Side
    quantity: float
    status: OrderStatus
    final: bool = False
    filled_quantity: float = 0.0
    avg_price: float | None = None  # universal instrument: reference + exposure-weighted slippage
    reference_price: float | None = None
    realized_pnl_usd: float = 0.0
    fees_usd: float = 0.0
    legs: tuple[Leg, ...] = ()
    reason: str | None = None


class Tick(Message, frozen=True, kw_only=True):
    """Level 1: top of book and last trade. `symbol` is the venue symbol on raw streams."""

    TYPE: ClassVar[str] = "tick"

    venue: str
    symbol: str
    contract: str | None = None
    bid: float | None = None
    ask: float | None = None
    last: float | None = None
    bid_size: float | None = None
    ask_size: float | None = None
    last_size: float | None = None
    currency: str | None = None
    venue_ts_ns: int | None = None

    @property
    def price(self) -> float | None:
        if self.last is not None:
            return self.last
        if self.bid is not None and self.ask is not None:
            return (self.bid + self.ask) / 2
        return self.bid if self.bid is not None else self.ask


class BookLevel(Part, frozen=True, kw_only=True):
    price: float
    size: float


class DepthSnapshot(Message, frozen=True, kw_only=True):
    """Level 2: the whole visible book at sequence `seq`."""

    TYPE: ClassVar[str] = "depth"

    venue: str
    symbol: str
    seq: int
    bids: tuple[BookLevel, ...] = ()
    asks: tuple[BookLevel, ...] = ()
    contract: str | None = None
    venue_ts_ns: int | None = None


class DepthChange(Part, frozen=True, kw_only=True):
    side: Side  # buy = bid side
    price: float
    size: float  # 0 removes the level


class DepthUpdate(Message, frozen=True, kw_only=True):
    """Level 2 increment; applies to a book at `seq - 1`, else the reader resnapshots."""

    TYPE: ClassVar[str] = "depth_update"

    venue: str
    symbol: str
    seq: int
    changes: tuple[DepthChange, ...]
    contract: str | None = None
    venue_ts_ns: int | None = None


class Event(Message, frozen=True, kw_only=True):
    """Something an operator or NEXUS must know: a refusal, a roll, a venue down, a data-loss alarm."""

    TYPE: ClassVar[str] = "event"

    kind: str
    severity: Severity = Severity.INFO
    source: str
    message: str
    symbol: str | None = None
    venue: str | None = None
    signal_id: str | None = None
    client_order_id: str | None = None
    data: dict[str, Any] = field(default_factory=dict)


class Heartbeat(Message, frozen=True, kw_only=True):
    """Liveness of one service instance, kept under a key with a TTL."""

    TYPE: ClassVar[str] = "heartbeat"

    service: str
    instance: str
    started_ns: int
    processed: int = 0
    dead_lettered: int = 0
    venue: str | None = None
    venue_connected: bool | None = None
    detail: dict[str, Any] = field(default_factory=dict)


class ContractRoll(Message, frozen=True, kw_only=True):
    """The active contract of a root changed (rollover -> nx:contracts history)."""

    TYPE: ClassVar[str] = "contract"

    root: str
    contract: str
    previous: str | None = None
    roll_date: str  # ISO date of the switch
    expiry: str | None = None


class KillSwitchState(Message, frozen=True, kw_only=True):
    """The kill switch: while `on`, nothing new is routed; adapters cancel working orders."""

    TYPE: ClassVar[str] = "killswitch"

    on: bool
    activation: str  # a new id per switch-on, so each activation is applied exactly once
    reason: str = ""
    by: str = ""
    flatten: bool = False
    ts_ns: int = 0


class DeadLetter(Message, frozen=True, kw_only=True):
    """An entry no stage could process, with why and everything needed to replay it: its fields, or,
    for an entry too large to copy (`sha256` set), only its short header fields; the original is then
    found by `stream` and `entry_id` and checked against `size` and `sha256` (nexus_mesh.deadletter)."""

    TYPE: ClassVar[str] = "dead_letter"

    reason: str
    stream: str
    entry_id: str
    group: str
    consumer: str
    deliveries: int = 0
    fields: dict[str, bytes] = field(default_factory=dict)
    size: int = 0  # bytes of the original entry's field names and values
    sha256: str = ""  # set when the entry is dead-lettered by reference (not copied whole)


ALL_MESSAGES: tuple[type[Message], ...] = (
    Signal,
    Order,
    VenueOrder,
    Cancel,
    Fill,
    Route,
    Execution,
    Tick,
    DepthSnapshot,
    DepthUpdate,
    Event,
    Heartbeat,
    ContractRoll,
    DeadLetter,
    KillSwitchState,
)
