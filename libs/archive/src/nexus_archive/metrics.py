"""The plan's trading metrics (pure): trades, wins, losses, win rate, average win and loss, profit
factor, daily Sharpe ratio, max drawdown, net P&L, fill rate; in total, per platform, per symbol.

Definitions (docs/operations.md, "Trading metrics"):
- A *trade* is a final execution that filled something (per platform: one of its legs that filled).
- It *wins* when its realized P&L is above zero and *loses* below; an opening execution realizes
  nothing and is neither (a *scratch*). Win rate = wins / (wins + losses).
- Average win / loss: mean realized P&L of the wins / the losses (a loss is negative).
- Profit factor: gross profit / gross loss (None without a loss).
- Net P&L: realized P&L minus fees, in USD.
- Sharpe ratio (daily): mean / sample standard deviation of the net P&L per trading day (days with
  at least one trade), times sqrt(252); None with fewer than two days or no variation.
- Max drawdown: the largest fall of cumulative net P&L from a previous peak (the curve starts at 0),
  as a negative amount (0 when it never fell).
- Fill rate: legs filled / legs that reached a venue (refusals before the venue are not counted).
"""

from __future__ import annotations

import datetime as dt
import math
import statistics
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from decimal import Decimal

ZERO = Decimal(0)
TRADING_DAYS = 252


@dataclass(frozen=True, slots=True)
class Trade:
    time: dt.datetime  # when the execution became final
    day: dt.date  # its trading (session) day
    symbol: str
    venue: str  # "" for a whole execution
    pnl: Decimal  # realized, USD
    fees: Decimal  # USD

    @property
    def net(self) -> Decimal:
        return self.pnl - self.fees


@dataclass(frozen=True, slots=True)
class LegOutcome:
    """A leg that reached its venue, and whether it filled completely."""

    venue: str
    symbol: str
    filled: bool


@dataclass(frozen=True, slots=True)
class TradingStats:
    trades: int
    winning: int
    losing: int
    win_rate: float | None
    avg_win: Decimal | None
    avg_loss: Decimal | None
    profit_factor: float | None
    sharpe: float | None
    max_drawdown: Decimal
    net_pnl: Decimal
    realized_pnl: Decimal
    fees: Decimal
    fill_rate: float | None
    legs_sent: int
    legs_filled: int
    days: int

    def as_dict(self) -> dict[str, object]:
        return {k: getattr(self, k) for k in self.__slots__}


def _mean(values: Sequence[Decimal]) -> Decimal | None:
    return sum(values, ZERO) / len(values) if values else None


def daily_net(trades: Iterable[Trade]) -> dict[dt.date, Decimal]:
    days: dict[dt.date, Decimal] = {}
    for t in trades:
        days[t.day] = days.get(t.day, ZERO) + t.net
    return dict(sorted(days.items()))


def sharpe(daily: Sequence[Decimal]) -> float | None:
    if len(daily) < 2:
        return None
    values = [float(d) for d in daily]
    sd = statistics.stdev(values)
    if sd == 0:
        return None
    return statistics.fmean(values) / sd * math.sqrt(TRADING_DAYS)


def max_drawdown(trades: Iterable[Trade]) -> Decimal:
    peak = level = ZERO
    worst = ZERO
    for t in sorted(trades, key=lambda t: t.time):
        level += t.net
        peak = max(peak, level)
        worst = min(worst, level - peak)
    return worst


def trading_stats(trades: Sequence[Trade], legs: Sequence[LegOutcome] = ()) -> TradingStats:
    wins = [t.pnl for t in trades if t.pnl > 0]
    losses = [t.pnl for t in trades if t.pnl < 0]
    gross_loss = -sum(losses, ZERO)
    realized = sum((t.pnl for t in trades), ZERO)
    fees = sum((t.fees for t in trades), ZERO)
    daily = daily_net(trades)
    filled = sum(1 for leg in legs if leg.filled)
    return TradingStats(
        trades=len(trades),
        winning=len(wins),
        losing=len(losses),
        win_rate=len(wins) / (len(wins) + len(losses)) if wins or losses else None,
        avg_win=_mean(wins),
        avg_loss=_mean(losses),
        profit_factor=float(sum(wins, ZERO) / gross_loss) if gross_loss else None,
        sharpe=sharpe(list(daily.values())),
        max_drawdown=max_drawdown(trades),
        net_pnl=realized - fees,
        realized_pnl=realized,
        fees=fees,
        fill_rate=filled / len(legs) if legs else None,
        legs_sent=len(legs),
        legs_filled=filled,
        days=len(daily),
    )


def breakdown(
    trades: Sequence[Trade], legs: Sequence[LegOutcome], key: Callable[[Trade | LegOutcome], str]
) -> dict[str, TradingStats]:
    """Stats per value of `key` (per platform: `lambda x: x.venue`; per symbol: `x.symbol`)."""
    groups = sorted({key(t) for t in trades} | {key(leg) for leg in legs})
    return {
        g: trading_stats([t for t in trades if key(t) == g], [leg for leg in legs if key(leg) == g])
        for g in groups
    }
