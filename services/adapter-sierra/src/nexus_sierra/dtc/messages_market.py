"""DTC market data messages: requests, rejects, snapshots and the streaming updates.

Same conventions as `messages` (struct order of DTCProtocol.h 2022, DTC field names as the first
helper argument, header-constructor defaults, time units in the names). Only the fixed-point
`_Int` variants are left out: the 2022 header removed them. Prices at DBL_MAX (FLT_MAX in the
compact messages) and counts at UINT_MAX mean "unset".
"""

from __future__ import annotations

from typing import ClassVar

from nexus_sierra.dtc.enums import (
    DBL_MAX,
    FLT_MAX,
    UINT_MAX,
    AtBidOrAskEnum,
    MarketDataFeedStatusEnum,
    MessageType,
    RequestActionEnum,
    TradingStatusEnum,
)
from nexus_sierra.dtc.fields import DtcMessage, enum, f32, f64, flag, message, text, u32

__all__ = [
    "MarketDataFeedStatus",
    "MarketDataFeedSymbolStatus",
    "MarketDataReject",
    "MarketDataRequest",
    "MarketDataSnapshot",
    "MarketDataUpdateBidAsk",
    "MarketDataUpdateBidAskCompact",
    "MarketDataUpdateLastTradeSnapshot",
    "MarketDataUpdateOpenInterest",
    "MarketDataUpdateSessionHigh",
    "MarketDataUpdateSessionLow",
    "MarketDataUpdateSessionOpen",
    "MarketDataUpdateSessionSettlement",
    "MarketDataUpdateSessionVolume",
    "MarketDataUpdateTrade",
    "MarketDataUpdateTradeCompact",
    "TradingSymbolStatus",
]


# --- Market data ------------------------------------------------------------------------------


@message
class MarketDataFeedStatus(DtcMessage):
    TYPE: ClassVar[int] = MessageType.MARKET_DATA_FEED_STATUS
    status: MarketDataFeedStatusEnum = enum(
        "Status", MarketDataFeedStatusEnum, MarketDataFeedStatusEnum.UNSET
    )


@message
class MarketDataFeedSymbolStatus(DtcMessage):
    TYPE: ClassVar[int] = MessageType.MARKET_DATA_FEED_SYMBOL_STATUS
    symbol_id: int = u32("SymbolID")
    status: MarketDataFeedStatusEnum = enum(
        "Status", MarketDataFeedStatusEnum, MarketDataFeedStatusEnum.UNSET
    )


@message
class TradingSymbolStatus(DtcMessage):
    TYPE: ClassVar[int] = MessageType.TRADING_SYMBOL_STATUS
    symbol_id: int = u32("SymbolID")
    status: TradingStatusEnum = enum("Status", TradingStatusEnum, TradingStatusEnum.UNKNOWN, kind="i8")


@message
class MarketDataRequest(DtcMessage):
    TYPE: ClassVar[int] = MessageType.MARKET_DATA_REQUEST
    request_action: RequestActionEnum = enum("RequestAction", RequestActionEnum, RequestActionEnum.SUBSCRIBE)
    symbol_id: int = u32("SymbolID")
    symbol: str = text("Symbol", 64)
    exchange: str = text("Exchange", 16)
    interval_for_snapshot_updates_ms: int = u32("IntervalForSnapshotUpdatesInMilliseconds")


@message
class MarketDataReject(DtcMessage):
    TYPE: ClassVar[int] = MessageType.MARKET_DATA_REJECT
    symbol_id: int = u32("SymbolID")
    reject_text: str = text("RejectText", 96)


@message
class MarketDataSnapshot(DtcMessage):
    TYPE: ClassVar[int] = MessageType.MARKET_DATA_SNAPSHOT
    symbol_id: int = u32("SymbolID")
    session_settlement_price: float = f64("SessionSettlementPrice", DBL_MAX)
    session_open_price: float = f64("SessionOpenPrice", DBL_MAX)
    session_high_price: float = f64("SessionHighPrice", DBL_MAX)
    session_low_price: float = f64("SessionLowPrice", DBL_MAX)
    session_volume: float = f64("SessionVolume", DBL_MAX)
    session_num_trades: int = u32("SessionNumTrades", UINT_MAX)
    open_interest: int = u32("OpenInterest", UINT_MAX)
    bid_price: float = f64("BidPrice", DBL_MAX)
    ask_price: float = f64("AskPrice", DBL_MAX)
    ask_quantity: float = f64("AskQuantity", DBL_MAX)
    bid_quantity: float = f64("BidQuantity", DBL_MAX)
    last_trade_price: float = f64("LastTradePrice", DBL_MAX)
    last_trade_volume: float = f64("LastTradeVolume", DBL_MAX)
    last_trade_date_time_s: float = f64("LastTradeDateTime")
    bid_ask_date_time_s: float = f64("BidAskDateTime")
    session_settlement_date_time_s: int = u32("SessionSettlementDateTime")
    trading_session_date_s: int = u32("TradingSessionDate")
    trading_status: TradingStatusEnum = enum(
        "TradingStatus", TradingStatusEnum, TradingStatusEnum.UNKNOWN, kind="i8"
    )
    market_depth_update_date_time_s: float = f64("MarketDepthUpdateDateTime")


@message
class MarketDataUpdateTrade(DtcMessage):
    TYPE: ClassVar[int] = MessageType.MARKET_DATA_UPDATE_TRADE
    symbol_id: int = u32("SymbolID")
    at_bid_or_ask: AtBidOrAskEnum = enum("AtBidOrAsk", AtBidOrAskEnum, AtBidOrAskEnum.UNSET, kind="u16")
    price: float = f64("Price")
    volume: float = f64("Volume")
    date_time_s: float = f64("DateTime")


@message
class MarketDataUpdateTradeCompact(DtcMessage):
    TYPE: ClassVar[int] = MessageType.MARKET_DATA_UPDATE_TRADE_COMPACT
    price: float = f32("Price")
    volume: float = f32("Volume")
    date_time_s: int = u32("DateTime")
    symbol_id: int = u32("SymbolID")
    at_bid_or_ask: AtBidOrAskEnum = enum("AtBidOrAsk", AtBidOrAskEnum, AtBidOrAskEnum.UNSET, kind="u16")


@message
class MarketDataUpdateBidAsk(DtcMessage):
    """A bid or ask price of DBL_MAX means that side (and its quantity) is unset."""

    TYPE: ClassVar[int] = MessageType.MARKET_DATA_UPDATE_BID_ASK
    symbol_id: int = u32("SymbolID")
    bid_price: float = f64("BidPrice", DBL_MAX)
    bid_quantity: float = f32("BidQuantity")
    ask_price: float = f64("AskPrice", DBL_MAX)
    ask_quantity: float = f32("AskQuantity")
    date_time_s: int = u32("DateTime")


@message
class MarketDataUpdateBidAskCompact(DtcMessage):
    TYPE: ClassVar[int] = MessageType.MARKET_DATA_UPDATE_BID_ASK_COMPACT
    bid_price: float = f32("BidPrice", FLT_MAX)
    bid_quantity: float = f32("BidQuantity")
    ask_price: float = f32("AskPrice", FLT_MAX)
    ask_quantity: float = f32("AskQuantity")
    date_time_s: int = u32("DateTime")
    symbol_id: int = u32("SymbolID")


@message
class MarketDataUpdateSessionVolume(DtcMessage):
    TYPE: ClassVar[int] = MessageType.MARKET_DATA_UPDATE_SESSION_VOLUME
    symbol_id: int = u32("SymbolID")
    volume: float = f64("Volume")
    trading_session_date_s: int = u32("TradingSessionDate")
    is_final_session_volume: bool = flag("IsFinalSessionVolume")


@message
class MarketDataUpdateSessionHigh(DtcMessage):
    TYPE: ClassVar[int] = MessageType.MARKET_DATA_UPDATE_SESSION_HIGH
    symbol_id: int = u32("SymbolID")
    price: float = f64("Price")
    trading_session_date_s: int = u32("TradingSessionDate")


@message
class MarketDataUpdateSessionLow(DtcMessage):
    TYPE: ClassVar[int] = MessageType.MARKET_DATA_UPDATE_SESSION_LOW
    symbol_id: int = u32("SymbolID")
    price: float = f64("Price")
    trading_session_date_s: int = u32("TradingSessionDate")


@message
class MarketDataUpdateSessionOpen(DtcMessage):
    TYPE: ClassVar[int] = MessageType.MARKET_DATA_UPDATE_SESSION_OPEN
    symbol_id: int = u32("SymbolID")
    price: float = f64("Price")
    trading_session_date_s: int = u32("TradingSessionDate")


@message
class MarketDataUpdateSessionSettlement(DtcMessage):
    TYPE: ClassVar[int] = MessageType.MARKET_DATA_UPDATE_SESSION_SETTLEMENT
    symbol_id: int = u32("SymbolID")
    price: float = f64("Price")
    date_time_s: int = u32("DateTime")


@message
class MarketDataUpdateOpenInterest(DtcMessage):
    TYPE: ClassVar[int] = MessageType.MARKET_DATA_UPDATE_OPEN_INTEREST
    symbol_id: int = u32("SymbolID")
    open_interest: int = u32("OpenInterest")
    trading_session_date_s: int = u32("TradingSessionDate")


@message
class MarketDataUpdateLastTradeSnapshot(DtcMessage):
    TYPE: ClassVar[int] = MessageType.MARKET_DATA_UPDATE_LAST_TRADE_SNAPSHOT
    symbol_id: int = u32("SymbolID")
    last_trade_price: float = f64("LastTradePrice")
    last_trade_volume: float = f64("LastTradeVolume")
    last_trade_date_time_s: float = f64("LastTradeDateTime")
