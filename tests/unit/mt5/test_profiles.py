"""The brokers' profiles: the B3 terminal lists the dated contracts a broker lists around a day."""

from __future__ import annotations

import datetime as dt

from nexus_mt5.simulator.profiles import profile


def test_brazil_lists_the_next_win_and_wdo_contracts_from_a_day() -> None:
    b3 = profile("brazil", series_from=dt.date(2026, 12, 6))
    names = [s.name for s in b3.symbols]
    assert names == ["WINZ26", "WING27", "WINJ27", "WDOZ26", "WDOF27", "WDOG27", "WIN$", "WDO$"]
    win = b3.symbol("WING27")
    assert win is not None and win.description == "Mini Ibovespa Fev/27" and win.tick_value == 1.0


def test_without_a_day_the_fixed_contracts_of_the_tests_world() -> None:
    assert [s.name for s in profile("brazil").symbols][:2] == ["WINZ25", "WDOF26"]
    assert profile("global", series_from=dt.date(2026, 12, 6)).symbol("US500") is not None
