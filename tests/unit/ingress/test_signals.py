"""Payload -> Signal: the symbol read as a root, venues and order prices checked, the source's
defaults, the keyed signal id and the fingerprint that tells a retry from a reused key."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from nexus_ingress.config import IngressConfig, SourcePolicy
from nexus_ingress.payloads import PayloadError, SignalRequest, TradingViewAlert, parse
from nexus_ingress.signals import fingerprint, inbound, to_signal, unrendered
from nexus_mesh.config_files import load_symbols
from nexus_protocol import OrderType, Side
from nexus_protocol.ids import is_signal_id, keyed_signal_id

ROOT = Path(__file__).resolve().parents[3]
REGISTRY = load_symbols(ROOT / "deploy" / "config")
POLICY = SourcePolicy()


def tv(**fields: Any) -> TradingViewAlert:
    return parse(TradingViewAlert, {"ticker": "NQ1!", "action": "buy", "contracts": 1, **fields})  # type: ignore[no-any-return]


def mesh(**fields: Any) -> SignalRequest:
    return parse(SignalRequest, {"symbol": "ES", "side": "sell", "quantity": 2, **fields})  # type: ignore[no-any-return]


def problem(req: Any, policy: SourcePolicy = POLICY) -> tuple[str, str]:
    with pytest.raises(PayloadError) as info:
        to_signal(req, source="tv", policy=policy, registry=REGISTRY)
    (p,) = info.value.problems
    return p.field, p.message


def test_a_tradingview_alert_becomes_a_signal_on_the_root() -> None:
    policy = SourcePolicy(default_confidence=1.0, strategy="tv-strat")
    sig = to_signal(tv(price="18000.5", stop_loss="17990"), source="tv", policy=policy, registry=REGISTRY)
    assert sig.stop_loss == 17990.0
    assert (sig.symbol, sig.side, sig.quantity, sig.reference_price) == ("NQ", Side.BUY, 1.0, 18000.5)
    assert (sig.confidence, sig.strategy, sig.contract, sig.reduce_only) == (1.0, "tv-strat", None, False)
    closing = to_signal(
        tv(action="sell", market_position="flat"), source="tv", policy=POLICY, registry=REGISTRY
    )
    assert closing.reduce_only and closing.confidence is None and closing.strategy == "tv"
    dated = to_signal(tv(ticker="NQM2025", confidence="0.7"), source="tv", policy=policy, registry=REGISTRY)
    assert (dated.contract, dated.confidence) == ("NQM25", 0.7)
    second = to_signal(tv(ticker="CME_MINI:NQ2!"), source="tv", policy=policy, registry=REGISTRY)
    assert (second.symbol, second.contract) == ("NQ", "NQ2!")  # the normalizer resolves it


def test_a_mesh_signal_keeps_its_fields() -> None:
    sig = to_signal(
        mesh(order_type="limit", limit_price=5000.25, venues=["sim"], mqscore=0.8, noise=0.1, strategy="s"),
        source="algo",
        policy=POLICY,
        registry=REGISTRY,
    )
    assert (sig.symbol, sig.order_type, sig.limit_price, sig.venues) == (
        "ES",
        OrderType.LIMIT,
        5000.25,
        ("sim",),
    )
    assert (sig.mqscore, sig.noise, sig.strategy) == (0.8, 0.1, "s")


@pytest.mark.parametrize(
    ("req", "field", "why"),
    [
        (tv(ticker="AAPL"), "ticker", "not a known root"),
        (mesh(symbol="ZZ1!"), "symbol", "not in the symbol registry"),
        (tv(venues=["mt5-brazil"]), "venues.0", "does not trade NQ"),
        (tv(order_type="limit"), "limit_price", "needs a limit price"),
        (mesh(order_type="stop"), "stop_price", "needs a stop price"),
        (mesh(contract="NQM25"), "contract", "not a ES contract"),
        (mesh(symbol="ESZ25", contract="ESM25"), "contract", "already names its contract"),
    ],
)
def test_what_the_mesh_cannot_trade_is_refused_naming_the_field(req: Any, field: str, why: str) -> None:
    got_field, message = problem(req)
    assert got_field == field and why in message


def test_a_source_limited_to_some_roots_gets_only_those() -> None:
    cfg = IngressConfig.model_validate({"sources": {"tv": {"symbols": ["ES"]}}})
    assert problem(tv(), cfg.policy("tv")) == ("ticker", "source tv may trade ES only (ingress.yaml)")
    assert cfg.policy("other").symbols == ()


def test_the_idempotency_key_is_the_signal_id_and_the_fingerprint_ignores_key_and_token() -> None:
    body = {"ticker": "NQ1!", "action": "buy", "contracts": 1, "idempotency_key": "k1", "token": "t"}
    req = parse(TradingViewAlert, body)
    sig = to_signal(req, source="tv", policy=POLICY, registry=REGISTRY)
    a = inbound("tradingview", body, req, sig, source="tv", key="k1", now_ns=1_700_000_000_000_000_000)
    b = inbound("tradingview", {**body, "token": "u"}, req, sig, source="tv", key="k1", now_ns=1)
    assert a.signal_id == b.signal_id == keyed_signal_id("tv", "k1") == a.envelope.body.signal_id
    assert a.fingerprint == b.fingerprint
    assert a.envelope.ts == 1_700_000_000_000_000_000 and a.envelope.trace == a.signal_id
    assert keyed_signal_id("other", "k1") != a.signal_id  # a key is the source's own
    fresh = inbound("tradingview", body, req, sig, source="tv", key=None, now_ns=1)
    assert is_signal_id(fresh.signal_id) and fresh.signal_id != a.signal_id
    assert fingerprint("tradingview", {**body, "contracts": 2}) != a.fingerprint
    assert fingerprint("signal", body) != a.fingerprint


def test_an_unrendered_placeholder_is_named() -> None:
    with pytest.raises(PayloadError) as info:
        unrendered({"ticker": "NQ1!", "contracts": "{{strategy.order.contracts}}"})
    assert info.value.problems[0].field == "contracts"
