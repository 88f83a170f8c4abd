"""The circuit breakers, pure: the breaker state, a finished trade in, the new state and any trips out.

- Consecutive losses: a final execution with realized P&L below zero extends the streak, one above
  zero ends it, zero (an opening trade, or one that filled nothing) leaves it alone. At
  `loss_streak_max` the breaker trips: new signals pause for `loss_streak_pause_s` and the streak
  starts again from zero.
- Daily loss: when the session day's realized P&L is at or below -`daily_loss_limit_usd` the breaker
  trips once for that day: new signals pause for `daily_loss_pause_s` and the kill switch goes on.
  A day other than today (history read on a first start) never trips it.

The state lives in Redis as one JSON value (`state.py`); times are epoch milliseconds.
"""

from __future__ import annotations

from dataclasses import dataclass

from pydantic import BaseModel, ConfigDict

from nexus_bridge.config import BridgeConfig

CONSECUTIVE_LOSSES = "consecutive_losses"
DAILY_LOSS = "daily_loss"


class BreakerState(BaseModel):
    model_config = ConfigDict(extra="forbid")

    loss_streak: int = 0
    loss_until_ms: int = 0
    loss_trip_value: float = 0.0  # the streak that tripped it
    daily_until_ms: int = 0
    daily_trip_day: str = ""  # the session day it tripped for (once per day)
    daily_trip_value: float = 0.0  # the day's P&L that tripped it
    killswitch_pending: str = ""  # a trip id whose kill switch is still to be switched on
    killswitch_done: str = ""  # the last trip id whose kill switch is on


@dataclass(frozen=True, slots=True)
class Trip:
    breaker: str
    value: float
    threshold: float
    until_ms: int
    trip_id: str  # the signal whose execution tripped it (event ids derive from it)


@dataclass(frozen=True, slots=True)
class Pause:
    """A breaker that is open now, as the refusal reports it."""

    breaker: str
    value: float
    threshold: float
    until_ms: int


def apply_trade(
    state: BreakerState,
    *,
    signal_id: str,
    pnl_usd: float,
    day_pnl_usd: float,
    is_today: bool,
    day: str,
    now_ms: int,
    cfg: BridgeConfig,
) -> tuple[BreakerState, list[Trip]]:
    """The state after one final execution (`day_pnl_usd` already includes it) and what tripped."""
    s = state.model_copy()
    trips: list[Trip] = []
    if pnl_usd < 0:
        s.loss_streak += 1
    elif pnl_usd > 0:
        s.loss_streak = 0
    if s.loss_streak >= cfg.loss_streak_max:
        until = now_ms + int(cfg.loss_streak_pause_s * 1000)
        trips.append(
            Trip(CONSECUTIVE_LOSSES, float(s.loss_streak), float(cfg.loss_streak_max), until, signal_id)
        )
        s.loss_until_ms = max(s.loss_until_ms, until)
        s.loss_trip_value = float(s.loss_streak)
        s.loss_streak = 0
    if is_today and s.daily_trip_day != day and day_pnl_usd <= -cfg.daily_loss_limit_usd:
        until = now_ms + int(cfg.daily_loss_pause_s * 1000)
        trips.append(Trip(DAILY_LOSS, round(day_pnl_usd, 2), -cfg.daily_loss_limit_usd, until, signal_id))
        s.daily_until_ms = max(s.daily_until_ms, until)
        s.daily_trip_day = day
        s.daily_trip_value = round(day_pnl_usd, 2)
        if cfg.daily_loss_killswitch:
            s.killswitch_pending = signal_id
    return s, trips


def open_breakers(state: BreakerState, now_ms: int, cfg: BridgeConfig) -> list[Pause]:
    """The breakers that pause new signals at `now_ms`."""
    out = []
    if state.loss_until_ms > now_ms:
        out.append(
            Pause(CONSECUTIVE_LOSSES, state.loss_trip_value, float(cfg.loss_streak_max), state.loss_until_ms)
        )
    if state.daily_until_ms > now_ms:
        out.append(Pause(DAILY_LOSS, state.daily_trip_value, -cfg.daily_loss_limit_usd, state.daily_until_ms))
    return out


def expired(state: BreakerState, now_ms: int) -> tuple[BreakerState, list[tuple[str, int]]]:
    """Clear pauses that have run out; returns the state and (breaker, until) of each one cleared."""
    s = state.model_copy()
    done: list[tuple[str, int]] = []
    if s.loss_until_ms and s.loss_until_ms <= now_ms:
        done.append((CONSECUTIVE_LOSSES, s.loss_until_ms))
        s.loss_until_ms = 0
    if s.daily_until_ms and s.daily_until_ms <= now_ms:
        done.append((DAILY_LOSS, s.daily_until_ms))
        s.daily_until_ms = 0
    return s, done
