"""Which dated futures contracts a simulated platform lists on a given day.

A platform lists the next few contracts of a root's cycle (a broker's MT5 terminal shows WINZ26, WING27,
...; Bookmap has the front months' charts). The simulators list the next `count` contract months of the
root's calendar from the current month on, so whatever contract the rollover service calls active
(this month's until its roll date, the next one after) is there to trade. Expiry and roll dates are
the rollover service's business; a contract listed a few days past its expiry does no harm here.
"""

from __future__ import annotations

import datetime as dt

from nexus_protocol.symbols import CalendarKind, Contract

MONTHS: dict[CalendarKind, tuple[int, ...]] = {
    "cme_quarterly": (3, 6, 9, 12),
    "b3_even_month": (2, 4, 6, 8, 10, 12),
    "b3_monthly": tuple(range(1, 13)),
}


def listed_contracts(root: str, calendar: CalendarKind, on: dt.date, count: int = 2) -> list[Contract]:
    """The next `count` contracts of `root` in its calendar's cycle, from `on`'s month on."""
    months = MONTHS.get(calendar)
    if months is None:
        raise ValueError(f"{root}: calendar {calendar!r} lists no dated contracts")
    out: list[Contract] = []
    year, month = on.year, on.month
    while len(out) < count:
        if month in months:
            out.append(Contract(root, year, month))
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)
    return out
