"""Bookmap's side of the local add-on protocol (the Java `serverside-rpc` of BookmapAPI/python-api), pure.

One message per line, UTF-8, fields separated by U+E000, the first field the numeric type. What Bookmap
sends is built here exactly as its converters build it (`Type.java`, `*Converter.java`): DEPTH is
`8|alias|isBid 1/0|price level|size level`, TRADE has ten fields with `1`/`0` flags and empty order ids,
INSTRUMENT_INFO ends with the supported-features JSON, UPDATE_ORDER / EXECUTE_ORDER / POSITION_UPDATE /
BALANCE_UPDATE carry gson JSON of Bookmap's `OrderInfoUpdate` / `ExecutionInfo` / `StatusInfo` /
`BalanceInfo` (field names as the Java classes, NaN written as `NaN`). What the add-on sends is parsed as
Bookmap's income converters parse it (REQ_DATA `3|alias|reqId|type|`, SEND_ORDER `19|{json}`, CANCEL_ORDER
`23|alias|orderId|True|nan`). The tests check every builder against the real `bookmap` package's parser.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from enum import IntEnum
from typing import Any

SEP = "\ue000"


class T(IntEnum):
    """Message type codes (`Type.java`)."""

    CLIENT_INIT = 0
    SERVER_INIT = 1
    INSTRUMENT_INFO = 2
    REQ_DATA = 3
    RESP_DATA = 4
    TRADE = 5
    BAR = 6
    INSTRUMENT_DETACHED = 7
    DEPTH = 8
    REGISTER_INDICATOR = 9
    INDICATOR_RESPONSE = 10
    ADD_POINT_TO_INDICATOR = 11
    ON_INTERVAL = 12
    INITIALIZATION_FINISHED = 13
    ADD_SETTING_FIELD = 14
    ON_SETTINGS_PARAMETER_CHANGED = 15
    SERVER_OFF = 16
    CLIENT_OFF = 17
    MBO = 18
    SEND_ORDER = 19
    EXECUTE_ORDER = 20
    UPDATE_ORDER = 21
    ORDER_INFO = 22
    CANCEL_ORDER = 23
    MOVE_ORDER = 24
    MOVE_ORDER_TO_MARKET = 25
    RESIZE_ORDER = 26
    BALANCE_UPDATE = 27
    POSITION_UPDATE = 28
    ERROR = -1


def _double(value: float) -> str:
    """Java's Double.toString for the values we send: `21000.0`, `0.25`, `NaN`."""
    return "NaN" if math.isnan(value) else repr(float(value))


def _flag(value: bool) -> str:
    return "1" if value else "0"


def _json(data: Mapping[str, Any]) -> str:
    return json.dumps(data, separators=(",", ":"))  # gson: compact, NaN allowed


def line(*fields: object) -> str:
    return SEP.join(str(f) for f in fields)


# -- Bookmap -> add-on -----------------------------------------------------------------------------------


def server_init() -> str:
    return str(int(T.SERVER_INIT))


def instrument_info(
    *,
    alias: str,
    full_name: str,
    is_crypto: bool,
    pips: float,
    size_multiplier: float,
    instrument_multiplier: float,
    features: Mapping[str, Any],
) -> str:
    return line(
        int(T.INSTRUMENT_INFO),
        alias,
        full_name,
        _flag(is_crypto),
        _double(pips),
        _double(size_multiplier),
        _double(instrument_multiplier),
        _json(features),
    )


def supported_features(*, trading: bool) -> dict[str, Any]:
    """`Layer1ApiProviderSupportedFeatures` as gson writes it (the fields the converter keeps)."""
    return {
        "trading": trading,
        "multiAccountTrading": False,
        "oco": False,
        "oso": False,
        "depth": True,
        "mbo": False,
        "trailingStopsAsIndependentOrders": False,
        "trailingStopsAsBracketChildren": False,
        "brackets": False,
        "bracketTiers": False,
        "convertOrderToMkt": False,
        "supportedLimitDurations": ["GTC", "DAY", "IOC", "FOK"] if trading else [],
        "supportedStopDurations": ["GTC", "DAY"] if trading else [],
        "supportedStopOrders": ["MKT"] if trading else [],
        "negativeStopLimitOffset": False,
        "marketMode": False,
        "isBalanceSupported": trading,
        "tradingStartKnown": False,
        "exchangeUsedForSubscription": False,
        "typeUsedForSubscription": False,
        "isDelayed": False,
        "clientSideFeatures": [],
        "isTradingSubscriptionSupported": False,
    }


def resp_data(req_id: int) -> str:
    return line(int(T.RESP_DATA), req_id)


def instrument_detached(alias: str) -> str:
    return line(int(T.INSTRUMENT_DETACHED), alias)


def depth(alias: str, is_bid: bool, price_level: int, size_level: int) -> str:
    return line(int(T.DEPTH), alias, _flag(is_bid), price_level, size_level)


def trade(alias: str, price_level: float, size_level: int, *, is_bid_aggressor: bool) -> str:
    """One trade; OTC off, execution start and end set, no MBO order ids (empty fields)."""
    return line(
        int(T.TRADE),
        alias,
        _double(price_level),
        size_level,
        "0",
        _flag(is_bid_aggressor),
        "1",
        "1",
        "",
        "",
    )


def update_order(info: Mapping[str, Any]) -> str:
    return line(int(T.UPDATE_ORDER), _json(info))


def execute_order(alias: str, info: Mapping[str, Any]) -> str:
    return line(int(T.EXECUTE_ORDER), alias, _json(info))


def position_update(info: Mapping[str, Any]) -> str:
    return line(int(T.POSITION_UPDATE), _json(info))


def balance_update(info: Mapping[str, Any]) -> str:
    return line(int(T.BALANCE_UPDATE), _json(info))


_CHANGED = (
    "filled",
    "unfilled",
    "averageFillPrice",
    "duration",
    "status",
    "limitPrice",
    "stopPrice",
    "stopTriggered",
    "modificationTime",
)


def order_info_update(
    *,
    alias: str,
    order_id: str,
    is_buy: bool,
    order_type: str,
    client_id: str,
    filled: int,
    unfilled: int,
    average_fill_price: float,
    duration: str,
    status: str,
    limit_price: float,
    stop_price: float,
    stop_triggered: bool,
    time_ms: int,
    changed: Iterable[str] = _CHANGED,
) -> dict[str, Any]:
    """`OrderInfoUpdate` as gson writes it: its own `*Changed` flags first, then `OrderInfo`'s fields.
    Absent prices are NaN, as in Bookmap."""
    flags = set(changed)
    info: dict[str, Any] = {f"{name}Changed": name in flags for name in _CHANGED}
    info.update(
        instrumentAlias=alias,
        orderId=order_id,
        isBuy=is_buy,
        type=order_type,
        clientId=client_id,
        doNotIncrease=False,
        filled=filled,
        unfilled=unfilled,
        averageFillPrice=average_fill_price,
        duration=duration,
        status=status,
        limitPrice=limit_price,
        stopPrice=stop_price,
        stopTriggered=stop_triggered,
        modificationUtcTime=time_ms,
        isSimulated=False,
        isDuplicate=False,
    )
    return info


def execution_info(
    *, order_id: str, size: int, price: float, execution_id: str, time_ms: int
) -> dict[str, Any]:
    return {
        "orderId": order_id,
        "size": size,
        "price": price,
        "executionId": execution_id,
        "time": time_ms,
        "isSimulated": False,
    }


def status_info(
    *,
    alias: str,
    unrealized_pnl: float,
    realized_pnl: float,
    currency: str,
    position: int,
    average_price: float,
    volume: int,
    working_buys: int,
    working_sells: int,
) -> dict[str, Any]:
    return {
        "instrumentAlias": alias,
        "unrealizedPnl": unrealized_pnl,
        "realizedPnl": realized_pnl,
        "currency": currency,
        "position": position,
        "averagePrice": average_price,
        "volume": volume,
        "workingBuys": working_buys,
        "workingSells": working_sells,
        "isDuplicate": False,
    }


def balance_info(
    *, currency: str, balance: float, realized_pnl: float, unrealized_pnl: float
) -> dict[str, Any]:
    entry = {
        "balance": balance,
        "realizedPnl": realized_pnl,
        "unrealizedPnl": unrealized_pnl,
        "previousDayBalance": math.nan,
        "netLiquidityValue": balance + unrealized_pnl,
        "currency": currency,
        "rateToBase": 1.0,
    }
    return {"balancesInCurrency": [entry]}


# -- add-on -> Bookmap -----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ReqDataLine:
    alias: str
    req_id: int
    data_type: int
    params: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class SendOrderLine:
    alias: str
    is_buy: bool
    size: int
    limit_price: float | None
    stop_price: float | None
    duration: str | None
    client_id: str | None


@dataclass(frozen=True, slots=True)
class CancelOrderLine:
    alias: str
    order_id: str
    is_batch_end: bool
    batch_id: int | None


@dataclass(frozen=True, slots=True)
class OtherLine:
    """Anything else the add-on sends (CLIENT_INIT, INITIALIZATION_FINISHED, settings, indicators...)."""

    type: int
    fields: tuple[str, ...]


Incoming = ReqDataLine | SendOrderLine | CancelOrderLine | OtherLine


class WireError(ValueError):
    """A line from the add-on that Bookmap's converters would refuse."""


def parse(text: str) -> Incoming:
    fields = text.split(SEP)
    # Java's String.split drops trailing empty strings (REQ_DATA ends with a separator).
    while len(fields) > 1 and fields[-1] == "":
        fields.pop()
    try:
        kind = int(fields[0])
        if kind == T.REQ_DATA:
            return ReqDataLine(fields[1], int(fields[2]), int(fields[3]), tuple(fields[4:]))
        if kind == T.SEND_ORDER:
            return _send_order(json.loads(fields[1]))
        if kind == T.CANCEL_ORDER:
            batch = None if fields[4] == "nan" else int(fields[4])
            return CancelOrderLine(fields[1], fields[2], fields[3].lower() == "true", batch)
    except (IndexError, ValueError, KeyError, TypeError) as exc:
        raise WireError(f"bad message {text!r}: {exc}") from exc
    return OtherLine(kind, tuple(fields[1:]))


def _send_order(data: Mapping[str, Any]) -> SendOrderLine:
    def price(key: str) -> float | None:
        return None if key not in data else float(data[key])

    return SendOrderLine(
        alias=str(data["alias"]),
        is_buy=bool(data["isBuy"]),
        size=int(data["size"]),
        limit_price=price("limitPrice"),
        stop_price=price("stopPrice"),
        duration=None if "duration" not in data else str(data["duration"]),
        client_id=None if "clientId" not in data else str(data["clientId"]),
    )
