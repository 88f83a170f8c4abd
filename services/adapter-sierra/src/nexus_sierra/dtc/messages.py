"""DTC session, symbol, account-list and logging messages (market data and orders: see below).

One frozen dataclass per DTC message, fields in the order of the C struct in DTCProtocol.h (2022
revision). The first argument of each field helper is the DTC field name, used verbatim in the
binary layout checks and as the JSON key. Defaults are those of the header's constructors, so
`LogonRequest()` encodes to the same bytes as a freshly constructed `s_LogonRequest`.

Time units are in the names: `_s` is UNIX seconds (int for t_DateTime / t_DateTime4Byte, float
with a fractional part for t_DateTimeWithMilliseconds), `_ms` and `_us` are integer milli- and
microseconds. Prices and quantities of DBL_MAX / FLT_MAX / UINT_MAX mean "unset".
"""

from __future__ import annotations

from typing import ClassVar

from nexus_sierra.dtc.enums import (
    CURRENT_VERSION,
    EncodingEnum,
    LogonStatusEnum,
    MessageType,
    PriceDisplayFormatEnum,
    PutCallEnum,
    SecurityTypeEnum,
)
from nexus_sierra.dtc.fields import (
    DtcMessage,
    enum,
    f32,
    flag,
    i32,
    i64,
    message,
    text,
    u8,
    u32,
)

__all__ = [
    "AlertMessage",
    "DtcHeartbeat",
    "EncodingRequest",
    "EncodingResponse",
    "GeneralLogMessage",
    "Logoff",
    "LogonRequest",
    "LogonResponse",
    "SecurityDefinitionForSymbolRequest",
    "SecurityDefinitionReject",
    "SecurityDefinitionResponse",
    "TradeAccountResponse",
    "TradeAccountsRequest",
    "UserMessage",
]


# --- Authentication and connection monitoring -------------------------------------------------


@message
class EncodingRequest(DtcMessage):
    """Always sent in the binary encoding, before anything else, to agree on an encoding."""

    TYPE: ClassVar[int] = MessageType.ENCODING_REQUEST
    protocol_version: int = i32("ProtocolVersion", CURRENT_VERSION)
    encoding: EncodingEnum = enum("Encoding", EncodingEnum, EncodingEnum.BINARY)
    protocol_type: str = text("ProtocolType", 4, "DTC")


@message
class EncodingResponse(DtcMessage):
    TYPE: ClassVar[int] = MessageType.ENCODING_RESPONSE
    protocol_version: int = i32("ProtocolVersion", CURRENT_VERSION)
    encoding: EncodingEnum = enum("Encoding", EncodingEnum, EncodingEnum.BINARY)
    protocol_type: str = text("ProtocolType", 4, "DTC")


@message
class LogonRequest(DtcMessage):
    TYPE: ClassVar[int] = MessageType.LOGON_REQUEST
    protocol_version: int = i32("ProtocolVersion", CURRENT_VERSION)
    username: str = text("Username", 32)
    password: str = text("Password", 32, secret=True)
    general_text_data: str = text("GeneralTextData", 64)
    integer_1: int = i32("Integer_1")
    integer_2: int = i32("Integer_2")
    heartbeat_interval_s: int = i32("HeartbeatIntervalInSeconds")
    unused_1: int = i32("Unused1")  # TradeMode (TradeModeEnum) in headers before 2022
    trade_account: str = text("TradeAccount", 32)
    hardware_identifier: str = text("HardwareIdentifier", 64)
    client_name: str = text("ClientName", 32)
    market_data_transmission_interval: int = i32("MarketDataTransmissionInterval")  # unit undocumented


@message
class LogonResponse(DtcMessage):
    TYPE: ClassVar[int] = MessageType.LOGON_RESPONSE
    protocol_version: int = i32("ProtocolVersion", CURRENT_VERSION)
    result: LogonStatusEnum = enum("Result", LogonStatusEnum, LogonStatusEnum.UNSET)
    result_text: str = text("ResultText", 96)
    reconnect_address: str = text("ReconnectAddress", 64)
    integer_1: int = i32("Integer_1")
    server_name: str = text("ServerName", 60)
    market_depth_updates_best_bid_and_ask: bool = flag("MarketDepthUpdatesBestBidAndAsk")
    trading_is_supported: bool = flag("TradingIsSupported")
    oco_orders_supported: bool = flag("OCOOrdersSupported")
    order_cancel_replace_supported: bool = flag("OrderCancelReplaceSupported", True)
    symbol_exchange_delimiter: str = text("SymbolExchangeDelimiter", 4)
    security_definitions_supported: bool = flag("SecurityDefinitionsSupported")
    historical_price_data_supported: bool = flag("HistoricalPriceDataSupported")
    resubscribe_when_market_data_feed_available: bool = flag("ResubscribeWhenMarketDataFeedAvailable")
    market_depth_is_supported: bool = flag("MarketDepthIsSupported", True)
    one_historical_price_data_request_per_connection: bool = flag(
        "OneHistoricalPriceDataRequestPerConnection"
    )
    bracket_orders_supported: bool = flag("BracketOrdersSupported")
    unused_1: int = u8("Unused_1")  # UseIntegerPriceOrderMessages in headers before 2022
    uses_multiple_positions_per_symbol_and_trade_account: bool = flag(
        "UsesMultiplePositionsPerSymbolAndTradeAccount"
    )
    market_data_supported: bool = flag("MarketDataSupported", True)


@message
class DtcHeartbeat(DtcMessage):
    TYPE: ClassVar[int] = MessageType.HEARTBEAT
    num_dropped_messages: int = u32("NumDroppedMessages")
    current_date_time_s: int = i64("CurrentDateTime")


@message
class Logoff(DtcMessage):
    TYPE: ClassVar[int] = MessageType.LOGOFF
    reason: str = text("Reason", 96)
    do_not_reconnect: bool = flag("DoNotReconnect")


# --- Symbol discovery and security definitions ------------------------------------------------


@message
class SecurityDefinitionForSymbolRequest(DtcMessage):
    TYPE: ClassVar[int] = MessageType.SECURITY_DEFINITION_FOR_SYMBOL_REQUEST
    request_id: int = i32("RequestID")
    symbol: str = text("Symbol", 64)
    exchange: str = text("Exchange", 16)


@message
class SecurityDefinitionResponse(DtcMessage):
    TYPE: ClassVar[int] = MessageType.SECURITY_DEFINITION_RESPONSE
    request_id: int = i32("RequestID")
    symbol: str = text("Symbol", 64)
    exchange: str = text("Exchange", 16)
    security_type: SecurityTypeEnum = enum("SecurityType", SecurityTypeEnum, SecurityTypeEnum.UNSET)
    description: str = text("Description", 64)
    min_price_increment: float = f32("MinPriceIncrement")
    price_display_format: PriceDisplayFormatEnum = enum(
        "PriceDisplayFormat", PriceDisplayFormatEnum, PriceDisplayFormatEnum.UNSET
    )
    currency_value_per_increment: float = f32("CurrencyValuePerIncrement")
    is_final_message: bool = flag("IsFinalMessage")
    float_to_int_price_multiplier: float = f32("FloatToIntPriceMultiplier", 1.0)
    int_to_float_price_divisor: float = f32("IntToFloatPriceDivisor", 1.0)
    underlying_symbol: str = text("UnderlyingSymbol", 32)
    updates_bid_ask_only: bool = flag("UpdatesBidAskOnly")
    strike_price: float = f32("StrikePrice")
    put_or_call: PutCallEnum = enum("PutOrCall", PutCallEnum, PutCallEnum.UNSET, kind="u8")
    short_interest: int = u32("ShortInterest")
    security_expiration_date_s: int = u32("SecurityExpirationDate")
    buy_rollover_interest: float = f32("BuyRolloverInterest")
    sell_rollover_interest: float = f32("SellRolloverInterest")
    earnings_per_share: float = f32("EarningsPerShare")
    shares_outstanding: int = u32("SharesOutstanding")
    int_to_float_quantity_divisor: float = f32("IntToFloatQuantityDivisor")
    has_market_depth_data: bool = flag("HasMarketDepthData", True)
    display_price_multiplier: float = f32("DisplayPriceMultiplier", 1.0)
    exchange_symbol: str = text("ExchangeSymbol", 64)
    initial_margin_requirement: float = f32("InitialMarginRequirement")
    maintenance_margin_requirement: float = f32("MaintenanceMarginRequirement")
    currency: str = text("Currency", 8)
    contract_size: float = f32("ContractSize")
    open_interest: int = u32("OpenInterest")
    rollover_date_s: int = u32("RolloverDate")
    is_delayed: bool = flag("IsDelayed")
    security_identifier: int = i64("SecurityIdentifier")
    product_identifier: str = text("ProductIdentifier", 64)


@message
class SecurityDefinitionReject(DtcMessage):
    TYPE: ClassVar[int] = MessageType.SECURITY_DEFINITION_REJECT
    request_id: int = i32("RequestID")
    reject_text: str = text("RejectText", 96)


# --- Account list -----------------------------------------------------------------------------


@message
class TradeAccountsRequest(DtcMessage):
    TYPE: ClassVar[int] = MessageType.TRADE_ACCOUNTS_REQUEST
    request_id: int = i32("RequestID")


@message
class TradeAccountResponse(DtcMessage):
    TYPE: ClassVar[int] = MessageType.TRADE_ACCOUNT_RESPONSE
    total_number_messages: int = i32("TotalNumberMessages")
    message_number: int = i32("MessageNumber")
    trade_account: str = text("TradeAccount", 32)
    request_id: int = i32("RequestID")


# --- Logging ----------------------------------------------------------------------------------


@message
class UserMessage(DtcMessage):
    TYPE: ClassVar[int] = MessageType.USER_MESSAGE
    user_message: str = text("UserMessage", 256)
    is_popup_message: bool = flag("IsPopupMessage", True)


@message
class GeneralLogMessage(DtcMessage):
    TYPE: ClassVar[int] = MessageType.GENERAL_LOG_MESSAGE
    message_text: str = text("MessageText", 128)


@message
class AlertMessage(DtcMessage):
    TYPE: ClassVar[int] = MessageType.ALERT_MESSAGE
    message_text: str = text("MessageText", 128)
    trade_account: str = text("TradeAccount", 32)
