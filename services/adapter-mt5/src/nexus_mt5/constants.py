"""The MetaTrader5 package's constants the adapter uses, as enums.

The package only installs on Windows, so the adapter cannot import them on Linux; these are its values
(tests check them against `nexus_mt5.simulator.constants`, which was read from the package's own
`__init__.py`, MetaTrader5 5.0.6231). `SymbolFilling` holds MQL5's SYMBOL_FILLING_* bits, which the
Python package does not export although `symbol_info().filling_mode` is made of them.
"""

from __future__ import annotations

from enum import IntEnum, IntFlag

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


class OrderState(IntEnum):  # ORDER_STATE_*
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
FINAL_STATES: dict[OrderState, OrderStatus] = {
    OrderState.CANCELED: OrderStatus.CANCELLED,
    OrderState.REJECTED: OrderStatus.REJECTED,
    OrderState.EXPIRED: OrderStatus.EXPIRED,
    OrderState.FILLED: OrderStatus.FILLED,
}
