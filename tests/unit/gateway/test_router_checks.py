"""Pre-trade risk as a pure decision: every limit refuses with its reason; reducing orders pass."""

from __future__ import annotations

from pathlib import Path

import pytest

from nexus_gateway.router.checks import decide, reduces
from nexus_gateway.router.limits import Limits, load_limits
from nexus_gateway.router.state import Snapshot
from nexus_mesh.config_files import load_symbols
from nexus_mesh.venues import load_venues
from nexus_protocol import KillSwitchState, OrderStatus, Side, Signal
from nexus_protocol.ids import new_signal_id

CONFIG = Path(__file__).resolve().parents[3] / "deploy" / "config"
REGISTRY = load_symbols(CONFIG)
VENUES = load_venues(CONFIG, "dev")
LIMITS = load_limits(CONFIG, "dev")
NQ_VENUES = ("nt8", "sierra", "quantower", "mt5-global", "bookmap")


def sig(qty: float = 1, side: Side = Side.BUY, symbol: str = "NQ", **kw: object) -> Signal:
    return Signal(signal_id=new_signal_id(), symbol=symbol, side=side, quantity=qty, **kw)  # type: ignore[arg-type]


def snap(**kw: object) -> Snapshot:
    s = Snapshot(venue_connected={v: True for v in VENUES}, last_prices={"NQ": 21000.0, "WDO": 5490.0})
    for k, v in kw.items():
        setattr(s, k, v)
    return s


def checks(signal: Signal, s: Snapshot, limits: Limits = LIMITS, throttled: bool = False) -> dict[str, str]:
    d = decide(signal, s, limits, VENUES, REGISTRY, throttled=throttled)
    return {r.venue or "*": r.check for r in d.refusals}


def test_a_clean_signal_routes_one_leg_per_venue_that_lists_the_symbol() -> None:
    s = sig()
    d = decide(s, snap(), LIMITS, VENUES, REGISTRY, throttled=False)
    assert [leg.venue for leg in d.route.legs] == list(NQ_VENUES)
    assert all(leg.status is OrderStatus.PENDING for leg in d.route.legs)
    assert d.route.legs[0].client_order_id == f"{s.signal_id}.n80"
    assert d.exposure[f"{s.signal_id}.n80"] == ("nt8|NQ", 1.0)


@pytest.mark.parametrize(
    ("signal", "state", "check"),
    [
        (sig(qty=11), snap(), "max_order_qty"),
        (sig(reference_price=21500.0), snap(), "price_collar"),
        (sig(symbol="ZZ"), snap(), "unknown_symbol"),
    ],
)
def test_signal_level_limits_refuse_the_whole_signal(signal: Signal, state: Snapshot, check: str) -> None:
    d = decide(signal, state, LIMITS, VENUES, REGISTRY, throttled=False)
    assert d.route.legs == ()
    assert [r.check for r in d.refusals] == [check]
    assert d.route.reason


def test_throttle_refuses() -> None:
    assert checks(sig(), snap(), throttled=True) == {"*": "throttle"}


def test_leg_level_limits_refuse_one_venue_and_let_the_others_go() -> None:
    state = snap(
        exposure={"nt8|NQ": 5.0, "sierra|NQ": 0.0}, venue_connected={v: v != "quantower" for v in VENUES}
    )
    refused = checks(sig(), state)
    assert refused == {"nt8": "max_position_per_symbol", "quantower": "venue_connected"}


def test_total_position_and_position_value() -> None:
    state = snap(exposure={"nt8|ES": 5.0, "nt8|MES": 5.0})
    limits = LIMITS.model_copy(update={"max_total_position": 10.0})
    assert checks(sig(), state, limits)["nt8"] == "max_total_position"
    small = LIMITS.model_copy(update={"per_symbol": {}})  # the seed's USD 50,000 notional: one NQ is ~420,000
    assert set(checks(sig(), snap(), small).values()) == {"max_position_value"}


def test_reducing_orders_pass_limits_that_guard_new_exposure() -> None:
    state = snap(exposure={v + "|NQ": 5.0 for v in NQ_VENUES}, trades_today=100, pnl_today_usd=-5000.0)
    assert checks(sig(side=Side.SELL, reduce_only=True), state) == {}
    assert checks(sig(side=Side.BUY, reduce_only=True), state) != {}
    # Without the flag too: the day's limits are judged per venue against its position, like the kill switch.
    assert checks(sig(side=Side.SELL), state) == {}
    assert checks(sig(side=Side.BUY), state) == dict.fromkeys(NQ_VENUES, "max_daily_trades")
    loss = decide(sig(), snap(pnl_today_usd=-1000.0), LIMITS, VENUES, REGISTRY, throttled=False)
    assert {r.check for r in loss.refusals} == {"max_daily_loss"} and not loss.exposure
    assert "loss limit of USD" in (loss.route.reason or "") and "from 0 to 1" in (loss.route.reason or "")


KILL = KillSwitchState(on=True, activation="a", reason="test")


def test_the_kill_switch_refuses_only_what_adds_exposure_judged_per_venue() -> None:
    held = {"nt8|NQ": 2.0, "sierra|NQ": -1.0, "mt5-global|NQ": 1.0}  # quantower and bookmap flat
    d = decide(
        sig(side=Side.SELL), snap(killswitch=KILL, exposure=held), LIMITS, VENUES, REGISTRY, throttled=False
    )
    routed = {leg.venue for leg in d.route.legs if leg.status is OrderStatus.PENDING}
    assert routed == {"nt8", "mt5-global"}  # long 2 -> 1, long 1 -> 0: reduced, not flipped
    refused = {r.venue: r.reason for r in d.refusals}
    assert set(refused) == {"sierra", "quantower", "bookmap"} and {r.check for r in d.refusals} == {
        "kill_switch"
    }
    assert "kill switch is on: test; sell 1 would take sierra NQ from -1 to -2" in refused["sierra"]
    assert d.reducing == {c for c in d.exposure}  # sent reduce_only: adapters let them through too
    flip = decide(sig(qty=3, side=Side.SELL), snap(killswitch=KILL, exposure=held), LIMITS, VENUES, REGISTRY,
                  throttled=False)  # fmt: skip
    assert not flip.exposure and "from 2 to -1" in (flip.route.reason or "")  # a flip opens a position
    flat = decide(sig(), snap(killswitch=KILL), LIMITS, VENUES, REGISTRY, throttled=False)
    assert not flat.exposure and (flat.route.reason or "").startswith(
        "every venue refused: kill switch is on"
    )
    off = decide(sig(side=Side.SELL), snap(exposure=held), LIMITS, VENUES, REGISTRY, throttled=False)
    assert not off.reducing  # with the switch off nothing changes


def test_reduces_shrinks_a_position_without_crossing_zero() -> None:
    assert reduces(2, 1) and reduces(2, 0) and reduces(-2, -1) and reduces(-1, 0)
    assert not reduces(2, -1) and not reduces(0, 1) and not reduces(0, -1) and not reduces(1, 2)


def test_a_redelivered_signal_does_not_count_its_own_exposure_twice() -> None:
    s = sig()
    state = snap(exposure={"nt8|NQ": 5.0}, own_legs={f"{s.signal_id}.n80": 1.0})
    assert "nt8" not in checks(s, state)


def test_data_only_venue_is_refused_with_its_reason() -> None:
    venues = load_venues(CONFIG, "staging")
    d = decide(
        sig(), snap(venue_connected={v: True for v in venues}), LIMITS, venues, REGISTRY, throttled=False
    )
    bookmap = next(leg for leg in d.route.legs if leg.venue == "bookmap")
    assert bookmap.status is OrderStatus.REJECTED
    assert "market data only" in (bookmap.reason or "")


def test_session_day_rolls_at_the_reset_time() -> None:
    import datetime as dt

    ny = LIMITS.session_day(dt.datetime(2025, 3, 3, 21, 59, tzinfo=dt.UTC))  # 16:59 New York
    after = LIMITS.session_day(dt.datetime(2025, 3, 3, 22, 0, tzinfo=dt.UTC))  # 17:00
    assert (ny, after) == ("20250303", "20250304")


def test_a_stale_signal_is_refused() -> None:
    d = decide(sig(), snap(), LIMITS, VENUES, REGISTRY, throttled=False, age_s=30.0)
    assert [r.check for r in d.refusals] == ["stale_signal"]


def test_throttle_counts_by_origin_time() -> None:
    from nexus_gateway.router.service import Throttle

    t = Throttle(2)
    assert [t.allow(n * 100_000_000, f"s{n}") for n in range(4)] == [True, True, False, False]
    assert t.allow(1_050_000_000, "s4")  # the first one left the window
    assert t.allow(100_000_000, "s1") and not t.allow(300_000_000, "s3")  # asked again: same answer
