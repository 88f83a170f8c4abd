"""The bridge messages: one pydantic model per ``type``, validated on decode.

The Python adapter (``nexus_nt8``) is the TCP server; the NinjaTrader 8 AddOn and the Quantower plugin
are clients. Direction is noted on each message ("platform ->" = sent by the C# side). Field order in
each model is the canonical key order on the wire (after ``type`` and ``seq``); the wire kind of each
field comes from its annotation (:mod:`schema`). Every declared field is present on the wire; ``null``
is written explicitly. Python defaults exist only for convenience when building a message.

Times are integer nanoseconds since the Unix epoch (UTC); quantities are whole contracts; prices are in
the platform's instrument (``"NQ 03-25"`` on NinjaTrader).
"""

from __future__ import annotations

from enum import StrEnum
from typing import ClassVar, Self

from pydantic import BaseModel, ConfigDict, Field, model_validator

from nexus_protocol.bridge.schema import (
    Bool,
    ClientOrderId,
    Count,
    Float,
    Int64,
    Name,
    Positive,
    String,
)
from nexus_protocol.enums import OrderStatus, OrderType, Side, TimeInForce

PROTOCOL_VERSION = 1


class Platform(StrEnum):
    NT8 = "nt8"
    QUANTOWER = "quantower"


class BridgeErrorCode(StrEnum):
    """Codes carried by the ``error`` message. Retry decisions are data: see ``RETRYABLE_ERROR_CODES``."""

    BAD_FRAME = "bad_frame"  # the peer's frame failed to decode; the sender closes the connection
    NOT_AUTHENTICATED = "not_authenticated"  # a message other than hello before a successful handshake
    UNKNOWN_ACCOUNT = "unknown_account"
    UNKNOWN_INSTRUMENT = "unknown_instrument"
    UNKNOWN_ORDER = "unknown_order"  # cancel for a client order id the platform never saw
    INVALID_ORDER = "invalid_order"  # the platform cannot express the order (e.g. fok on NinjaTrader)
    PLATFORM_DISCONNECTED = "platform_disconnected"  # the platform has no connection to its broker
    INTERNAL = "internal"


RETRYABLE_ERROR_CODES = frozenset({BridgeErrorCode.PLATFORM_DISCONNECTED, BridgeErrorCode.INTERNAL})


class _Wire(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class BridgeMessage(_Wire):
    """Base of every message. ``seq`` numbers the frames a side sends on one connection: 1, 2, 3 ...

    Build messages with ``seq`` left at 0 and let :class:`FrameEncoder` stamp it.
    """

    TYPE: ClassVar[str]
    seq: Int64 = 0


# -- records (nested objects): RECORD is the name the wire schema and the C# table know them by ------


class PositionRecord(_Wire):
    RECORD: ClassVar[str] = "Position"
    instrument: Name
    quantity: Int64  # signed: > 0 long, < 0 short; flat positions are not listed
    avg_price: Float


class _ExecutionFields(_Wire):
    execution_id: Name  # the platform's execution id; a repeated id amends the earlier report
    account: Name
    client_order_id: String  # the order's name on the platform ("" if it has none)
    platform_order_id: String
    instrument: Name
    side: Side
    quantity: Positive
    price: Float
    commission: Float
    time_ns: Count


class ExecutionRecord(_ExecutionFields):
    """One fill, as listed in ``open_orders_snapshot.executions``."""

    RECORD: ClassVar[str] = "Execution"


class WorkingOrder(_Wire):
    """One order as the platform sees it, listed in ``open_orders_snapshot.orders``."""

    RECORD: ClassVar[str] = "WorkingOrder"

    client_order_id: String
    platform_order_id: String | None = None
    account: Name
    instrument: Name
    side: Side
    quantity: Positive
    order_type: OrderType
    limit_price: Float | None = None
    stop_price: Float | None = None
    time_in_force: TimeInForce
    status: OrderStatus
    filled_quantity: Count
    avg_fill_price: Float | None = None


# -- session -----------------------------------------------------------------------------------------


class Hello(BridgeMessage):
    """platform -> adapter, the first frame of every connection."""

    TYPE = "hello"
    platform: Platform
    platform_version: Name
    protocol_version: Positive = PROTOCOL_VERSION
    accounts: list[Name]
    auth_token: String = Field(repr=False)


class HelloAck(BridgeMessage):
    """adapter -> platform, answer to hello. When refused, the adapter closes the connection after it."""

    TYPE = "hello_ack"
    accepted: Bool
    reason: String | None = None
    protocol_version: Positive = PROTOCOL_VERSION
    heartbeat_interval_ms: Positive


class BridgeHeartbeat(BridgeMessage):
    """both ways, when the side has sent nothing for ``heartbeat_interval_ms``."""

    TYPE = "heartbeat"
    time_ns: Count


class ErrorMessage(BridgeMessage):
    """both ways: a request could not be served (``ref_seq`` = the seq of that request)."""

    TYPE = "error"
    code: BridgeErrorCode
    message: String
    ref_seq: Count | None = None
    client_order_id: String | None = None


# -- orders ------------------------------------------------------------------------------------------


class OrderSubmit(BridgeMessage):
    """adapter -> platform. Idempotent by ``client_order_id`` (the NinjaTrader order name): a repeated id
    places nothing and is answered with an ``order_update`` of the existing order."""

    TYPE = "order_submit"
    client_order_id: ClientOrderId
    account: Name
    instrument: Name
    side: Side
    quantity: Positive
    order_type: OrderType
    limit_price: Float | None = None
    stop_price: Float | None = None
    time_in_force: TimeInForce

    @model_validator(mode="after")
    def _prices_match_type(self) -> Self:
        want_limit = self.order_type is OrderType.LIMIT
        want_stop = self.order_type is OrderType.STOP
        if (self.limit_price is not None) != want_limit or (self.stop_price is not None) != want_stop:
            limit, stop = ("set" if want else "null" for want in (want_limit, want_stop))
            raise ValueError(
                f"a {self.order_type.value} order needs limit_price {limit} and stop_price {stop}"
            )
        return self


class OrderCancel(BridgeMessage):
    """adapter -> platform."""

    TYPE = "order_cancel"
    client_order_id: ClientOrderId


class OrderUpdate(BridgeMessage):
    """platform -> adapter, on every state change of an order (and in answer to a repeated submit)."""

    TYPE = "order_update"
    client_order_id: String
    account: Name
    platform_order_id: String | None = None
    status: OrderStatus
    filled_quantity: Count
    avg_fill_price: Float | None = None
    reason: String | None = None
    time_ns: Count


class ExecutionUpdate(_ExecutionFields, BridgeMessage):
    """platform -> adapter, on every fill (fields as :class:`ExecutionRecord`)."""

    TYPE = "execution_update"


# -- state -------------------------------------------------------------------------------------------


class PositionSnapshot(BridgeMessage):
    """platform -> adapter, after the handshake and whenever a position of the account changes."""

    TYPE = "position_snapshot"
    account: Name
    positions: list[PositionRecord]
    time_ns: Count


class AccountSnapshot(BridgeMessage):
    """platform -> adapter, after the handshake and when the account's values change (throttled)."""

    TYPE = "account_snapshot"
    account: Name
    currency: Name
    cash: Float
    realized_pnl: Float
    unrealized_pnl: Float
    time_ns: Count


class OpenOrdersQuery(BridgeMessage):
    """adapter -> platform, after every handshake: what happened while we were apart?

    ``client_order_ids`` lists the orders whose outcome the adapter does not know (submitted, no
    acknowledgement seen): the platform reports each of them whatever its state, or names it in
    ``unknown_client_order_ids``, which is the only proof that resubmitting it is safe. Executions are
    those after ``since_execution_id`` if the platform knows that id, else those at or after
    ``since_time_ns``, else all it still holds.
    """

    TYPE = "open_orders_query"
    request_id: Name
    accounts: list[Name]  # empty = every account named in hello
    client_order_ids: list[ClientOrderId]
    since_execution_id: String | None = None
    since_time_ns: Count | None = None


class OpenOrdersSnapshot(BridgeMessage):
    """platform -> adapter, the answer to ``open_orders_query`` (same ``request_id``)."""

    TYPE = "open_orders_snapshot"
    request_id: Name
    orders: list[WorkingOrder]  # every working order, plus every queried id the platform knows
    unknown_client_order_ids: list[ClientOrderId]
    executions: list[ExecutionRecord]
    time_ns: Count


# -- market data -------------------------------------------------------------------------------------


class MdSubscribe(BridgeMessage):
    """adapter -> platform. Subscriptions last for the connection; the adapter renews them after a
    reconnect."""

    TYPE = "md_subscribe"
    instrument: Name


class MdUnsubscribe(BridgeMessage):
    """adapter -> platform."""

    TYPE = "md_unsubscribe"
    instrument: Name


class BridgeTick(BridgeMessage):
    """platform -> adapter, top of book and last trade (a side without a quote is null)."""

    TYPE = "tick"
    instrument: Name
    bid: Float | None = None
    ask: Float | None = None
    last: Float | None = None
    bid_size: Float | None = None
    ask_size: Float | None = None
    last_size: Float | None = None
    time_ns: Count


MESSAGE_TYPES: dict[str, type[BridgeMessage]] = {
    cls.TYPE: cls
    for cls in (
        Hello,
        HelloAck,
        BridgeHeartbeat,
        ErrorMessage,
        OrderSubmit,
        OrderCancel,
        OrderUpdate,
        ExecutionUpdate,
        PositionSnapshot,
        AccountSnapshot,
        OpenOrdersQuery,
        OpenOrdersSnapshot,
        MdSubscribe,
        MdUnsubscribe,
        BridgeTick,
    )
}
RECORD_TYPES: tuple[type[BaseModel], ...] = (PositionRecord, ExecutionRecord, WorkingOrder)
ENUM_TYPES: tuple[type[StrEnum], ...] = (
    Side,
    OrderType,
    TimeInForce,
    OrderStatus,
    Platform,
    BridgeErrorCode,
)
