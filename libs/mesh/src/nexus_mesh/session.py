"""The trading session day: which day a moment belongs to, given a time zone and a reset time.

Daily counters (trades, P&L) restart at the session boundary, not at midnight: CME's day starts at
17:00 New York, so 17:00 on Monday already counts for Tuesday. Config models that keep daily counters
inherit `TradingSession`, so the rule and its validation are written once.
"""

from __future__ import annotations

import datetime as dt
import re
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, field_validator


class TradingSession(BaseModel):
    session_timezone: str = "America/New_York"
    session_reset_at: str = "17:00"  # HH:MM local time at which the next trading day starts

    @field_validator("session_timezone")
    @classmethod
    def _tz(cls, v: str) -> str:
        try:
            ZoneInfo(v)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown time zone {v!r}") from None
        return v

    @field_validator("session_reset_at")
    @classmethod
    def _reset(cls, v: str) -> str:
        if not re.fullmatch(r"([01]\d|2[0-3]):[0-5]\d", v):
            raise ValueError("must be HH:MM (24 h)")
        return v

    def session_start(self, now: dt.datetime) -> dt.datetime:
        """When the session `now` belongs to began (UTC): the latest reset time at or before `now`."""
        local = now.astimezone(ZoneInfo(self.session_timezone))
        hh, mm = (int(x) for x in self.session_reset_at.split(":"))
        start = local.replace(hour=hh, minute=mm, second=0, microsecond=0)
        if start > local:
            start -= dt.timedelta(days=1)
        return start.astimezone(dt.UTC)

    def session_day(self, now: dt.datetime) -> str:
        """The trading day `now` belongs to (YYYYMMDD): after the reset time it is already the next day."""
        local = now.astimezone(ZoneInfo(self.session_timezone))
        hh, mm = (int(x) for x in self.session_reset_at.split(":"))
        day = local.date()
        if (local.hour, local.minute) >= (hh, mm):
            day += dt.timedelta(days=1)
        return day.strftime("%Y%m%d")
