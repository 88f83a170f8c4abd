"""The MetaTrader5 package's constants the adapter uses, as enums.

The package only installs on Windows, so the adapter cannot import them on Linux; these are its values
(tests check them against `nexus_mt5.simulator.constants`, which was read from the package's own
`__init__.py`, MetaTrader5 5.0.6231). `SymbolFilling` holds MQL5's SYMBOL_FILLING_* bits, which the
Python package does not export although `symbol_info().filling_mode` is made of them.
"""

from __future__ import annotations

from enum import IntEnum, IntFlag, StrEnum

from nexus_protocol.enums import OrderStatus


class Action(IntEnum):  # TRADE_ACTION_*
    DEAL = 1
    PENDING = 5
    SLTP = 6
    MODIFY = 7
    REMOVE = 8
    CLOSE_BY = 10


class OrderKind(IntEnum):  # ORDER_TYPE_*
    BUY = 0
    SELL = 1
    BUY_LIMIT = 2
    SELL_LIMIT = 3
    BUY_STOP = 4
    SELL_STOP = 5


class Filling(IntEnum):  # ORDER_FILLING_*
    FOK = 0
    IOC = 1
    RETURN = 2


class SymbolFilling(IntFlag):  # MQL5 SYMBOL_FILLING_* bits of symbol_info().filling_mode (not exported)
    FOK = 1
    IOC = 2


class TypeTime(IntEnum):  # ORDER_TIME_*
    GTC = 0
    DAY = 1


class ExecMode(IntEnum):  # SYMBOL_TRADE_EXECUTION_*
    REQUEST = 0
    INSTANT = 1
    MARKET = 2
    EXCHANGE = 3


class Mt5OrderState(IntEnum):  # ORDER_STATE_*
    STARTED = 0
    PLACED = 1
    CANCELED = 2
    PARTIAL = 3
    FILLED = 4
    REJECTED = 5
    EXPIRED = 6
    REQUEST_ADD = 7
    REQUEST_MODIFY = 8
    REQUEST_CANCEL = 9


class DealType(IntEnum):  # DEAL_TYPE_* (only trades; balance, credit, charges ... are not fills)
    BUY = 0
    SELL = 1


class PositionType(IntEnum):  # POSITION_TYPE_*
    BUY = 0
    SELL = 1


class MarginMode(IntEnum):  # ACCOUNT_MARGIN_MODE_*
    RETAIL_NETTING = 0
    EXCHANGE = 1
    RETAIL_HEDGING = 2


# A finished order's terminal state; working states are reported from the order's fills instead.
FINAL_STATES: dict[Mt5OrderState, OrderStatus] = {
    Mt5OrderState.CANCELED: OrderStatus.CANCELLED,
    Mt5OrderState.REJECTED: OrderStatus.REJECTED,
    Mt5OrderState.EXPIRED: OrderStatus.EXPIRED,
    Mt5OrderState.FILLED: OrderStatus.FILLED,
}


# ---- answers: every TRADE_RETCODE and what it means for the adapter ---------------------------------


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


class RetcodeOutcome(StrEnum):
    DONE = "done"
    RETRY_PRICE = "retry_price"
    RETRY = "retry"
    UNKNOWN = "unknown"
    REJECT = "reject"


_D, _P, _R, _U, _X = (
    RetcodeOutcome.DONE,
    RetcodeOutcome.RETRY_PRICE,
    RetcodeOutcome.RETRY,
    RetcodeOutcome.UNKNOWN,
    RetcodeOutcome.REJECT,
)
# fmt: off
RETCODES: dict[Retcode, tuple[RetcodeOutcome, str]] = {
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

SUCCESS = frozenset(c for c, (o, _) in RETCODES.items() if o is RetcodeOutcome.DONE)
RETRYABLE = frozenset(
    c for c, (o, _) in RETCODES.items() if o in (RetcodeOutcome.RETRY_PRICE, RetcodeOutcome.RETRY)
)
UNKNOWN = frozenset(c for c, (o, _) in RETCODES.items() if o is RetcodeOutcome.UNKNOWN)
DEFINITIVE = frozenset(c for c, (o, _) in RETCODES.items() if o is RetcodeOutcome.REJECT)


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
