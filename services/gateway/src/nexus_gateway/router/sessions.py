"""Session filters per venue and symbol, pure: may a leg be sent now? (venues.yaml `sessions`).

A venue's `sessions` maps a root (or `*`, every other root) to a rule:

- `always` (the default): no filter.
- `exchange`: only while the root's exchange is in session, by `exchange_calendars` (the registry's
  `exchange_calendar`, e.g. CMES for CME Globex, BVMF for B3). Coarse for CME: exchange_calendars
  draws one session a day and no daily maintenance halt; a window says exactly when.
- a window: `{start: "08:30", end: "15:00", timezone: America/Chicago, days: [mon, tue, wed, thu, fri]}`,
  local times on the listed days; `end` before `start` spans midnight (the window belongs to the day
  it starts on).

A refused leg carries the reason (`session: NQ on nt8 trades 08:30-15:00 America/Chicago ...`).
Orders that reduce a position pass: a session filter keeps new exposure out, it never traps a position.
"""

from __future__ import annotations

import datetime as dt
import warnings
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from functools import cache
from typing import Any

import pandas as pd

from nexus_mesh.accounts import SessionRule, Window

ExchangeOpen = Callable[[str, dt.datetime], bool]  # (exchange calendar, UTC time) -> in session


def rule_for(sessions: Mapping[str, SessionRule], root: str) -> SessionRule:
    """A venue's rule for `root`: its own, else `*`'s, else always."""
    return sessions.get(root, sessions.get("*", "always"))


@contextmanager
def _quiet() -> Iterator[None]:
    with warnings.catch_warnings():
        # exchange_calendars on pandas 3 trips pandas' own deprecation warnings (as in rollover.calendar)
        warnings.simplefilter("ignore", DeprecationWarning)
        warnings.simplefilter("ignore", FutureWarning)
        yield


@cache
def _calendar(name: str) -> Any:
    import exchange_calendars  # a second to import and build: only where a rule asks for it

    with _quiet():
        return exchange_calendars.get_calendar(name)


def exchange_open(name: str, when: dt.datetime) -> bool:
    """exchange_calendars' view: is `name` (CMES, BVMF, ...) in session at `when`? Outside the
    calendar's range (about 20 years back, one ahead) nothing is known: closed."""
    cal = _calendar(name)
    minute = pd.Timestamp(when).tz_convert("UTC").floor("min")
    with _quiet():
        if not cal.first_minute <= minute <= cal.last_minute:
            return False
        return bool(cal.is_open_on_minute(minute))


def session_refusal(
    rule: SessionRule,
    when: dt.datetime,
    *,
    venue: str,
    root: str,
    exchange_calendar: str | None,
    exchange_open: ExchangeOpen,
) -> str | None:
    """Why a leg on `root` at `venue` may not be sent at `when` (UTC, aware), or None."""
    if rule == "always":
        return None
    if rule == "exchange":
        if exchange_calendar is None:
            return f"{root} on {venue} trades in its exchange session, but the registry names no calendar"
        if exchange_open(exchange_calendar, when):
            return None
        closed = f"{when:%Y-%m-%d %H:%M} UTC"
        return f"{root} on {venue} trades in the {exchange_calendar} session only; it is closed at {closed}"
    assert isinstance(rule, Window)
    if rule.contains(when):
        return None
    return f"{root} on {venue} trades {rule.describe()} only; it is {when:%Y-%m-%d %H:%M} UTC"
