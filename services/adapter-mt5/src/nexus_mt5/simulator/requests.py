"""Argument checking of a trade request dict, as the MetaTrader5 package does it before anything else.

The real package converts the dict to an MqlTradeRequest in C: a key of the wrong type makes
`order_send`/`order_check` return None with last_error (-2, 'Invalid "<key>" argument') and nothing
reaches the terminal. Keys it does not know are ignored. What passes is a `TradeRequest` (the same
named tuple the results echo back), with 0 / "" for absent keys.

The request may arrive as a local dict (mt5linux sends `repr(request)` to be evaluated on the server) or
as an rpyc netref to the client's dict (a client calling `conn.modules.MetaTrader5.order_send(d)`);
both are read through `keys()` and `[]`, and the scalar values come by value either way.
"""

from __future__ import annotations

import math
from typing import Any

from nexus_mt5.simulator.types import TradeRequest


class RequestError(ValueError):
    """The request dict itself is malformed: the call returns None and sets last_error."""


_INT_FIELDS = (
    "action",
    "magic",
    "order",
    "deviation",
    "type",
    "type_filling",
    "type_time",
    "position",
    "position_by",
)
_FLOAT_FIELDS = ("volume", "price", "stoplimit", "sl", "tp")


def _as_int(key: str, value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise RequestError(f'Invalid "{key}" argument')
    return int(value)


def _as_float(key: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise RequestError(f'Invalid "{key}" argument')
    return float(value)


def _as_expiration(value: Any) -> int:
    if isinstance(value, int) and not isinstance(value, bool):
        return int(value)
    timestamp = getattr(value, "timestamp", None)
    if callable(timestamp):
        return int(timestamp())
    raise RequestError('Invalid "expiration" argument')


def parse_request(
    request: Any, *, comment_max_len: int = 31, comment_overflow: str = "truncate"
) -> TradeRequest:
    """Check and normalise one request dict; raises `RequestError` with the real package's message."""
    try:
        keys = [str(k) for k in request.keys()]  # noqa: SIM118 (a netref needs keys())
    except Exception:
        raise RequestError("Invalid arguments") from None
    if "action" not in keys:
        raise RequestError('Invalid "action" argument')
    values: dict[str, Any] = {}
    for key in _INT_FIELDS:
        if key in keys:
            values[key] = _as_int(key, request[key])
    for key in _FLOAT_FIELDS:
        if key in keys:
            values[key] = _as_float(key, request[key])
    if "symbol" in keys:
        symbol = request["symbol"]
        if not isinstance(symbol, str):
            raise RequestError('Invalid "symbol" argument')
        values["symbol"] = str(symbol)
    if "expiration" in keys:
        values["expiration"] = _as_expiration(request["expiration"])
    if "comment" in keys:
        comment = request["comment"]
        if not isinstance(comment, str):
            raise RequestError('Invalid "comment" argument')
        comment = str(comment)
        if len(comment) > comment_max_len:
            if comment_overflow == "reject":
                raise RequestError('Invalid "comment" argument')
            comment = comment[:comment_max_len]
        values["comment"] = comment
    return TradeRequest(**values)
