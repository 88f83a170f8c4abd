"""DTC order entry, order update, position, fill and account balance messages.

Same conventions as `messages`: struct order of DTCProtocol.h (2022 revision), DTC field names as
the first helper argument, header-constructor defaults, time units in the names. Price1 is the
limit price (LIMIT), the stop price (STOP, STOP_LIMIT) or the trigger (MIT/LIT); Price2 is the
limit price of a STOP_LIMIT. A ClientOrderID carries at most 31 bytes in the binary encoding.
"""

from __future__ import annotations

from typing import ClassVar

from nexus_sierra.dtc.enums import (
    DBL_MAX,
    BuySellEnum,
    MessageType,
    OpenCloseTradeEnum,
    OrderStatusEnum,
    OrderTypeEnum,
    OrderUpdateReasonEnum,
    TimeInForceEnum,
)
from nexus_sierra.dtc.fields import DtcMessage, enum, f64, flag, i32, i64, message, text, u32, u64

__all__ = [
    "AccountBalanceReject",
    "AccountBalanceRequest",
    "AccountBalanceUpdate",
    "CancelOrder",
    "CancelReplaceOrder",
    "CurrentPositionsReject",
    "CurrentPositionsRequest",
    "HistoricalOrderFillResponse",
    "HistoricalOrderFillsReject",
    "HistoricalOrderFillsRequest",
    "OpenOrdersReject",
    "OpenOrdersRequest",
    "OrderUpdate",
    "PositionUpdate",
    "SubmitFlattenPositionOrder",
    "SubmitNewSingleOrder",
]


# --- Order entry and modification -------------------------------------------------------------


@message
class SubmitNewSingleOrder(DtcMessage):
    TYPE: ClassVar[int] = MessageType.SUBMIT_NEW_SINGLE_ORDER
    symbol: str = text("Symbol", 64)
    exchange: str = text("Exchange", 16)
    trade_account: str = text("TradeAccount", 32)
    client_order_id: str = text("ClientOrderID", 32)
    order_type: OrderTypeEnum = enum("OrderType", OrderTypeEnum, OrderTypeEnum.UNSET)
    buy_sell: BuySellEnum = enum("BuySell", BuySellEnum, BuySellEnum.UNSET)
    price1: float = f64("Price1")
    price2: float = f64("Price2")
    quantity: float = f64("Quantity")
    time_in_force: TimeInForceEnum = enum("TimeInForce", TimeInForceEnum, TimeInForceEnum.UNSET)
    good_till_date_time_s: int = i64("GoodTillDateTime")
    is_automated_order: bool = flag("IsAutomatedOrder")
    is_parent_order: bool = flag("IsParentOrder")
    free_form_text: str = text("FreeFormText", 48)
    open_or_close: OpenCloseTradeEnum = enum("OpenOrClose", OpenCloseTradeEnum, OpenCloseTradeEnum.UNSET)
    max_show_quantity: float = f64("MaxShowQuantity")
    price1_as_string: str = text("Price1AsString", 16)
    price2_as_string: str = text("Price2AsString", 16)


@message
class SubmitFlattenPositionOrder(DtcMessage):
    TYPE: ClassVar[int] = MessageType.SUBMIT_FLATTEN_POSITION_ORDER
    symbol: str = text("Symbol", 64)
    exchange: str = text("Exchange", 16)
    trade_account: str = text("TradeAccount", 32)
    client_order_id: str = text("ClientOrderID", 32)
    free_form_text: str = text("FreeFormText", 48)
    is_automated_order: bool = flag("IsAutomatedOrder")


@message
class CancelOrder(DtcMessage):
    """Names the order by ServerOrderID (from ORDER_UPDATE) and/or ClientOrderID."""

    TYPE: ClassVar[int] = MessageType.CANCEL_ORDER
    server_order_id: str = text("ServerOrderID", 32)
    client_order_id: str = text("ClientOrderID", 32)
    trade_account: str = text("TradeAccount", 32)


@message
class CancelReplaceOrder(DtcMessage):
    TYPE: ClassVar[int] = MessageType.CANCEL_REPLACE_ORDER
    server_order_id: str = text("ServerOrderID", 32)
    client_order_id: str = text("ClientOrderID", 32)
    price1: float = f64("Price1")
    price2: float = f64("Price2")
    quantity: float = f64("Quantity")
    price1_is_set: bool = flag("Price1IsSet", True)
    price2_is_set: bool = flag("Price2IsSet", True)
    unused: int = i32("Unused")
    time_in_force: TimeInForceEnum = enum("TimeInForce", TimeInForceEnum, TimeInForceEnum.UNSET)
    good_till_date_time_s: int = i64("GoodTillDateTime")
    update_price1_offset_to_parent: bool = flag("UpdatePrice1OffsetToParent")
    trade_account: str = text("TradeAccount", 32)
    price1_as_string: str = text("Price1AsString", 16)
    price2_as_string: str = text("Price2AsString", 16)


# --- Orders, fills and positions --------------------------------------------------------------


@message
class OpenOrdersRequest(DtcMessage):
    """request_all_orders=1 asks for every open order; 0 asks only for server_order_id."""

    TYPE: ClassVar[int] = MessageType.OPEN_ORDERS_REQUEST
    request_id: int = i32("RequestID")
    request_all_orders: int = i32("RequestAllOrders", 1)
    server_order_id: str = text("ServerOrderID", 32)
    trade_account: str = text("TradeAccount", 32)


@message
class OpenOrdersReject(DtcMessage):
    TYPE: ClassVar[int] = MessageType.OPEN_ORDERS_REJECT
    request_id: int = i32("RequestID")
    reject_text: str = text("RejectText", 96)


@message
class OrderUpdate(DtcMessage):
    """The one message a server sends about an order. Prices and quantities at DBL_MAX are unset.

    last_fill_date_time_ms / order_received_date_time_ms are t_DateTimeWithMillisecondsInt in the
    2022 header; older headers declared them t_DateTime (seconds) at the same offsets.
    """

    TYPE: ClassVar[int] = MessageType.ORDER_UPDATE
    request_id: int = i32("RequestID")
    total_num_messages: int = i32("TotalNumMessages")
    message_number: int = i32("MessageNumber")
    symbol: str = text("Symbol", 64)
    exchange: str = text("Exchange", 16)
    previous_server_order_id: str = text("PreviousServerOrderID", 32)
    server_order_id: str = text("ServerOrderID", 32)
    client_order_id: str = text("ClientOrderID", 32)
    exchange_order_id: str = text("ExchangeOrderID", 32)
    order_status: OrderStatusEnum = enum("OrderStatus", OrderStatusEnum, OrderStatusEnum.UNSPECIFIED)
    order_update_reason: OrderUpdateReasonEnum = enum(
        "OrderUpdateReason", OrderUpdateReasonEnum, OrderUpdateReasonEnum.UNSET
    )
    order_type: OrderTypeEnum = enum("OrderType", OrderTypeEnum, OrderTypeEnum.UNSET)
    buy_sell: BuySellEnum = enum("BuySell", BuySellEnum, BuySellEnum.UNSET)
    price1: float = f64("Price1", DBL_MAX)
    price2: float = f64("Price2", DBL_MAX)
    time_in_force: TimeInForceEnum = enum("TimeInForce", TimeInForceEnum, TimeInForceEnum.UNSET)
    good_till_date_time_s: int = i64("GoodTillDateTime")
    order_quantity: float = f64("OrderQuantity", DBL_MAX)
    filled_quantity: float = f64("FilledQuantity", DBL_MAX)
    remaining_quantity: float = f64("RemainingQuantity", DBL_MAX)
    average_fill_price: float = f64("AverageFillPrice", DBL_MAX)
    last_fill_price: float = f64("LastFillPrice", DBL_MAX)
    last_fill_date_time_ms: int = i64("LastFillDateTime")
    last_fill_quantity: float = f64("LastFillQuantity", DBL_MAX)
    last_fill_execution_id: str = text("LastFillExecutionID", 64)
    trade_account: str = text("TradeAccount", 32)
    info_text: str = text("InfoText", 96)
    no_orders: bool = flag("NoOrders")
    parent_server_order_id: str = text("ParentServerOrderID", 32)
    oco_linked_order_server_order_id: str = text("OCOLinkedOrderServerOrderID", 32)
    open_or_close: OpenCloseTradeEnum = enum("OpenOrClose", OpenCloseTradeEnum, OpenCloseTradeEnum.UNSET)
    previous_client_order_id: str = text("PreviousClientOrderID", 32)
    free_form_text: str = text("FreeFormText", 48)
    order_received_date_time_ms: int = i64("OrderReceivedDateTime")
    latest_transaction_date_time_s: float = f64("LatestTransactionDateTime")
    username: str = text("Username", 32)


@message
class HistoricalOrderFillsRequest(DtcMessage):
    TYPE: ClassVar[int] = MessageType.HISTORICAL_ORDER_FILLS_REQUEST
    request_id: int = i32("RequestID")
    server_order_id: str = text("ServerOrderID", 32)
    number_of_days: int = i32("NumberOfDays")
    trade_account: str = text("TradeAccount", 32)
    start_date_time_s: int = i64("StartDateTime")


@message
class HistoricalOrderFillResponse(DtcMessage):
    TYPE: ClassVar[int] = MessageType.HISTORICAL_ORDER_FILL_RESPONSE
    request_id: int = i32("RequestID")
    total_number_messages: int = i32("TotalNumberMessages")
    message_number: int = i32("MessageNumber")
    symbol: str = text("Symbol", 64)
    exchange: str = text("Exchange", 16)
    server_order_id: str = text("ServerOrderID", 32)
    buy_sell: BuySellEnum = enum("BuySell", BuySellEnum, BuySellEnum.UNSET)
    price: float = f64("Price")
    date_time_s: int = i64("DateTime")
    quantity: float = f64("Quantity")
    unique_execution_id: str = text("UniqueExecutionID", 64)
    trade_account: str = text("TradeAccount", 32)
    open_close: OpenCloseTradeEnum = enum("OpenClose", OpenCloseTradeEnum, OpenCloseTradeEnum.UNSET)
    no_order_fills: bool = flag("NoOrderFills")
    info_text: str = text("InfoText", 96)
    high_price_during_position: float = f64("HighPriceDuringPosition")
    low_price_during_position: float = f64("LowPriceDuringPosition")
    position_quantity: float = f64("PositionQuantity", DBL_MAX)


@message
class HistoricalOrderFillsReject(DtcMessage):
    TYPE: ClassVar[int] = MessageType.HISTORICAL_ORDER_FILLS_REJECT
    request_id: int = i32("RequestID")
    reject_text: str = text("RejectText", 96)


@message
class CurrentPositionsRequest(DtcMessage):
    TYPE: ClassVar[int] = MessageType.CURRENT_POSITIONS_REQUEST
    request_id: int = i32("RequestID")
    trade_account: str = text("TradeAccount", 32)


@message
class CurrentPositionsReject(DtcMessage):
    TYPE: ClassVar[int] = MessageType.CURRENT_POSITIONS_REJECT
    request_id: int = i32("RequestID")
    reject_text: str = text("RejectText", 96)


@message
class PositionUpdate(DtcMessage):
    """quantity is signed: negative is short."""

    TYPE: ClassVar[int] = MessageType.POSITION_UPDATE
    request_id: int = i32("RequestID")
    total_number_messages: int = i32("TotalNumberMessages")
    message_number: int = i32("MessageNumber")
    symbol: str = text("Symbol", 64)
    exchange: str = text("Exchange", 16)
    quantity: float = f64("Quantity")
    average_price: float = f64("AveragePrice")
    position_identifier: str = text("PositionIdentifier", 32)
    trade_account: str = text("TradeAccount", 32)
    no_positions: bool = flag("NoPositions")
    unsolicited: bool = flag("Unsolicited")
    margin_requirement: float = f64("MarginRequirement")
    entry_date_time_s: int = u32("EntryDateTime")
    open_profit_loss: float = f64("OpenProfitLoss")
    high_price_during_position: float = f64("HighPriceDuringPosition")
    low_price_during_position: float = f64("LowPriceDuringPosition")
    quantity_limit: float = f64("QuantityLimit")
    max_potential_position_quantity: float = f64("MaxPotentialPostionQuantity")  # sic, header spelling


# --- Account balance --------------------------------------------------------------------------


@message
class AccountBalanceRequest(DtcMessage):
    TYPE: ClassVar[int] = MessageType.ACCOUNT_BALANCE_REQUEST
    request_id: int = i32("RequestID")
    trade_account: str = text("TradeAccount", 32)


@message
class AccountBalanceReject(DtcMessage):
    TYPE: ClassVar[int] = MessageType.ACCOUNT_BALANCE_REJECT
    request_id: int = i32("RequestID")
    reject_text: str = text("RejectText", 96)


@message
class AccountBalanceUpdate(DtcMessage):
    TYPE: ClassVar[int] = MessageType.ACCOUNT_BALANCE_UPDATE
    request_id: int = i32("RequestID")
    cash_balance: float = f64("CashBalance")
    balance_available_for_new_positions: float = f64("BalanceAvailableForNewPositions")
    account_currency: str = text("AccountCurrency", 8)
    trade_account: str = text("TradeAccount", 32)
    securities_value: float = f64("SecuritiesValue")
    margin_requirement: float = f64("MarginRequirement")
    total_number_messages: int = i32("TotalNumberMessages")
    message_number: int = i32("MessageNumber")
    no_account_balances: bool = flag("NoAccountBalances")
    unsolicited: bool = flag("Unsolicited")
    open_positions_profit_loss: float = f64("OpenPositionsProfitLoss")
    daily_profit_loss: float = f64("DailyProfitLoss")
    info_text: str = text("InfoText", 96)
    transaction_identifier: int = u64("TransactionIdentifier")
    daily_net_loss_limit: float = f64("DailyNetLossLimit")
    trailing_account_value_to_limit_positions: float = f64("TrailingAccountValueToLimitPositions")
    daily_net_loss_limit_reached: bool = flag("DailyNetLossLimitReached")
    is_under_required_margin: bool = flag("IsUnderRequiredMargin")
    close_positions_at_end_of_day: bool = flag("ClosePositionsAtEndOfDay")
    trading_is_disabled: bool = flag("TradingIsDisabled")
    description: str = text("Description", 96)
    is_under_required_account_value: bool = flag("IsUnderRequiredAccountValue")
    transaction_date_time_us: int = i64("TransactionDateTime")
    margin_requirement_full: float = f64("MarginRequirementFull")
    margin_requirement_full_positions_only: float = f64("MarginRequirementFullPositionsOnly")
    peak_margin_requirement: float = f64("PeakMarginRequirement")
