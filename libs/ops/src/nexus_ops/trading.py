"""The plan's trading metrics of a record (report, dashboard): in total, per platform, per symbol.

A final execution that filled something is a trade (its realized P&L and fees in USD); per platform,
each of its legs that filled is one. Legs that reached a venue count for the fill rate. The numbers
and their definitions are `nexus_archive.metrics`; trades belong to the router's session day.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from decimal import Decimal

from nexus_archive.metrics import LegOutcome, Trade, TradingStats, breakdown, trading_stats
from nexus_mesh.session import TradingSession
from nexus_ops.records import StreamEntry
from nexus_protocol.enums import OrderStatus
from nexus_protocol.messages import Execution

DayOf = Callable[[dt.datetime], dt.date]


def day_of(session: TradingSession) -> DayOf:
    return lambda t: dt.datetime.strptime(session.session_day(t), "%Y%m%d").date()


def _d(v: float) -> Decimal:
    return Decimal(repr(v))


@dataclass(frozen=True, slots=True)
class Metrics:
    total: TradingStats
    by_platform: dict[str, TradingStats]
    by_symbol: dict[str, TradingStats]


def outcomes(
    finals: Iterable[tuple[dt.datetime, Execution]], day: DayOf
) -> tuple[list[Trade], list[Trade], list[LegOutcome]]:
    """Trades per execution, trades per leg, and the legs that reached a venue."""
    trades: list[Trade] = []
    leg_trades: list[Trade] = []
    legs: list[LegOutcome] = []
    for when, ex in finals:
        d = day(when)
        if ex.filled_quantity > 0:
            trades.append(Trade(when, d, ex.symbol, "", _d(ex.realized_pnl_usd), _d(ex.fees_usd)))
        for leg in ex.legs:
            if leg.venue_symbol is None:
                continue  # refused before the venue
            legs.append(LegOutcome(leg.venue, ex.symbol, leg.status is OrderStatus.FILLED))
            if leg.filled_quantity > 0:
                leg_trades.append(
                    Trade(when, d, ex.symbol, leg.venue, _d(leg.realized_pnl_usd), _d(leg.fees_usd))
                )
    return trades, leg_trades, legs


def metrics(finals: Iterable[tuple[dt.datetime, Execution]], day: DayOf) -> Metrics:
    trades, leg_trades, legs = outcomes(finals, day)
    return Metrics(
        total=trading_stats(trades, legs),
        by_platform=breakdown(leg_trades, legs, lambda x: x.venue),
        by_symbol=breakdown(trades, legs, lambda x: x.symbol),
    )


def finals_of(pairs: Iterable[tuple[StreamEntry, Execution]]) -> list[tuple[dt.datetime, Execution]]:
    """(time it became final, execution) from a record's finals."""
    return [(dt.datetime.fromtimestamp(e.ms / 1000, dt.UTC), ex) for e, ex in pairs]


def pct(v: float | None) -> str:
    return "-" if v is None else f"{v:.1%}"


def num(v: float | Decimal | None, places: int = 2) -> str:
    return "-" if v is None else f"{v:,.{places}f}"
