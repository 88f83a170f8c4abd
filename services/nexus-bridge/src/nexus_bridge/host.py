"""The strategy host: run a user's strategy against live normalized market data or a tick file.

A strategy is any callable that takes a tick (the dict the market-data callback receives: `symbol`,
`price`, `bid`, `ask`, `last`, ...) and returns nothing, one signal or several. A signal is a dict or
a `StrategySignal` (symbol, side, quantity, confidence, mqscore, and optionally order_type,
limit_price, reference_price). If the strategy has an `on_execution` attribute, every execution of
its signals is passed to it (the same dict the execution callback receives). The host calls the
strategy and `on_execution` under one lock, so a strategy needs no locking of its own.

Signals go through the client (`NexusGatewayInterface`), so they meet the bridge's filters and guards
like any other; in replay the ticks come from the file, the executions from the mesh. An optional
journal (JSON lines) records every signal sent or not sent and every execution delivered.
"""

from __future__ import annotations

import importlib
import json
import logging
import threading
import time
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from nexus_bridge.client import NexusGatewayInterface
from nexus_bridge.errors import SafeModeError, SignalError
from nexus_protocol.errors import NexusError
from nexus_sim.model import Quote

log = logging.getLogger(__name__)


class StrategyError(NexusError):
    """A strategy that cannot be loaded, or that returned something that is not a signal."""


@dataclass(frozen=True, slots=True)
class StrategySignal:
    symbol: str
    side: str  # BUY or SELL
    quantity: float
    confidence: float
    mqscore: float | dict[str, float] | None = None
    order_type: str = "market"
    limit_price: float | None = None
    reference_price: float | None = None  # default: the price of the tick that caused it


_FIELDS = set(StrategySignal.__dataclass_fields__)
_ALIASES = {"signal": "side", "qty": "quantity"}


def load_strategy(spec: str, params: Mapping[str, str] | None = None) -> Any:
    """`package.module:name` to the strategy object. A class is instantiated without arguments; the
    `params` (text, from `--param name=value`) go to the strategy's `configure(**params)`."""
    module_name, _, attr = spec.partition(":")
    if not module_name or not attr:
        raise StrategyError(f"--strategy {spec!r}: want package.module:callable")
    try:
        obj: Any = importlib.import_module(module_name)
        for part in attr.split("."):
            obj = getattr(obj, part)
    except (ImportError, AttributeError) as exc:
        raise StrategyError(f"--strategy {spec!r}: {exc}") from exc
    params = dict(params or {})
    if isinstance(obj, type):
        obj = obj()
    if params:
        configure = getattr(obj, "configure", None)
        if configure is None:
            raise StrategyError(f"--strategy {spec!r} takes no parameters (it has no configure method)")
        try:
            configure(**params)
        except (TypeError, ValueError) as exc:
            raise StrategyError(f"--strategy {spec!r}: bad parameter: {exc}") from exc
    if not callable(obj):
        raise StrategyError(f"--strategy {spec!r} is not callable")
    return obj


def as_signals(result: object) -> list[StrategySignal]:
    """What a strategy returned, as signals: None, one signal, or an iterable of them."""
    if result is None:
        return []
    if isinstance(result, StrategySignal | Mapping):
        result = [result]
    if not isinstance(result, Iterable) or isinstance(result, str | bytes):
        raise StrategyError(
            f"a strategy returns signals (dicts or StrategySignal), not {type(result).__name__}"
        )
    out = []
    for item in result:
        if isinstance(item, StrategySignal):
            out.append(item)
        elif isinstance(item, Mapping):
            fields: dict[str, Any] = {_ALIASES.get(str(k), str(k)): v for k, v in item.items()}
            unknown = set(fields) - _FIELDS
            if unknown:
                raise StrategyError(f"signal {dict(item)!r}: unknown fields {sorted(unknown)}")
            try:
                out.append(StrategySignal(**fields))
            except TypeError as exc:
                raise StrategyError(f"signal {dict(item)!r}: {exc}") from exc
        else:
            raise StrategyError(f"a strategy returns dicts or StrategySignal, not {type(item).__name__}")
    return out


def quote_tick(q: Quote, n: int) -> dict[str, Any]:
    """A replayed quote as the dict the market-data callback gives."""
    return {
        "symbol": q.symbol,
        "price": q.last,
        "bid": q.bid,
        "ask": q.ask,
        "last": q.last,
        "bid_size": q.bid_size,
        "ask_size": q.ask_size,
        "last_size": q.last_size,
        "venue": "replay",
        "contract": None,
        "currency": None,
        "ts_ns": q.ts_ns,
        "id": f"replay:{n}",
    }


class StrategyHost:
    def __init__(self, strategy: Any, gateway: NexusGatewayInterface, *, journal: Path | None = None) -> None:
        self.strategy = strategy
        self.gateway = gateway
        self._lock = threading.Lock()
        self._journal_lock = threading.Lock()
        self._journal = journal.open("a", encoding="utf-8") if journal is not None else None
        self.open_signals: set[str] = set()
        self.counters = {"ticks": 0, "signals": 0, "not_sent": 0, "executions": 0}
        self._on_execution = getattr(strategy, "on_execution", None)

    def record(self, kind: str, **data: Any) -> None:
        if self._journal is None:
            return
        line = json.dumps({"kind": kind, "t_ns": time.time_ns(), **data}, default=str)
        with self._journal_lock:
            self._journal.write(line + "\n")
            self._journal.flush()

    def on_tick(self, tick: dict[str, Any]) -> None:
        with self._lock:
            self.counters["ticks"] += 1
            try:
                signals = as_signals(self.strategy(tick))
            except StrategyError as exc:
                log.error("%s", exc)
                self.record("strategy_error", error=str(exc))
                return
        for sig in signals:
            self._send(sig, tick)

    def _send(self, sig: StrategySignal, tick: dict[str, Any]) -> None:
        ref = sig.reference_price if sig.reference_price is not None else tick.get("price")
        try:
            sid = self.gateway.send_signal(
                sig.symbol,
                sig.side,
                sig.confidence,
                sig.quantity,
                sig.mqscore,
                order_type=sig.order_type,
                limit_price=sig.limit_price,
                reference_price=ref,
            )
        except (SafeModeError, SignalError) as exc:
            self.counters["not_sent"] += 1
            log.warning("signal not sent: %s", exc)
            self.record("not_sent", signal=asdict(sig), error=str(exc))
            return
        self.counters["signals"] += 1
        self.open_signals.add(sid)
        log.info(
            "signal %s: %s %g %s (confidence %g)", sid, sig.side, sig.quantity, sig.symbol, sig.confidence
        )
        self.record("signal", signal_id=sid, signal=asdict(sig), reference_price=ref)

    def on_execution(self, ex: dict[str, Any]) -> None:
        self.counters["executions"] += 1
        if ex.get("final"):
            self.open_signals.discard(str(ex.get("signal_id")))
        self.record("execution", execution=ex)
        if self._on_execution is not None:
            with self._lock:
                self._on_execution(ex)

    def run_live(self, stop: threading.Event, duration_s: float = 0.0) -> None:
        """Feed live ticks until `stop` is set (or for `duration_s`, when given)."""
        gw = self.gateway
        gw.set_market_data_callback(self.on_tick)
        gw.set_execution_callback(self.on_execution)
        gw.set_status_callback(lambda s: self.record("status", status=s))
        gw.start_listening()
        self.record("started", mode="live", symbols=sorted(gw.core.symbols))
        stop.wait(duration_s if duration_s > 0 else None)

    def run_replay(
        self, quotes: list[Quote], stop: threading.Event, *, speed: float = 0.0, drain_s: float = 30.0
    ) -> None:
        """Feed the file's quotes in time order (`speed` x real time; 0: as fast as possible), then wait
        up to `drain_s` for the final executions of the signals sent."""
        gw = self.gateway
        gw.set_execution_callback(self.on_execution)
        gw.start_listening()
        self.record("started", mode="replay", quotes=len(quotes))
        prev: int | None = None
        for n, q in enumerate(quotes):
            if stop.is_set():
                break
            if speed > 0 and prev is not None and q.ts_ns > prev:
                stop.wait((q.ts_ns - prev) / 1e9 / speed)
            prev = q.ts_ns
            self.on_tick(quote_tick(q, n))
        deadline = time.monotonic() + drain_s
        while self.open_signals and not stop.is_set() and time.monotonic() < deadline:
            stop.wait(0.05)
        self.record("finished", open_signals=sorted(self.open_signals), **self.counters)

    def close(self) -> None:
        if self._journal is not None:
            self._journal.close()
            self._journal = None
