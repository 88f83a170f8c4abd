"""The plan's trading metrics on trades with known results."""

from __future__ import annotations

import datetime as dt
import math
import statistics
from decimal import Decimal

from nexus_archive.metrics import LegOutcome, Trade, breakdown, max_drawdown, trading_stats

D = Decimal
T0 = dt.datetime(2026, 12, 1, 15, 0, tzinfo=dt.UTC)


def trade(
    minutes: int, pnl: str, fees: str = "0", *, day: int = 1, symbol: str = "NQ", venue: str = ""
) -> Trade:
    t = T0 + dt.timedelta(days=day - 1, minutes=minutes)
    return Trade(t, t.date(), symbol, venue, D(pnl), D(fees))


def test_wins_losses_and_their_ratios() -> None:
    trades = [trade(0, "0", "2"), trade(1, "100", "2"), trade(2, "-50", "2"), trade(3, "150", "2")]
    s = trading_stats(trades)
    assert (s.trades, s.winning, s.losing) == (4, 2, 1)  # the opening trade is a scratch
    assert s.win_rate == 2 / 3
    assert (s.avg_win, s.avg_loss) == (D("125"), D("-50"))
    assert s.profit_factor == 5.0
    assert (s.realized_pnl, s.fees, s.net_pnl) == (D("200"), D("8"), D("192"))


def test_max_drawdown_is_the_deepest_fall_from_a_peak_of_net_pnl() -> None:
    trades = [trade(0, "100"), trade(1, "-30"), trade(2, "50"), trade(3, "-200"), trade(4, "10")]
    assert max_drawdown(trades) == D("-200")  # peak 120, trough -80
    assert max_drawdown([trade(0, "10"), trade(1, "20")]) == 0
    assert max_drawdown([trade(0, "-5", "1")]) == D("-6")  # from the start at 0


def test_sharpe_is_daily_net_pnl_mean_over_deviation_annualized() -> None:
    trades = [trade(0, "100", day=1), trade(0, "-40", day=2), trade(5, "10", day=2), trade(0, "60", day=3)]
    daily = [100.0, -30.0, 60.0]
    want = statistics.fmean(daily) / statistics.stdev(daily) * math.sqrt(252)
    s = trading_stats(trades)
    assert s.days == 3
    assert s.sharpe is not None and math.isclose(s.sharpe, want)
    assert trading_stats([trade(0, "100")]).sharpe is None  # one day: no deviation


def test_fill_rate_and_no_trades() -> None:
    legs = [LegOutcome("nt8", "NQ", True), LegOutcome("nt8", "NQ", False), LegOutcome("mt5", "NQ", True)]
    s = trading_stats([], legs)
    assert s.fill_rate == 2 / 3 and (s.legs_sent, s.legs_filled) == (3, 2)
    assert (s.trades, s.win_rate, s.avg_win, s.profit_factor, s.net_pnl) == (0, None, None, None, 0)


def test_breakdown_per_platform_and_per_symbol() -> None:
    trades = [
        trade(0, "100", venue="nt8"),
        trade(1, "-20", venue="mt5", symbol="ES"),
        trade(2, "30", venue="nt8"),
    ]
    legs = [LegOutcome("nt8", "NQ", True), LegOutcome("mt5", "ES", True), LegOutcome("mt5", "ES", False)]
    per_venue = breakdown(trades, legs, lambda x: x.venue)
    assert list(per_venue) == ["mt5", "nt8"]
    assert per_venue["nt8"].net_pnl == D("130") and per_venue["nt8"].fill_rate == 1.0
    assert per_venue["mt5"].losing == 1 and per_venue["mt5"].fill_rate == 0.5
    per_symbol = breakdown(trades, legs, lambda x: x.symbol)
    assert per_symbol["ES"].trades == 1 and per_symbol["NQ"].winning == 2
