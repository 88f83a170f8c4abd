"""The add-on <-> adapter WebSocket protocol: one JSON object per text frame, `type` says which.

The add-on (`addon/nexus_bookmap_addon.py`) runs inside Bookmap's own Python and cannot import this
module, so it builds the same JSON by hand; `addon_vectors.json` holds canonical examples that both these
models and the add-on's builders are tested against. Encoding is canonical (sorted keys, no spaces, every
field present, `null` for absent values) so the two sides can be compared byte for byte.

Units: prices are real prices (Bookmap's integer price levels times `pips`), sizes real sizes (Bookmap's
integer size levels divided by `size_multiplier`); the `instrument` message carries both factors.

Guarantees the add-on keeps (and an adapter may rely on):
- Market data (`depth`, `trade`) carries a per-alias `seq` that increases by one per Bookmap event. An
  `instrument` message resets the adapter's book for its alias: the `depth` messages with
  `snapshot: true` that follow rebuild it as of `seq`. The add-on sends that after every (re)connect and
  whenever it had to drop market data, so a gap in `seq` is always followed by a snapshot.
- Order events (`order_update`, `execution`, `position`, `balance`) are never dropped while the add-on
  process lives: they are held during a disconnect and sent after the next `hello`. `open_orders_query`
  answers from the add-on's records (every order of this add-on process, and any order Bookmap reports
  on subscription); `complete` is false until Bookmap has acknowledged every order-info subscription.
- `order_submit` is answered by Bookmap's first update for the order (with Bookmap's `order_id`), never
  by a `pending` of the add-on's own, so an order Bookmap never received is never acknowledged.
  It is idempotent per `client_id`: a repeated id never reaches Bookmap twice; the add-on
  answers with the order's current `order_update` instead. Refusals (data-only account, trading disabled,
  unknown alias, size or price off the grid) are `order_update` with status `rejected` and a `reason`.
- A new `instance_id` in `hello` means the add-on process restarted: held events may be lost; reconcile.
"""

from __future__ import annotations

import json
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, model_validator

from nexus_protocol.enums import OrderStatus, OrderType, TimeInForce
from nexus_protocol.errors import DecodeError

PROTOCOL_VERSION = 1
_CONFIG = ConfigDict(frozen=True, extra="forbid", allow_inf_nan=False)


class AddonMessage(BaseModel):
    model_config = _CONFIG


# -- add-on -> adapter ---------------------------------------------------------------------------------


class AddonHello(AddonMessage):
    """First message on every connection."""

    type: Literal["hello"] = "hello"
    protocol: int = PROTOCOL_VERSION
    token: str
    addon_version: str
    instance_id: str  # random per add-on process
    can_trade: bool  # trading allowed by the add-on's settings and by at least one attached instrument


class AddonInstrument(AddonMessage):
    """An instrument the user enabled the add-on for; resets the adapter's book for `alias`."""

    type: Literal["instrument"] = "instrument"
    alias: str
    full_name: str
    pips: float = Field(gt=0)
    size_multiplier: float = Field(gt=0)
    instrument_multiplier: float
    is_crypto: bool
    can_trade: bool  # Bookmap's supported features say this connection can trade it
    seq: int = Field(ge=0)  # the book snapshot that follows is as of this market-data sequence number


class AddonInstrumentRemoved(AddonMessage):
    type: Literal["instrument_removed"] = "instrument_removed"
    alias: str


class AddonDepth(AddonMessage):
    """One price level's new total size; 0 removes the level."""

    type: Literal["depth"] = "depth"
    alias: str
    is_bid: bool
    price: float
    size: float = Field(ge=0)
    seq: int = Field(ge=0)
    snapshot: bool = False


class AddonTrade(AddonMessage):
    type: Literal["trade"] = "trade"
    alias: str
    price: float
    size: float = Field(ge=0)
    is_bid_aggressor: bool
    seq: int = Field(ge=0)


class AddonOrderUpdate(AddonMessage):
    """Where one order stands. `client_id` is ours (Bookmap's clientId); `order_id` is Bookmap's, None
    until Bookmap assigned one. `venue_status` is Bookmap's own status word (or SENT / REFUSED for what
    the add-on did itself)."""

    type: Literal["order_update"] = "order_update"
    client_id: str | None
    order_id: str | None
    alias: str
    is_buy: bool
    status: OrderStatus
    venue_status: str
    order_type: OrderType | None
    size: float = Field(ge=0)
    filled: float = Field(ge=0)
    avg_price: float | None
    limit_price: float | None
    stop_price: float | None
    reason: str | None
    time_ms: int


class AddonExecution(AddonMessage):
    type: Literal["execution"] = "execution"
    client_id: str | None
    order_id: str
    exec_id: str  # Bookmap's executionId: stable, dedupe on it
    alias: str
    is_buy: bool | None  # None when the order is unknown to the add-on
    price: float
    size: float = Field(gt=0)
    time_ms: int


class AddonPosition(AddonMessage):
    type: Literal["position"] = "position"
    alias: str
    position: float  # signed
    avg_price: float | None
    realized_pnl: float | None
    unrealized_pnl: float | None
    working_buys: float
    working_sells: float
    currency: str | None


class AddonBalance(AddonMessage):
    type: Literal["balance"] = "balance"
    currency: str | None
    balance: float | None
    realized_pnl: float | None
    unrealized_pnl: float | None
    net_liquidity: float | None


class AddonOrdersSnapshot(AddonMessage):
    """The answer to `open_orders_query`: every order the add-on knows, open and terminal."""

    type: Literal["open_orders_snapshot"] = "open_orders_snapshot"
    request_id: str
    complete: bool
    orders: tuple[AddonOrderUpdate, ...]
    executions: tuple[AddonExecution, ...]
    positions: tuple[AddonPosition, ...]


# -- adapter -> add-on ---------------------------------------------------------------------------------


class AddonOrderSubmit(AddonMessage):
    type: Literal["order_submit"] = "order_submit"
    client_id: str = Field(min_length=1, max_length=64)
    alias: str
    is_buy: bool
    size: float = Field(gt=0)
    order_type: OrderType = OrderType.MARKET
    limit_price: float | None = Field(default=None, gt=0)
    stop_price: float | None = Field(default=None, gt=0)
    time_in_force: TimeInForce = TimeInForce.GTC

    @model_validator(mode="after")
    def _prices_match_type(self) -> AddonOrderSubmit:
        wants_limit = self.order_type is OrderType.LIMIT
        wants_stop = self.order_type is OrderType.STOP
        if wants_limit != (self.limit_price is not None):
            raise ValueError("limit_price is required for limit orders and only for them")
        if wants_stop != (self.stop_price is not None):
            raise ValueError("stop_price is required for stop orders and only for them")
        return self


class AddonOrderCancel(AddonMessage):
    type: Literal["order_cancel"] = "order_cancel"
    client_id: str = Field(min_length=1, max_length=64)


class AddonOrdersQuery(AddonMessage):
    type: Literal["open_orders_query"] = "open_orders_query"
    request_id: str


# -- both directions -----------------------------------------------------------------------------------


class AddonHeartbeat(AddonMessage):
    type: Literal["heartbeat"] = "heartbeat"
    ts_ms: int


class AddonError(AddonMessage):
    """Something the peer should know: `bookmap_disconnected`, `unknown_order`, `bad_message`, ..."""

    type: Literal["error"] = "error"
    code: str
    message: str
    client_id: str | None = None


AnyMessage = Annotated[
    AddonHello
    | AddonInstrument
    | AddonInstrumentRemoved
    | AddonDepth
    | AddonTrade
    | AddonOrderUpdate
    | AddonExecution
    | AddonPosition
    | AddonBalance
    | AddonOrdersSnapshot
    | AddonOrderSubmit
    | AddonOrderCancel
    | AddonOrdersQuery
    | AddonHeartbeat
    | AddonError,
    Field(discriminator="type"),
]
ALL_MESSAGES: tuple[type[AddonMessage], ...] = (
    AddonHello,
    AddonInstrument,
    AddonInstrumentRemoved,
    AddonDepth,
    AddonTrade,
    AddonOrderUpdate,
    AddonExecution,
    AddonPosition,
    AddonBalance,
    AddonOrdersSnapshot,
    AddonOrderSubmit,
    AddonOrderCancel,
    AddonOrdersQuery,
    AddonHeartbeat,
    AddonError,
)
_ADAPTER: TypeAdapter[AnyMessage] = TypeAdapter(AnyMessage)


def to_json_dict(message: AddonMessage) -> dict[str, Any]:
    """The message as plain JSON data, every field present."""
    return message.model_dump(mode="json")


def encode(message: AddonMessage) -> str:
    """Canonical text: sorted keys, no whitespace, NaN refused (the add-on encodes the same way)."""
    return json.dumps(to_json_dict(message), sort_keys=True, separators=(",", ":"), allow_nan=False)


def decode(text: str | bytes) -> AnyMessage:
    """Parse and validate one frame; DecodeError (naming the field) for anything else."""
    try:
        return _ADAPTER.validate_json(text)
    except ValueError as exc:
        errors = getattr(exc, "errors", None)
        field = None
        if callable(errors):
            first = errors()[0] if errors() else {}
            field = ".".join(str(p) for p in first.get("loc", ())) or None
        raise DecodeError(f"invalid add-on message: {exc}", field=field) from exc
