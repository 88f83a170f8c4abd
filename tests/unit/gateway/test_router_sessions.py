"""Session filters: windows in local time (across midnight and DST), the exchange's own session by
exchange_calendars, the rule per root with `*` for the rest, and the reason a leg is refused with."""

from __future__ import annotations

import datetime as dt

import pytest
from pydantic import TypeAdapter

from nexus_gateway.router.sessions import exchange_open, rule_for, session_refusal
from nexus_mesh.accounts import SessionRule, Window

UTC = dt.UTC
RTH = Window(start=dt.time(8, 30), end=dt.time(15, 0), timezone="America/Chicago")
GLOBEX = Window(
    start=dt.time(17, 0),
    end=dt.time(16, 0),
    timezone="America/Chicago",
    days=("sun", "mon", "tue", "wed", "thu"),
)


def at(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text).replace(tzinfo=UTC)


@pytest.mark.parametrize(
    ("window", "when", "inside"),
    [
        (RTH, "2025-03-04 14:30", True),  # Tuesday 08:30 CST
        (RTH, "2025-03-04 14:29", False),
        (RTH, "2025-03-04 21:00", False),  # 15:00 CST: the end is outside
        (RTH, "2025-03-11 13:30", True),  # Tuesday 08:30 CDT (the clocks moved on the 9th)
        (RTH, "2025-03-08 16:00", False),  # Saturday
        (GLOBEX, "2025-03-02 23:30", True),  # Sunday 17:30 CST: the week opens
        (GLOBEX, "2025-03-03 21:30", True),  # Monday 15:30 CST
        (GLOBEX, "2025-03-03 22:30", False),  # Monday 16:30 CST: the daily halt
        (GLOBEX, "2025-03-07 21:00", True),  # Friday 15:00 CST: Thursday's session, still open
        (GLOBEX, "2025-03-07 23:30", False),  # Friday 17:30 CST: no Friday evening session
    ],
)
def test_a_window_is_local_time_on_its_days(window: Window, when: str, inside: bool) -> None:
    assert window.contains(at(when)) is inside


def test_the_refusal_says_when_the_leg_may_trade() -> None:
    reason = session_refusal(
        RTH,
        at("2025-03-04 22:00"),
        venue="nt8",
        root="NQ",
        exchange_calendar="CMES",
        exchange_open=exchange_open,
    )
    window = "08:30-15:00 America/Chicago on mon, tue, wed, thu, fri"
    assert reason == f"NQ on nt8 trades {window} only; it is 2025-03-04 22:00 UTC"
    assert session_refusal("always", at("2025-03-08 12:00"), venue="nt8", root="NQ", exchange_calendar=None,
                           exchange_open=exchange_open) is None  # fmt: skip


def test_the_exchange_session_comes_from_exchange_calendars() -> None:
    assert exchange_open("CMES", at("2025-03-04 15:00"))
    assert not exchange_open("CMES", at("2025-03-08 15:00"))  # Saturday
    assert not exchange_open("BVMF", at("2025-03-04 03:00"))  # B3 at night
    assert exchange_open("BVMF", at("2025-03-06 15:00"))
    assert not exchange_open("CMES", at("1990-01-02 15:00"))  # outside the calendar's range: closed
    kw = {"venue": "mt5-brazil", "root": "WIN", "exchange_open": exchange_open}
    assert session_refusal("exchange", at("2025-03-06 15:00"), exchange_calendar="BVMF", **kw) is None  # type: ignore[arg-type]
    closed = session_refusal("exchange", at("2025-03-04 03:00"), exchange_calendar="BVMF", **kw)  # type: ignore[arg-type]
    assert closed == "WIN on mt5-brazil trades in the BVMF session only; it is closed at 2025-03-04 03:00 UTC"
    none = session_refusal("exchange", at("2025-03-04 03:00"), exchange_calendar=None, **kw)  # type: ignore[arg-type]
    assert none is not None and "names no calendar" in none


def test_rules_by_root_from_venues_yaml() -> None:
    read = TypeAdapter(dict[str, SessionRule]).validate_python
    rules = read({"*": "exchange", "NQ": {"start": "08:30", "end": "15:00", "timezone": "America/Chicago"}})
    assert rule_for(rules, "NQ") == RTH and rule_for(rules, "ES") == "exchange"
    assert rule_for({}, "NQ") == "always"
    for bad in (
        {"NQ": "sometimes"},
        {"NQ": {"start": "8h", "end": "15:00"}},
        {"NQ": {"start": "08:00", "end": "09:00", "timezone": "Mars/Olympus"}},
    ):
        with pytest.raises(ValueError, match="validation error"):
            read(bad)
