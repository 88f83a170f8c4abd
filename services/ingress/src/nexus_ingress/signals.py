"""A validated payload to the Signal the bridge intake gets, pure: no Redis, no clock of its own.

- The symbol (`symbol` or `ticker`) is read by `tickers.parse_ticker`: a root, `NQ1!` (the active
  contract: the signal names the root), `NQ2!` (the next contract: the signal carries `NQ2!` as its
  contract, which the normalizer resolves by the rollover calendar), or a dated contract (`NQH25`).
- Every venue named must list the root in the symbol registry; a limit order needs its limit price
  and a stop order its stop price; a source limited to some roots (ingress.yaml) gets only those.
- A payload without confidence gets the source's `default_confidence`; without strategy, the
  source's strategy tag (default: the source's name).
- The signal id: the idempotency key's (`keyed_signal_id(source, key)`), else a fresh ULID.
- The fingerprint (SHA-256 of the payload, key and token left out) tells a retry of the same request
  from a reuse of its key for another one.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from nexus_ingress.config import SourcePolicy
from nexus_ingress.payloads import PayloadError, SignalRequest, TradingViewAlert
from nexus_ingress.tickers import Ticker, TickerError, parse_ticker
from nexus_protocol.codec import Envelope
from nexus_protocol.enums import OrderType, Side, TimeInForce
from nexus_protocol.ids import keyed_signal_id, new_signal_id
from nexus_protocol.messages import Signal
from nexus_protocol.symbols import Contract, SymbolRegistry

_NOT_FINGERPRINTED = frozenset({"idempotency_key", "signal_id", "token"})
PLACEHOLDER = "{{"


@dataclass(frozen=True, slots=True)
class Inbound:
    """A request the ingress will answer: who sent it, under which key, and the signal it becomes."""

    source: str
    key: str | None
    fingerprint: str
    envelope: Envelope[Signal]

    @property
    def signal_id(self) -> str:
        return self.envelope.id


@dataclass(frozen=True, slots=True)
class _Common:
    """What both payloads say, in one shape."""

    symbol_field: str
    symbol: str
    side: str
    quantity: float
    order_type: str
    limit_price: float | None
    stop_price: float | None
    reference_price: float | None
    stop_loss: float | None
    confidence: float | None
    strategy: str | None
    venues: list[str]
    reduce_only: bool
    time_in_force: str = "day"
    mqscore: float | None = None
    noise: float | None = None
    contract: str | None = None


def fingerprint(kind: str, payload: Mapping[str, Any]) -> str:
    kept = {k: v for k, v in payload.items() if k not in _NOT_FINGERPRINTED}
    text = json.dumps([kind, kept], sort_keys=True, separators=(",", ":"), allow_nan=False)
    return hashlib.sha256(text.encode()).hexdigest()


def unrendered(body: Mapping[str, Any]) -> None:
    """A TradingView placeholder left as text (`{{strategy.order.contracts}}` in a plain alert)."""
    for name, value in body.items():
        if isinstance(value, str) and PLACEHOLDER in value:
            raise PayloadError.one(
                name, f"{value!r} is an unrendered TradingView placeholder (not available in this alert)"
            )


def _common_of(req: SignalRequest | TradingViewAlert) -> _Common:
    if isinstance(req, SignalRequest):
        return _Common(
            symbol_field="symbol",
            symbol=req.symbol,
            side=req.side,
            quantity=req.quantity,
            order_type=req.order_type,
            limit_price=req.limit_price,
            stop_price=req.stop_price,
            reference_price=req.reference_price,
            stop_loss=req.stop_loss,
            confidence=req.confidence,
            strategy=req.strategy or None,
            venues=req.venues,
            reduce_only=req.reduce_only,
            time_in_force=req.time_in_force,
            mqscore=req.mqscore,
            noise=req.noise,
            contract=req.contract,
        )
    return _Common(
        symbol_field="ticker",
        symbol=req.ticker,
        side=req.action,
        quantity=req.contracts,
        order_type=req.order_type,
        limit_price=req.limit_price,
        stop_price=req.stop_price,
        reference_price=req.price,
        stop_loss=req.stop_loss,
        confidence=req.confidence,
        strategy=req.strategy,
        venues=req.venues,
        reduce_only=req.market_position == "flat",
    )


def _contract(c: _Common, ticker: Ticker) -> str | None:
    if c.contract is not None:
        if ticker.contract is not None or ticker.continuous is not None:
            raise PayloadError.one("contract", f"{c.symbol} already names its contract")
        if Contract.parse(c.contract).root != ticker.root:
            raise PayloadError.one("contract", f"{c.contract} is not a {ticker.root} contract")
        return c.contract
    if ticker.continuous == 2:  # the normalizer resolves it by the rollover calendar, leg by leg
        return f"{ticker.root}2!"
    return ticker.contract


def _check(c: _Common, root: str, source: str, policy: SourcePolicy, registry: SymbolRegistry) -> None:
    if policy.symbols and root not in policy.symbols:
        allowed = ", ".join(policy.symbols)
        raise PayloadError.one(c.symbol_field, f"source {source} may trade {allowed} only (ingress.yaml)")
    spec = registry.spec(root)
    for i, venue in enumerate(c.venues):
        if venue not in spec.venues:
            raise PayloadError.one(f"venues.{i}", f"{venue} does not trade {root}")
    if c.order_type == "limit" and c.limit_price is None:
        raise PayloadError.one("limit_price", "a limit order needs a limit price")
    if c.order_type == "stop" and c.stop_price is None:
        raise PayloadError.one("stop_price", "a stop order needs a stop price")


def to_signal(
    req: SignalRequest | TradingViewAlert,
    *,
    source: str,
    policy: SourcePolicy,
    registry: SymbolRegistry,
) -> Signal:
    """The Signal a valid payload asks for (its id still empty), or PayloadError naming the field."""
    c = _common_of(req)
    try:
        ticker = parse_ticker(c.symbol, registry)
    except TickerError as exc:
        raise PayloadError.one(c.symbol_field, str(exc)) from None
    _check(c, ticker.root, source, policy, registry)
    return Signal(
        symbol=ticker.root,
        side=Side(c.side),
        quantity=c.quantity,
        order_type=OrderType(c.order_type),
        limit_price=c.limit_price,
        stop_price=c.stop_price,
        time_in_force=TimeInForce(c.time_in_force),
        reference_price=c.reference_price,
        stop_loss=c.stop_loss,
        confidence=c.confidence if c.confidence is not None else policy.default_confidence,
        mqscore=c.mqscore,
        noise=c.noise,
        strategy=c.strategy or policy.strategy or source,
        venues=tuple(c.venues),
        reduce_only=c.reduce_only,
        contract=_contract(c, ticker),
    )


def inbound(
    kind: str,
    body: Mapping[str, Any],
    req: SignalRequest | TradingViewAlert,
    signal: Signal,
    *,
    source: str,
    key: str | None,
    now_ns: int,
) -> Inbound:
    """The signal with its id (from the key, else fresh) in the envelope the intake gets."""
    sid = keyed_signal_id(source, key) if key is not None else new_signal_id(now_ns)
    body_with_id = signal.replace(signal_id=sid)
    env = Envelope.new(body_with_id, id=sid, trace=sid, ts=now_ns)
    return Inbound(source, key, fingerprint(kind, body), env)
