"""Message bodies: one pydantic model per message kind, validated on decode.

Every body declares its wire `TYPE` and schema `VERSION`; the codec puts both in the entry header.
Prices and quantities are floats on the wire; money is computed in Decimal by the stages that own it.
Floats must be finite: a NaN price or an infinite quantity would pass `gt=0`-style checks or none at all
and fail later, far from the entry, instead of being dead-lettered on decode.
Quantities are *universal* (units of the root, e.g. NQ contracts) unless the field says `venue_`.
"""

from __future__ import annotations

from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict, Field

from nexus_protocol.enums import OrderStatus, OrderType, Severity, Side, TimeInForce

_CONFIG = ConfigDict(frozen=True, extra="forbid", allow_inf_nan=False)


class Message(BaseModel):
    model_config = _CONFIG

    TYPE: ClassVar[str]
    VERSION: ClassVar[int] = 1


class Signal(Message):
    """What NEXUS wants: one decision on a universal symbol, fanned out to venues by the router."""

    TYPE: ClassVar[str] = "signal"

    signal_id: str = ""  # ULID; the router assigns one when empty
    symbol: str
    side: Side
    quantity: float = Field(gt=0)
    order_type: OrderType = OrderType.MARKET
    limit_price: float | None = None
    stop_price: float | None = None
    time_in_force: TimeInForce = TimeInForce.DAY
    reference_price: float | None = None  # the price NEXUS saw; slippage is measured against it
    confidence: float | None = Field(default=None, ge=0, le=1)
    mqscore: float | None = None
    noise: float | None = None
    strategy: str = ""
    venues: tuple[str, ...] = ()  # empty: every enabled venue that lists the symbol
    reduce_only: bool = False  # closing and roll orders; allowed while risk blocks new exposure
    contract: str | None = None  # a dated (NQH25) or continuous (NQ2!) contract instead of the active one
    stop_loss: float | None = Field(default=None, gt=0)  # where the idea is wrong: risk sizing's distance


class Order(Message):
    """One routed leg: the signal for one venue, still in universal terms (router -> normalizer)."""

    TYPE: ClassVar[str] = "order"

    client_order_id: str
    signal_id: str
    venue: str
    symbol: str
    side: Side
    quantity: float = Field(gt=0)
    order_type: OrderType = OrderType.MARKET
    limit_price: float | None = None
    stop_price: float | None = None
    time_in_force: TimeInForce = TimeInForce.DAY
    reference_price: float | None = None
    attempt: int = 0
    purpose: str = "signal"  # signal | roll | flatten
    reduce_only: bool = False
    contract: str | None = None  # set: this contract, not the active one (position rolls)


class VenueOrder(Order):
    """A leg in the venue's terms (normalizer -> adapter): its symbol, contract and quantity units."""

    TYPE: ClassVar[str] = "venue_order"

    venue_symbol: str
    contract: str | None = None
    venue_quantity: float = Field(gt=0)
    qty_factor: float = 1.0
    rounding_residual: float = 0.0  # universal units lost to the venue's lot step, reported not dropped
    currency: str = "USD"
    point_value: float = 1.0  # venue currency per point per venue unit
    venue_reference_price: float | None = None  # the venue's own quote when routed


class Cancel(Message):
    """Cancel a working leg (kill switch, roll, operator)."""

    TYPE: ClassVar[str] = "cancel"

    client_order_id: str
    venue: str
    reason: str


class Fill(Message):
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


class RouteLeg(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    venue: str
    client_order_id: str
    status: OrderStatus  # PENDING (routed) or REJECTED (refused by risk or routing)
    reason: str | None = None
    quantity: float | None = None  # universal units this venue's sizing gave (None: the signal's)
    rounding_residual: float = 0.0  # universal units the venue's lot step leaves out of `quantity`
    symbol: str | None = None  # the root this venue trades for the signal's (NQ -> MNQ); None: the same
    ratio: float = 1.0  # units of `symbol` per unit of the signal's root at equal exposure (MNQ: 10)


class Route(Message):
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


class Leg(BaseModel):
    model_config = _CONFIG

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


class Execution(Message):
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


class Tick(Message):
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


class BookLevel(BaseModel):
    model_config = _CONFIG

    price: float
    size: float


class DepthSnapshot(Message):
    """Level 2: the whole visible book at sequence `seq`."""

    TYPE: ClassVar[str] = "depth"

    venue: str
    symbol: str
    seq: int
    bids: tuple[BookLevel, ...] = ()
    asks: tuple[BookLevel, ...] = ()
    contract: str | None = None
    venue_ts_ns: int | None = None


class DepthChange(BaseModel):
    model_config = _CONFIG

    side: Side  # buy = bid side
    price: float
    size: float  # 0 removes the level


class DepthUpdate(Message):
    """Level 2 increment; applies to a book at `seq - 1`, else the reader resnapshots."""

    TYPE: ClassVar[str] = "depth_update"

    venue: str
    symbol: str
    seq: int
    changes: tuple[DepthChange, ...]
    contract: str | None = None
    venue_ts_ns: int | None = None


class Event(Message):
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
    data: dict[str, Any] = Field(default_factory=dict)


class Heartbeat(Message):
    """Liveness of one service instance, kept under a key with a TTL."""

    TYPE: ClassVar[str] = "heartbeat"

    service: str
    instance: str
    started_ns: int
    processed: int = 0
    dead_lettered: int = 0
    venue: str | None = None
    venue_connected: bool | None = None
    detail: dict[str, Any] = Field(default_factory=dict)


class ContractRoll(Message):
    """The active contract of a root changed (rollover -> nx:contracts history)."""

    TYPE: ClassVar[str] = "contract"

    root: str
    contract: str
    previous: str | None = None
    roll_date: str  # ISO date of the switch
    expiry: str | None = None


class KillSwitchState(Message):
    """The kill switch: while `on`, nothing new is routed; adapters cancel working orders."""

    TYPE: ClassVar[str] = "killswitch"

    on: bool
    activation: str  # a new id per switch-on, so each activation is applied exactly once
    reason: str = ""
    by: str = ""
    flatten: bool = False
    ts_ns: int = 0


class DeadLetter(Message):
    """An entry no stage could process, with why and everything needed to replay it."""

    TYPE: ClassVar[str] = "dead_letter"

    reason: str
    stream: str
    entry_id: str
    group: str
    consumer: str
    deliveries: int = 0
    fields: dict[str, bytes] = Field(default_factory=dict)


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
