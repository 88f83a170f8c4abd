"""Per-account routing decisions (pure): each venue account's session, its sizing mode with the lot
step's residual on the leg, reduce-only exits cut to the position, and the net exposure cap across
every venue and account, which holds while a platform is offline."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

from nexus_gateway.router.checks import RouteDecision, decide
from nexus_gateway.router.limits import Limits, load_limits
from nexus_gateway.router.state import Snapshot
from nexus_mesh.config_files import load_symbols
from nexus_mesh.venues import VenueConfig, load_venues
from nexus_protocol import OrderStatus, Side, Signal
from nexus_protocol.ids import new_signal_id

CONFIG = Path(__file__).resolve().parents[3] / "deploy" / "config"
REGISTRY = load_symbols(CONFIG)
BASE = load_venues(CONFIG, "dev")
LIMITS = load_limits(CONFIG, "dev")
TUESDAY_NOON_CT = dt.datetime(2025, 3, 4, 18, 0, tzinfo=dt.UTC)
SATURDAY = dt.datetime(2025, 3, 8, 18, 0, tzinfo=dt.UTC)


def venues(**accounts: dict[str, Any]) -> dict[str, VenueConfig]:
    """The dev venues trading NQ, with per-account settings."""
    return {
        name: VenueConfig.model_validate({**BASE[name].model_dump(), **accounts.get(name, {})})
        for name in ("nt8", "sierra", "mt5-global")
    }


def sig(qty: float = 2, side: Side = Side.BUY, **kw: Any) -> Signal:
    return Signal(signal_id=new_signal_id(), symbol="NQ", side=side, quantity=qty, **kw)


def snap(**kw: Any) -> Snapshot:
    s = Snapshot(venue_connected=dict.fromkeys(BASE, True), last_prices={"NQ": 21000.0, "ES": 5000.0})
    for k, v in kw.items():
        setattr(s, k, v)
    return s


def route(signal: Signal, vs: dict[str, VenueConfig], s: Snapshot | None = None, limits: Limits = LIMITS,
          now: dt.datetime | None = TUESDAY_NOON_CT) -> RouteDecision:  # fmt: skip
    return decide(signal, s or snap(), limits, vs, REGISTRY, throttled=False, now=now)


def legs(d: RouteDecision) -> dict[str, Any]:
    return {
        leg.venue: leg.quantity if leg.status is OrderStatus.PENDING else leg.reason for leg in d.route.legs
    }


def test_each_account_sizes_its_own_leg_and_reports_the_residual() -> None:
    vs = venues(
        nt8={"sizing": {"mode": "ratio", "ratio": 0.75}},  # 1.5 NQ -> 1 contract, 0.5 left out
        sierra={"sizing": {"mode": "fixed", "quantity": 1}},
        **{"mt5-global": {"sizing": {"mode": "risk", "risk_usd": 400}}},  # 10 points x USD 1 a lot: 40 lots
    )
    d = route(sig(reference_price=21000, stop_loss=20990), vs)
    assert legs(d) == {"nt8": 1.5, "sierra": 1.0, "mt5-global": 2.0}
    by_venue = {leg.venue: leg for leg in d.route.legs}
    assert by_venue["nt8"].rounding_residual == 0.5 and by_venue["mt5-global"].rounding_residual == 0.0
    assert d.exposure[by_venue["nt8"].client_order_id] == ("nt8|NQ", 1.0)  # what the venue will carry
    no_stop = route(sig(), vs)
    assert "risk sizing needs the signal's stop price" in legs(no_stop)["mt5-global"]


def test_equity_sizing_reads_the_balance_the_adapter_reports() -> None:
    vs = venues(nt8={"sizing": {"mode": "equity", "reference_equity_usd": 100_000}})
    assert legs(route(sig(), vs, snap(venue_equity_usd={"nt8": 150_000})))["nt8"] == 3.0
    unknown = legs(route(sig(), vs))["nt8"]
    assert unknown == "nt8: equity sizing needs the account's balance (its adapter has not reported one)"


def test_an_equity_in_another_currency_is_converted_at_the_routers_rate() -> None:
    vs = venues(nt8={"sizing": {"mode": "equity", "reference_equity_usd": 100_000}})
    brl = snap(venue_equity={"nt8": (750_000.0, "BRL")})
    brl.last_prices["WDO"] = 5000.0  # BRL 5 per USD: BRL 750,000 is USD 150,000
    assert legs(route(sig(), vs, brl))["nt8"] == 3.0
    unknown = snap(venue_equity={"nt8": (750_000.0, "XYZ")})  # no rate for it: no equity
    assert "has not reported one" in legs(route(sig(), vs, unknown))["nt8"]


def test_a_reduce_only_exit_never_opens_the_other_side() -> None:
    vs = venues(
        nt8={"sizing": {"mode": "fixed", "quantity": 3}}, sierra={"sizing": {"mode": "fixed", "quantity": 3}}
    )
    held = snap(exposure={"nt8|NQ": 1.0})  # nt8 holds 1 long; sierra nothing
    d = route(sig(side=Side.SELL, reduce_only=True), vs, held)
    assert legs(d)["nt8"] == 1.0
    assert legs(d)["sierra"] == "sierra has no NQ position for a reduce-only order to close"


def test_sessions_per_account_and_root() -> None:
    window = {"start": "08:30", "end": "15:00", "timezone": "America/Chicago"}
    vs = venues(nt8={"sessions": {"NQ": window}}, sierra={"sessions": {"*": "exchange"}})
    open_ = route(sig(), vs)
    assert legs(open_) == {"nt8": 2.0, "sierra": 2.0, "mt5-global": 2.0}
    closed = route(sig(), vs, now=SATURDAY)
    assert legs(closed)["nt8"].startswith("NQ on nt8 trades 08:30-15:00 America/Chicago on mon")
    assert legs(closed)["sierra"].startswith("NQ on sierra trades in the CMES session only")
    assert legs(closed)["mt5-global"] == 2.0  # no rule: always
    assert {r.check for r in closed.refusals} == {"session"}
    exit_ = route(sig(side=Side.SELL, reduce_only=True), vs, snap(exposure={"nt8|NQ": 2.0}), now=SATURDAY)
    assert legs(exit_)["nt8"] == 2.0  # a filter never traps a position


def test_the_net_exposure_cap_counts_every_venue_even_an_offline_one() -> None:
    vs = venues()
    caps = LIMITS.model_copy(update={"max_net_exposure_usd_per_symbol": 2_000_000.0})
    # quantower is offline, but its long NQ stays in the book: 2 x 21000 x 20 = USD 840,000
    s = snap(
        exposure={"quantower|NQ": 2.0}, venue_connected={**dict.fromkeys(BASE, True), "quantower": False}
    )
    d = route(sig(qty=1), vs, s, caps)  # each leg adds USD 420,000: two fit under 2,000,000, not three
    assert legs(d)["nt8"] == 1.0 and legs(d)["sierra"] == 1.0
    assert legs(d)["mt5-global"] == (
        "net NQ exposure across all venues would be USD 2,100,000 (cap USD 2,000,000; now USD 1,680,000)"
    )
    # the total: |net| per root summed, so a short NQ does not offset a long ES
    total = LIMITS.model_copy(update={"max_net_exposure_usd": 1_200_000.0})
    d = route(sig(qty=1, side=Side.SELL), vs, snap(exposure={"nt8|ES": 3.0}), total)  # ES: USD 750,000
    assert legs(d)["nt8"] == 1.0  # 750,000 + 420,000
    assert legs(d)["sierra"] == (
        "total net exposure across all venues would be USD 1,590,000 (cap USD 1,200,000; now USD 1,170,000)"
    )
    assert [r.check for r in d.refusals] == ["net_exposure", "net_exposure"]


def test_a_mini_signal_on_a_micro_account_trades_the_micro_at_equal_exposure() -> None:
    vs = venues(
        nt8={"symbol_map": {"NQ": "MNQ"}},
        sierra={"symbol_map": {"NQ": "MNQ"}, "sizing": {"mode": "fixed", "quantity": 5}},
    )
    d = route(sig(qty=2), vs)
    by_venue = {leg.venue: leg for leg in d.route.legs}
    nt8, sierra = by_venue["nt8"], by_venue["sierra"]
    assert (nt8.symbol, nt8.ratio, nt8.quantity) == ("MNQ", 10.0, 2.0)  # 20 MNQ, counted as 2 NQ
    assert (sierra.symbol, sierra.quantity) == ("MNQ", 0.5)  # 5 MNQ
    assert by_venue["mt5-global"].symbol is None
    assert d.exposure[nt8.client_order_id] == ("nt8|NQ", 2.0)  # the book stays in the signal's root
    bad = venues(nt8={"symbol_map": {"NQ": "WIN"}})
    assert "quoted in another currency" in legs(route(sig(), bad))["nt8"]
