"""The contracts a simulated platform lists on a day: the next ones of the root's cycle."""

from __future__ import annotations

import datetime as dt

import pytest

from nexus_sim.listing import listed_contracts


def codes(root: str, calendar: str, on: str, count: int = 2) -> list[str]:
    return [c.code for c in listed_contracts(root, calendar, dt.date.fromisoformat(on), count)]  # type: ignore[arg-type]


def test_each_calendar_lists_its_own_months_from_the_current_one() -> None:
    assert codes("NQ", "cme_quarterly", "2026-12-06") == ["NQZ26", "NQH27"]
    assert codes("NQ", "cme_quarterly", "2027-01-15") == ["NQH27", "NQM27"]
    assert codes("WIN", "b3_even_month", "2026-11-30", 3) == ["WINZ26", "WING27", "WINJ27"]
    assert codes("WDO", "b3_monthly", "2026-12-06", 3) == ["WDOZ26", "WDOF27", "WDOG27"]


def test_a_root_without_dated_contracts_is_refused() -> None:
    with pytest.raises(ValueError, match="lists no dated contracts"):
        listed_contracts("NAS100", "none", dt.date(2026, 12, 6))
