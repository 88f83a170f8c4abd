"""The circuit breakers as pure logic: streaks, pauses, the daily loss trip once per day."""

from __future__ import annotations

from nexus_bridge.breakers import (
    CONSECUTIVE_LOSSES,
    DAILY_LOSS,
    BreakerState,
    apply_trade,
    expired,
    open_breakers,
)
from nexus_bridge.config import BridgeConfig

CFG = BridgeConfig()
H = 3_600_000


def trade(
    state: BreakerState, pnl: float, day_pnl: float = 0.0, *, now: int = 0, sid: str = "s", today: bool = True
) -> tuple[BreakerState, list[object]]:
    return apply_trade(
        state,
        signal_id=sid,
        pnl_usd=pnl,
        day_pnl_usd=day_pnl,
        is_today=today,
        day="20250301",
        now_ms=now,
        cfg=CFG,
    )  # type: ignore[return-value]


def test_five_losses_in_a_row_pause_for_an_hour() -> None:
    s = BreakerState()
    for i in range(4):
        s, trips = trade(s, -10, sid=f"s{i}")
        assert not trips
    s, trips = trade(s, -10, now=1000, sid="s4")
    [trip] = trips
    assert trip.breaker == CONSECUTIVE_LOSSES and trip.until_ms == 1000 + H and trip.trip_id == "s4"  # type: ignore[attr-defined]
    assert s.loss_streak == 0
    [pause] = open_breakers(s, 2000, CFG)
    assert (pause.breaker, pause.value, pause.threshold) == (CONSECUTIVE_LOSSES, 5.0, 5.0)
    assert open_breakers(s, 1000 + H, CFG) == []


def test_a_win_ends_the_streak_and_a_flat_trade_leaves_it() -> None:
    s = BreakerState()
    s, _ = trade(s, -1)
    s, _ = trade(s, 0)
    assert s.loss_streak == 1
    s, _ = trade(s, 5)
    assert s.loss_streak == 0


def test_daily_loss_trips_once_per_day_and_asks_for_the_kill_switch() -> None:
    s, trips = trade(BreakerState(), -400, day_pnl=-999.99)
    assert not trips
    s, trips = trade(s, -0.01, day_pnl=-1000.0, now=5, sid="x")
    [trip] = trips
    assert trip.breaker == DAILY_LOSS and trip.value == -1000.0 and trip.threshold == -1000.0  # type: ignore[attr-defined]
    assert s.killswitch_pending == "x" and s.daily_until_ms == 5 + 24 * H
    _, again = trade(s, -50, day_pnl=-1050.0)
    assert not [t for t in again if t.breaker == DAILY_LOSS]  # type: ignore[attr-defined]


def test_history_of_another_day_never_trips_the_daily_breaker() -> None:
    _, trips = trade(BreakerState(), -2000, day_pnl=-2000, today=False)
    assert not [t for t in trips if t.breaker == DAILY_LOSS]  # type: ignore[attr-defined]


def test_expired_pauses_are_cleared() -> None:
    s = BreakerState(loss_until_ms=10, daily_until_ms=100)
    s2, done = expired(s, 50)
    assert done == [(CONSECUTIVE_LOSSES, 10)] and s2.loss_until_ms == 0 and s2.daily_until_ms == 100
