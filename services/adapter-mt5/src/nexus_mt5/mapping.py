"""Our orders in MetaTrader 5's terms, and every answer of the terminal in ours. Pure: no I/O.

- `RETCODES`: every TRADE_RETCODE in ONE table, code -> (outcome, reason). The outcome says what the
  adapter does: DONE (the request took effect), RETRY_PRICE (not executed: re-send with a fresh price,
  a bounded number of times), RETRY (not executed, transient: re-send after a pause, same bound),
  UNKNOWN (may have taken effect: look the order up by comment, never re-send blindly), REJECT
  (definitive: a rejected report with the reason). A code missing from the table is UNKNOWN.
- `IPC_ERRORS`: what `last_error()` means when order_send returned None (the request may not even
  have left the terminal): link failures are UNKNOWN, malformed requests are REJECT.
- `build_request`: market -> TRADE_ACTION_DEAL at the current bid/ask with the instance's deviation;
  limit -> TRADE_ACTION_PENDING + ORDER_TYPE_BUY_LIMIT/SELL_LIMIT at the limit price rounded to the
  tick never to a worse price; volume rounded *down* to the symbol's volume_step (never more exposure
  than asked); filling from the symbol's flags; the client order id in the comment (it must fit).
  On a hedging account an order against one of our open positions closes it (`position=`) rather
  than opening an opposite one (`closable_position`).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import IntEnum, StrEnum
from typing import Any

from nexus_mt5.config import COMMENT_MAX_LEN
from nexus_mt5.constants import Action, ExecMode, Filling, OrderKind, PositionType, SymbolFilling, TypeTime
from nexus_protocol.enums import OrderType, Side, TimeInForce
from nexus_protocol.errors import VenueError
from nexus_protocol.messages import VenueOrder


class Retcode(IntEnum):  # TRADE_RETCODE_*
    REQUOTE = 10004
    REJECT = 10006
    CANCEL = 10007
    PLACED = 10008
    DONE = 10009
    DONE_PARTIAL = 10010
    ERROR = 10011
    TIMEOUT = 10012
    INVALID = 10013
    INVALID_VOLUME = 10014
    INVALID_PRICE = 10015
    INVALID_STOPS = 10016
    TRADE_DISABLED = 10017
    MARKET_CLOSED = 10018
    NO_MONEY = 10019
    PRICE_CHANGED = 10020
    PRICE_OFF = 10021
    INVALID_EXPIRATION = 10022
    ORDER_CHANGED = 10023
    TOO_MANY_REQUESTS = 10024
    NO_CHANGES = 10025
    SERVER_DISABLES_AT = 10026
    CLIENT_DISABLES_AT = 10027
    LOCKED = 10028
    FROZEN = 10029
    INVALID_FILL = 10030
    CONNECTION = 10031
    ONLY_REAL = 10032
    LIMIT_ORDERS = 10033
    LIMIT_VOLUME = 10034
    INVALID_ORDER = 10035
    POSITION_CLOSED = 10036
    INVALID_CLOSE_VOLUME = 10038
    CLOSE_ORDER_EXIST = 10039
    LIMIT_POSITIONS = 10040
    REJECT_CANCEL = 10041
    LONG_ONLY = 10042
    SHORT_ONLY = 10043
    CLOSE_ONLY = 10044
    FIFO_CLOSE = 10045


class Outcome(StrEnum):
    DONE = "done"
    RETRY_PRICE = "retry_price"
    RETRY = "retry"
    UNKNOWN = "unknown"
    REJECT = "reject"


_D, _P, _R, _U, _X = Outcome.DONE, Outcome.RETRY_PRICE, Outcome.RETRY, Outcome.UNKNOWN, Outcome.REJECT
# fmt: off
RETCODES: dict[Retcode, tuple[Outcome, str]] = {
    Retcode.REQUOTE:              (_P, "requote"),
    Retcode.REJECT:               (_X, "rejected by the broker"),
    Retcode.CANCEL:               (_X, "cancelled by the trader"),
    Retcode.PLACED:               (_D, "order placed"),
    Retcode.DONE:                 (_D, "done"),
    Retcode.DONE_PARTIAL:         (_D, "done partially"),
    Retcode.ERROR:                (_U, "request processing error"),
    Retcode.TIMEOUT:              (_U, "request timed out at the trade server"),
    Retcode.INVALID:              (_X, "invalid request"),
    Retcode.INVALID_VOLUME:       (_X, "invalid volume"),
    Retcode.INVALID_PRICE:        (_X, "invalid price"),
    Retcode.INVALID_STOPS:        (_X, "invalid stops"),
    Retcode.TRADE_DISABLED:       (_X, "trading disabled for the symbol"),
    Retcode.MARKET_CLOSED:        (_X, "market closed"),
    Retcode.NO_MONEY:             (_X, "not enough money"),
    Retcode.PRICE_CHANGED:        (_P, "prices changed"),
    Retcode.PRICE_OFF:            (_P, "no quotes to process the request"),
    Retcode.INVALID_EXPIRATION:   (_X, "invalid expiration"),
    Retcode.ORDER_CHANGED:        (_X, "order state changed"),
    Retcode.TOO_MANY_REQUESTS:    (_R, "too many requests"),
    Retcode.NO_CHANGES:           (_D, "no changes"),
    Retcode.SERVER_DISABLES_AT:   (_X, "autotrading disabled by the server"),
    Retcode.CLIENT_DISABLES_AT:   (_X, "autotrading disabled in the terminal (Algo Trading is off)"),
    Retcode.LOCKED:               (_U, "request locked for processing"),
    Retcode.FROZEN:               (_X, "order or position frozen"),
    Retcode.INVALID_FILL:         (_X, "filling mode not supported for the symbol"),
    Retcode.CONNECTION:           (_X, "no connection to the trade server"),
    Retcode.ONLY_REAL:            (_X, "only allowed on live accounts"),
    Retcode.LIMIT_ORDERS:         (_X, "pending orders limit reached"),
    Retcode.LIMIT_VOLUME:         (_X, "volume limit for the symbol reached"),
    Retcode.INVALID_ORDER:        (_X, "invalid or prohibited order type"),
    Retcode.POSITION_CLOSED:      (_X, "position already closed"),
    Retcode.INVALID_CLOSE_VOLUME: (_X, "close volume exceeds the position"),
    Retcode.CLOSE_ORDER_EXIST:    (_X, "a close order already exists for the position"),
    Retcode.LIMIT_POSITIONS:      (_X, "open positions limit reached"),
    Retcode.REJECT_CANCEL:        (_X, "pending order activation rejected, order cancelled"),
    Retcode.LONG_ONLY:            (_X, "only long positions allowed for the symbol"),
    Retcode.SHORT_ONLY:           (_X, "only short positions allowed for the symbol"),
    Retcode.CLOSE_ONLY:           (_X, "only position closing allowed for the symbol"),
    Retcode.FIFO_CLOSE:           (_X, "positions must be closed FIFO"),
}
# fmt: on

SUCCESS = frozenset(c for c, (o, _) in RETCODES.items() if o is Outcome.DONE)
RETRYABLE = frozenset(c for c, (o, _) in RETCODES.items() if o in (Outcome.RETRY_PRICE, Outcome.RETRY))
UNKNOWN = frozenset(c for c, (o, _) in RETCODES.items() if o is Outcome.UNKNOWN)
DEFINITIVE = frozenset(c for c, (o, _) in RETCODES.items() if o is Outcome.REJECT)


def outcome(retcode: int) -> Outcome:
    try:
        return RETCODES[Retcode(retcode)][0]
    except ValueError:
        return Outcome.UNKNOWN  # a code this table does not know: the order may exist; look it up


def reason(retcode: int, comment: str = "") -> str:
    """The reject reason a leg reports: what happened, the terminal's words, the code."""
    try:
        code = Retcode(retcode)
        text = f"{RETCODES[code][1]} (TRADE_RETCODE_{code.name} {retcode})"
    except ValueError:
        text = f"retcode {retcode}"
    return f"{text}: {comment}" if comment else text


class IpcError(IntEnum):  # RES_* of last_error(), when a call answered None
    FAIL = -1
    INVALID_PARAMS = -2
    NO_MEMORY = -3
    NOT_FOUND = -4
    INVALID_VERSION = -5
    AUTH_FAILED = -6
    UNSUPPORTED = -7
    AUTO_TRADING_DISABLED = -8
    INTERNAL_FAIL = -10000
    INTERNAL_FAIL_SEND = -10001
    INTERNAL_FAIL_RECEIVE = -10002
    INTERNAL_FAIL_INIT = -10003
    INTERNAL_FAIL_CONNECT = -10004
    INTERNAL_FAIL_TIMEOUT = -10005


# order_send answered None: the request was refused in the terminal, or the IPC failed around it.
IPC_UNKNOWN = frozenset(
    {
        IpcError.FAIL,
        IpcError.INTERNAL_FAIL,
        IpcError.INTERNAL_FAIL_SEND,
        IpcError.INTERNAL_FAIL_RECEIVE,
        IpcError.INTERNAL_FAIL_TIMEOUT,
    }
)
IPC_DISCONNECTED = frozenset({IpcError.INTERNAL_FAIL_INIT, IpcError.INTERNAL_FAIL_CONNECT})


def ipc_outcome(code: int) -> Outcome:
    """Refusals of the request itself are definitive; anything on the IPC path is unknown."""
    try:
        err = IpcError(code)
    except ValueError:
        return Outcome.UNKNOWN
    return Outcome.UNKNOWN if err in IPC_UNKNOWN | IPC_DISCONNECTED else Outcome.REJECT


# ---- symbols and requests --------------------------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class SymbolTerms:
    """What `symbol_info` says about sizing, prices and filling."""

    name: str
    volume_min: float
    volume_max: float
    volume_step: float
    tick_size: float
    point: float
    digits: int
    filling_flags: int
    exec_mode: int

    @classmethod
    def of(cls, info: Mapping[str, Any]) -> SymbolTerms:
        digits = int(info.get("digits") or 0)
        point = float(info.get("point") or 10.0**-digits)
        return cls(
            name=str(info["name"]),
            volume_min=float(info.get("volume_min") or 0.0),
            volume_max=float(info.get("volume_max") or 0.0),
            volume_step=float(info.get("volume_step") or 0.0),
            tick_size=float(info.get("trade_tick_size") or point),
            point=point,
            digits=digits,
            filling_flags=int(info.get("filling_mode") or 0),
            exec_mode=int(info.get("trade_exemode") or 0),
        )


def _decimals(step: float) -> int:
    text = f"{step:.10f}".rstrip("0")
    return len(text.split(".")[1]) if "." in text else 0


def round_volume(requested: float, terms: SymbolTerms) -> float:
    """Down to the volume step (never more exposure than asked); refused outside [min, max]."""
    step = terms.volume_step or terms.volume_min or 1.0
    volume = round(math.floor(requested / step + 1e-9) * step, _decimals(step))
    if volume <= 0 or volume < terms.volume_min - 1e-12:
        raise VenueError(
            f"{requested:g} lots of {terms.name} is below its minimum volume "
            f"{terms.volume_min:g} (step {step:g})",
            code=int(Retcode.INVALID_VOLUME),
        )
    if terms.volume_max and volume > terms.volume_max + 1e-12:
        raise VenueError(
            f"{requested:g} lots of {terms.name} is above its maximum volume {terms.volume_max:g}",
            code=int(Retcode.INVALID_VOLUME),
        )
    return volume


def round_price(price: float, terms: SymbolTerms, side: Side) -> float:
    """A limit price on the tick grid, never worse for us: buys round down, sells round up."""
    tick = terms.tick_size or terms.point
    ticks = price / tick
    n = math.floor(ticks + 1e-9) if side is Side.BUY else math.ceil(ticks - 1e-9)
    return round(n * tick, max(terms.digits, _decimals(tick)))


_PREFERENCE = {"fok": Filling.FOK, "ioc": Filling.IOC, "return": Filling.RETURN}


def choose_filling(terms: SymbolTerms, preference: str, tif: TimeInForce) -> Filling:
    """FOK/IOC where the symbol's flags allow them (CFD brokers), RETURN where they allow neither (B3,
    exchange execution). An order's own IOC/FOK, or a configured mode, wins when the symbol allows it."""
    flags = SymbolFilling(terms.filling_flags & 3)
    allowed = {Filling.RETURN} if not flags or terms.exec_mode == ExecMode.EXCHANGE else set()
    if SymbolFilling.FOK in flags:
        allowed.add(Filling.FOK)
    if SymbolFilling.IOC in flags:
        allowed.add(Filling.IOC)
    wanted = {TimeInForce.FOK: Filling.FOK, TimeInForce.IOC: Filling.IOC}.get(tif)
    if wanted is None:  # (Filling.FOK is 0: test for None, never for truth)
        wanted = _PREFERENCE.get(preference)
    if wanted is not None:
        if wanted not in allowed:
            raise VenueError(
                f"{terms.name} does not allow filling {wanted.name} (symbol flags {int(flags)})",
                code=int(Retcode.INVALID_FILL),
            )
        return wanted
    for mode in (Filling.FOK, Filling.IOC, Filling.RETURN):
        if mode in allowed:
            return mode
    raise VenueError(
        f"{terms.name}: no filling mode allowed (flags {int(flags)})", code=int(Retcode.INVALID_FILL)
    )


def check_comment(client_order_id: str) -> str:
    """The client order id travels in the order comment: it must fit whole, or lookups would miss it."""
    if len(client_order_id) > COMMENT_MAX_LEN:
        raise VenueError(
            f"client order id {client_order_id!r} is {len(client_order_id)} characters; "
            f"the MT5 comment keeps {COMMENT_MAX_LEN}"
        )
    return client_order_id


def build_request(
    order: VenueOrder,
    terms: SymbolTerms,
    *,
    bid: float,
    ask: float,
    magic: int,
    deviation_points: int,
    filling: Filling,
) -> dict[str, Any]:
    """The order_send request for one VenueOrder (market or limit)."""
    volume = round_volume(order.venue_quantity, terms)
    buy = order.side is Side.BUY
    request: dict[str, Any] = {
        "symbol": terms.name,
        "volume": volume,
        "magic": magic,
        "comment": check_comment(order.client_order_id),
        "type_filling": int(filling),
    }
    if order.order_type is OrderType.MARKET:
        price = ask if buy else bid
        if not price or price <= 0:
            raise VenueError(
                f"no {'ask' if buy else 'bid'} for {terms.name}", code=int(Retcode.PRICE_OFF), retryable=False
            )
        request.update(
            action=int(Action.DEAL),
            type=int(OrderKind.BUY if buy else OrderKind.SELL),
            price=price,
            deviation=deviation_points,
            type_time=int(TypeTime.GTC),
        )
        return request
    if order.order_type is OrderType.LIMIT:
        if order.limit_price is None or order.limit_price <= 0:
            raise VenueError("limit order without a limit price")
        request.update(
            action=int(Action.PENDING),
            type=int(OrderKind.BUY_LIMIT if buy else OrderKind.SELL_LIMIT),
            price=round_price(order.limit_price, terms, order.side),
            type_time=int(TypeTime.GTC if order.time_in_force is TimeInForce.GTC else TypeTime.DAY),
        )
        return request
    raise VenueError(f"{order.order_type.value} orders are not supported on MT5 by this adapter")


def closable_position(
    positions: Sequence[Mapping[str, Any]], order: VenueOrder, volume: float, magic: int | None
) -> int | None:
    """On a hedging account: the oldest of our positions (of any magic when `magic` is None) in the
    symbol on the other side that can absorb the whole order (FIFO, which US-regulated brokers
    require), or None (the order opens one)."""
    held = PositionType.SELL if order.side is Side.BUY else PositionType.BUY
    fits = [
        p
        for p in positions
        if p.get("symbol") == order.venue_symbol
        and (magic is None or int(p.get("magic", 0)) == magic)
        and int(p.get("type", -1)) == held
        and float(p.get("volume", 0.0)) >= volume - 1e-9
    ]
    if not fits:
        return None
    oldest = min(fits, key=lambda p: (int(p.get("time_msc", 0)), int(p.get("ticket", 0))))
    return int(oldest["ticket"])


def remove_request(ticket: int, magic: int) -> dict[str, Any]:
    return {"action": int(Action.REMOVE), "order": ticket, "magic": magic}
