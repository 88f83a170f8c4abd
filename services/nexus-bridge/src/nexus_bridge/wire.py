"""What the client and the service agree on, pure: names, the signal a client builds, the dicts its
callbacks receive, and the status the service publishes for clients.

- The client XADDs a `Signal` (its id a fresh ULID, the envelope id the same) to the intake stream
  `nx:{bridge:intake}`; only the bridge service publishes to `nx:signals`.
- Market data reaches callbacks as a dict: `symbol`, `price` (last, else mid), `bid`, `ask`, `last`,
  sizes, `venue`, `contract`, `ts_ns` (origin time) and `id`.
- Executions reach callbacks as the `Execution` fields (`signal_id`, `status`, `final`,
  `filled_quantity`, `avg_price`, `realized_pnl_usd`, `legs`, `reason`...) plus `id` and `ts_ns`.
- The service keeps `nx:{control}:bridge` alive with a TTL (a packed Heartbeat); its absence means
  no bridge service runs, and the client goes to safe mode.
"""

from __future__ import annotations

import math
import time
from collections import OrderedDict
from collections.abc import Mapping
from typing import Any

from nexus_bridge.errors import SignalError
from nexus_protocol.codec import Envelope, validated
from nexus_protocol.enums import OrderType, Side
from nexus_protocol.ids import new_signal_id, signal_id_problem
from nexus_protocol.messages import Execution, Signal, Tick
from nexus_protocol.streams import Names

CONNECTED = "connected"
DISCONNECTED = "disconnected"
SAFE_MODE = "safe_mode"


def intake_stream(names: Names) -> str:
    return names.bridge_intake


def status_key(names: Names) -> str:
    return names.control("bridge")


def md_symbol(stream_key: str, names: Names) -> str | None:
    """`nx:{md:NQ}` -> `NQ`; None for raw venue streams and anything else."""
    prefix = f"{names.namespace}:{{md:"
    if not stream_key.startswith(prefix) or not stream_key.endswith("}"):
        return None
    symbol = stream_key[len(prefix) : -1]
    return None if symbol.startswith("raw:") else symbol


def parse_side(signal: str | float) -> Side:
    """ "BUY"/"SELL" in any case, or a number: above zero buys, below zero sells (the seed's 1.0/-1.0)."""
    if isinstance(signal, bool):
        raise SignalError("signal", "want BUY or SELL", value=signal)
    if isinstance(signal, int | float):
        if signal > 0:
            return Side.BUY
        if signal < 0:
            return Side.SELL
        raise SignalError("signal", "zero is neither BUY nor SELL", value=signal)
    text = str(signal).strip().lower()
    if text in ("buy", "long"):
        return Side.BUY
    if text in ("sell", "short"):
        return Side.SELL
    raise SignalError("signal", "want BUY or SELL", value=signal)


def parse_mqscore(mqscore: object) -> tuple[float | None, float | None]:
    """(composite, noise level) from a float, a dict or an object (MQScore engine results)."""
    if mqscore is None:
        return None, None
    if isinstance(mqscore, bool):
        raise SignalError("mqscore", "want a float or a dict with composite and noise_level", value=mqscore)
    if isinstance(mqscore, int | float):
        return float(mqscore), None

    def pick(*names: str) -> float | None:
        for n in names:
            v = mqscore.get(n) if isinstance(mqscore, Mapping) else getattr(mqscore, n, None)
            if v is not None:
                if isinstance(v, bool) or not isinstance(v, int | float):
                    raise SignalError(f"mqscore.{n}", "want a number", value=v)
                return float(v)
        return None

    composite = pick("composite", "composite_score", "score")
    noise = pick("noise_level", "noise")
    if composite is None and noise is None:
        raise SignalError("mqscore", "found neither composite nor noise_level", value=mqscore)
    return composite, noise


def build_signal(
    symbol: str,
    signal: str | float,
    confidence: float,
    quantity: float,
    mqscore: object = None,
    *,
    order_type: str | OrderType = OrderType.MARKET,
    limit_price: float | None = None,
    reference_price: float | None = None,
    venues: tuple[str, ...] = (),
    strategy: str = "",
    reduce_only: bool = False,
    signal_id: str | None = None,
    ts_ns: int | None = None,
) -> Envelope[Signal]:
    """A validated Signal, wrapped as it goes on the intake stream. Its id is a fresh ULID unless the
    caller gives its own (`signal_id`, a ULID). `reduce_only`: it may only reduce an open position
    (closing trades), and so passes the kill switch and an open circuit breaker."""
    if not isinstance(symbol, str) or not symbol.strip():
        raise SignalError("symbol", "want a universal root such as NQ", value=symbol)
    side = parse_side(signal)
    if isinstance(confidence, bool) or not isinstance(confidence, int | float) or not 0 <= confidence <= 1:
        raise SignalError("confidence", "want a number from 0 to 1", value=confidence)
    if isinstance(quantity, bool) or not isinstance(quantity, int | float) or not 0 < quantity < math.inf:
        raise SignalError("quantity", "want a number above zero", value=quantity)
    composite, noise = parse_mqscore(mqscore)
    try:
        otype = OrderType(str(order_type).lower())
    except ValueError:
        raise SignalError("order_type", "want market, limit or stop", value=order_type) from None
    if otype is OrderType.LIMIT and limit_price is None:
        raise SignalError("limit_price", "a limit order needs a limit price", value=limit_price)
    if not isinstance(reduce_only, bool):
        raise SignalError("reduce_only", "want True or False", value=reduce_only)
    ts = ts_ns if ts_ns is not None else time.time_ns()
    if signal_id is not None and (problem := signal_id_problem(signal_id)) is not None:
        raise SignalError("signal_id", problem, value=signal_id)
    sid = signal_id if signal_id is not None else new_signal_id(ts)
    try:
        body = validated(
            Signal(
                signal_id=sid,
                symbol=symbol.strip().upper(),
                side=side,
                quantity=float(quantity),
                order_type=otype,
                limit_price=limit_price,
                reference_price=reference_price,
                confidence=float(confidence),
                mqscore=composite,
                noise=noise,
                venues=tuple(venues),
                strategy=strategy,
                reduce_only=reduce_only,
            )
        )
    except ValueError as exc:  # InvalidMessage: a NaN, an infinity
        raise SignalError("signal", str(exc).splitlines()[0]) from None
    return Envelope.new(body, id=sid, ts=ts)


def tick_data(env: Envelope[Any]) -> dict[str, Any] | None:
    tick = env.body
    if not isinstance(tick, Tick):
        return None
    return {
        "symbol": tick.symbol,
        "price": tick.price,
        "bid": tick.bid,
        "ask": tick.ask,
        "last": tick.last,
        "bid_size": tick.bid_size,
        "ask_size": tick.ask_size,
        "last_size": tick.last_size,
        "venue": tick.venue,
        "contract": tick.contract,
        "currency": tick.currency,
        "ts_ns": env.ts,
        "id": env.id,
    }


def execution_data(env: Envelope[Any]) -> dict[str, Any] | None:
    ex = env.body
    if not isinstance(ex, Execution):
        return None
    data: dict[str, Any] = ex.to_dict()
    data["id"] = env.id
    data["ts_ns"] = env.ts
    return data


class SentSignals:
    """The ids of the signals this client sent, to pick their executions; bounded, oldest out."""

    def __init__(self, limit: int = 100_000) -> None:
        self._ids: OrderedDict[str, None] = OrderedDict()
        self._limit = limit

    def add(self, signal_id: str) -> None:
        self._ids[signal_id] = None
        while len(self._ids) > self._limit:
            self._ids.popitem(last=False)

    def __contains__(self, signal_id: object) -> bool:
        return signal_id in self._ids

    def __len__(self) -> int:
        return len(self._ids)
