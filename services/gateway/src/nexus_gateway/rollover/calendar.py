"""Contract calendars: which futures contract is active on a given day, and when to roll.

Pure logic, no Redis: the rollover service calls `active_contract` and `schedule` and publishes the
result. Contracts are `nexus_protocol.symbols.Contract` (root, year, month; code `NQH25`).

Rules (sources in docs/rollover.md):

- `cme_quarterly` (NQ, ES, MNQ, MES): listed Mar, Jun, Sep, Dec (H M U Z). Last trade is the 3rd Friday
  of the contract month (CME contract specs). The final settlement is the cash index's Special Opening
  Quotation, so the expiry must be a session both on CME (`CMES`) and on the cash equity market
  (`XNYS`); if the 3rd Friday is not, the expiry is the preceding day that is (Good Friday 2008-03-21 ->
  2008-03-20; Juneteenth 2026-06-19 -> 2026-06-18, a day CME's own Globex calendar keeps open).
- `b3_even_month` (WIN): listed Feb, Apr, Jun, Aug, Oct, Dec (G J M Q V Z). Expiry is the Wednesday
  closest to the 15th; if B3 has no session that day, the next session (B3 glossary, "Mini Índice").
- `b3_monthly` (WDO): listed every month. Expiry is the first B3 session of the contract month, so
  during month M the active contract is the M+1 one.
- `none`: spot or CFD, nothing to roll; asking for its contracts raises `ConfigError`.

Roll rule: a contract is active until its roll date, `roll_business_days_before` sessions of its
exchange before its expiry; on and after the roll date the next listed contract is active. Defaults
(config overrides them): CME 6 sessions (the Thursday 8 calendar days before the 3rd Friday, the
market's convention), WIN 3, WDO 2.

Business days come from `exchange_calendars`, built once per calendar name for 2000-2040 and cached;
outside that window weekdays stand in for sessions (with a warning). Its first construction takes about
a second: call `preload(rules)` at start-up to keep it out of the message path.
"""

from __future__ import annotations

import datetime as dt
import logging
import warnings
from abc import ABC, abstractmethod
from collections.abc import Iterable, Mapping
from functools import cache
from types import MappingProxyType
from typing import Any, ClassVar, NamedTuple

from pydantic import BaseModel, ConfigDict, Field, model_validator

from nexus_protocol.errors import ConfigError
from nexus_protocol.symbols import CalendarKind, Contract

__all__ = [
    "DEFAULT_RULES",
    "B3EvenMonth",
    "B3Monthly",
    "CmeEquityQuarterly",
    "ContractCalendar",
    "ExchangeDays",
    "Roll",
    "RollRule",
    "active_contract",
    "calendar_for",
    "default_rule",
    "exchange_days",
    "expiry",
    "next_contract",
    "preload",
    "previous_contract",
    "roll_date",
    "schedule",
]

_log = logging.getLogger(__name__)

SESSIONS_FROM = dt.date(2000, 1, 1)
SESSIONS_TO = dt.date(2040, 12, 31)
_ONE_DAY = dt.timedelta(days=1)
_WEDNESDAY, _FRIDAY = 2, 4


class ExchangeDays:
    """The business days (sessions) of one exchange, as a set of dates for O(1) lookups.

    Inside [first, last] a day is a business day exactly when exchange_calendars lists a session;
    outside it, every weekday counts (an approximation, logged once per calendar).
    """

    __slots__ = ("_sessions", "first", "last", "name")

    def __init__(self, name: str, sessions: Iterable[dt.date], first: dt.date, last: dt.date) -> None:
        self.name = name
        self.first = first
        self.last = last
        self._sessions = frozenset(sessions)

    def __repr__(self) -> str:
        return f"ExchangeDays({self.name!r}, {self.first}..{self.last}, {len(self._sessions)} sessions)"

    def covers(self, day: dt.date) -> bool:
        return self.first <= day <= self.last

    def is_business_day(self, day: dt.date) -> bool:
        if self.covers(day):
            return day in self._sessions
        _warn_weekday_fallback(self.name, self.first, self.last)
        return day.weekday() < 5

    def next_business_day(self, day: dt.date, *, inclusive: bool = True) -> dt.date:
        """`day` itself if it is a business day and `inclusive`, else the first one after it."""
        if not inclusive:
            day += _ONE_DAY
        while not self.is_business_day(day):
            day += _ONE_DAY
        return day

    def previous_business_day(self, day: dt.date, *, inclusive: bool = True) -> dt.date:
        if not inclusive:
            day -= _ONE_DAY
        while not self.is_business_day(day):
            day -= _ONE_DAY
        return day

    def shift(self, day: dt.date, sessions: int) -> dt.date:
        """The business day `sessions` business days after `day` (before it when negative)."""
        for _ in range(abs(sessions)):
            if sessions > 0:
                day = self.next_business_day(day, inclusive=False)
            else:
                day = self.previous_business_day(day, inclusive=False)
        return day


@cache
def _warn_weekday_fallback(name: str, first: dt.date, last: dt.date) -> None:
    _log.warning("calendar %s covers %s..%s only; outside it weekdays count as sessions", name, first, last)


@cache
def exchange_days(name: str) -> ExchangeDays:
    """The sessions of exchange_calendars' calendar `name` ("CMES", "BVMF", "XNYS"), built once."""
    import exchange_calendars as xc

    if name not in xc.get_calendar_names():
        raise ConfigError(f"unknown exchange calendar {name!r} (exchange_calendars has no such name)")
    with warnings.catch_warnings():
        # exchange_calendars 4.13 on pandas 3 trips pandas' own deprecation warnings while building.
        warnings.simplefilter("ignore", DeprecationWarning)
        warnings.simplefilter("ignore", FutureWarning)
        cal = xc.get_calendar(name, start=SESSIONS_FROM.isoformat(), end=SESSIONS_TO.isoformat())
        sessions = [ts.date() for ts in cal.sessions]
    return ExchangeDays(name, sessions, SESSIONS_FROM, SESSIONS_TO)


def _nth_weekday(year: int, month: int, weekday: int, n: int) -> dt.date:
    first = dt.date(year, month, 1)
    return first + dt.timedelta(days=(weekday - first.weekday()) % 7 + 7 * (n - 1))


class ContractCalendar(ABC):
    """Which months are listed and when each contract expires, on one exchange's business days."""

    kind: ClassVar[CalendarKind]
    listed_months: ClassVar[tuple[int, ...]]

    def __init__(self, days: ExchangeDays) -> None:
        self.days = days

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.days.name!r})"

    @abstractmethod
    def _expiry(self, year: int, month: int) -> dt.date: ...

    def expiry(self, year: int, month: int) -> dt.date:
        """Last trading day of the (year, month) contract; raises ConfigError if it is not listed."""
        if month not in self.listed_months:
            raise ConfigError(f"{self.kind} lists months {self.listed_months}, not {month}")
        return self._expiry(year, month)

    def listed_on_or_after(self, year: int, month: int) -> tuple[int, int]:
        while month not in self.listed_months:
            year, month = (year + 1, 1) if month == 12 else (year, month + 1)
        return year, month

    def listed_after(self, year: int, month: int) -> tuple[int, int]:
        return self.listed_on_or_after(*((year + 1, 1) if month == 12 else (year, month + 1)))

    def listed_before(self, year: int, month: int) -> tuple[int, int]:
        year, month = (year - 1, 12) if month == 1 else (year, month - 1)
        while month not in self.listed_months:
            year, month = (year - 1, 12) if month == 1 else (year, month - 1)
        return year, month


class CmeEquityQuarterly(ContractCalendar):
    """NQ, ES, MNQ, MES: H M U Z, last trade on the 3rd Friday (moved back to a common session)."""

    kind = "cme_quarterly"
    listed_months = (3, 6, 9, 12)

    def __init__(self, days: ExchangeDays, settlement: ExchangeDays) -> None:
        super().__init__(days)
        self.settlement = settlement

    def _expiry(self, year: int, month: int) -> dt.date:
        day = _nth_weekday(year, month, _FRIDAY, 3)
        while not (self.days.is_business_day(day) and self.settlement.is_business_day(day)):
            day -= _ONE_DAY
        return day


class B3EvenMonth(ContractCalendar):
    """WIN: G J M Q V Z, expiry on the Wednesday closest to the 15th, else the next session."""

    kind = "b3_even_month"
    listed_months = (2, 4, 6, 8, 10, 12)

    def _expiry(self, year: int, month: int) -> dt.date:
        fifteenth = dt.date(year, month, 15)
        # Offsets -3..+3: the Wednesday closest to the 15th always falls on the 12th..18th.
        wednesday = fifteenth + dt.timedelta(days=(_WEDNESDAY - fifteenth.weekday() + 3) % 7 - 3)
        return self.days.next_business_day(wednesday)


class B3Monthly(ContractCalendar):
    """WDO: every month, expiry on the first session of the contract month."""

    kind = "b3_monthly"
    listed_months = tuple(range(1, 13))

    def _expiry(self, year: int, month: int) -> dt.date:
        return self.days.next_business_day(dt.date(year, month, 1))


# Defaults by calendar kind; a rule's own (configured) values win.
_KIND_DEFAULTS: Mapping[str, Mapping[str, Any]] = MappingProxyType(
    {
        "cme_quarterly": {
            "exchange_calendar": "CMES",
            "settlement_calendar": "XNYS",
            "roll_business_days_before": 6,
        },
        "b3_even_month": {"exchange_calendar": "BVMF", "roll_business_days_before": 3},
        "b3_monthly": {"exchange_calendar": "BVMF", "roll_business_days_before": 2},
        "none": {"roll_business_days_before": 0},
    }
)


class RollRule(BaseModel):
    """How one root's contracts are listed, expire and roll; built from its symbol registry entry.

    Unset fields take the calendar kind's defaults. Keys the rule does not use (the registry's
    `exchange`, `currency`, `venues`, ...) are ignored so a registry entry can be passed whole.
    """

    model_config = ConfigDict(frozen=True, extra="ignore")

    root: str = Field(pattern=r"^[A-Z0-9]{1,12}$")
    calendar: CalendarKind
    exchange_calendar: str | None = None  # exchange_calendars name whose sessions count as business days
    settlement_calendar: str | None = None  # cme_quarterly: the cash market the expiry must also be open on
    roll_business_days_before: int = Field(ge=0)

    @model_validator(mode="before")
    @classmethod
    def _kind_defaults(cls, data: Any) -> Any:
        if not isinstance(data, Mapping):
            return data
        filled = dict(data)
        for key, value in _KIND_DEFAULTS.get(str(filled.get("calendar")), {}).items():
            if filled.get(key) is None:
                filled[key] = value
        return filled

    @model_validator(mode="after")
    def _dated_needs_exchange(self) -> RollRule:
        if self.dated and not self.exchange_calendar:
            raise ValueError(f"{self.root}: calendar {self.calendar} needs exchange_calendar")
        return self

    @property
    def dated(self) -> bool:
        return self.calendar != "none"

    @classmethod
    def from_registry(cls, root: str, entry: Mapping[str, Any] | BaseModel) -> RollRule:
        """From one root's registry entry: its YAML mapping or a parsed model (`RootSpec`)."""
        fields = entry.model_dump() if isinstance(entry, BaseModel) else dict(entry)
        return cls.model_validate({**fields, "root": root})


DEFAULT_RULES: Mapping[str, RollRule] = MappingProxyType(
    {
        root: RollRule.model_validate({"root": root, "calendar": kind})
        for root, kind in (
            ("NQ", "cme_quarterly"),
            ("ES", "cme_quarterly"),
            ("MNQ", "cme_quarterly"),
            ("MES", "cme_quarterly"),
            ("WIN", "b3_even_month"),
            ("WDO", "b3_monthly"),
        )
    }
)


def default_rule(root: str) -> RollRule:
    try:
        return DEFAULT_RULES[root]
    except KeyError:
        raise ConfigError(f"no default roll rule for {root!r}; pass the configured rule") from None


@cache
def _build_calendar(kind: CalendarKind, exchange: str, settlement: str | None) -> ContractCalendar:
    days = exchange_days(exchange)
    if kind == "cme_quarterly":
        return CmeEquityQuarterly(days, exchange_days(settlement) if settlement else days)
    if kind == "b3_even_month":
        return B3EvenMonth(days)
    if kind == "b3_monthly":
        return B3Monthly(days)
    raise ConfigError(f"calendar kind {kind!r} has no contracts")


def calendar_for(rule: RollRule) -> ContractCalendar:
    """The contract calendar of a dated rule (cached); ConfigError for `none` (spot, CFD)."""
    if not rule.dated or rule.exchange_calendar is None:
        raise ConfigError(f"{rule.root} has calendar {rule.calendar!r}: no dated contracts to roll")
    return _build_calendar(rule.calendar, rule.exchange_calendar, rule.settlement_calendar)


def preload(rules: Iterable[RollRule]) -> None:
    """Build every calendar the rules need now (start-up), not on the first message."""
    for rule in rules:
        if rule.dated:
            calendar_for(rule)


def _resolve(contract: Contract, rule: RollRule | None) -> RollRule:
    if rule is None:
        return default_rule(contract.root)
    if rule.root != contract.root:
        raise ConfigError(f"rule for {rule.root} applied to contract {contract.code}")
    return rule


def _roll_date(cal: ContractCalendar, rule: RollRule, contract: Contract) -> dt.date:
    return cal.days.shift(cal.expiry(contract.year, contract.month), -rule.roll_business_days_before)


def expiry(contract: Contract, rule: RollRule | None = None) -> dt.date:
    """Last trading day of `contract` (rule defaults to DEFAULT_RULES[contract.root])."""
    rule = _resolve(contract, rule)
    return calendar_for(rule).expiry(contract.year, contract.month)


def roll_date(contract: Contract, rule: RollRule | None = None) -> dt.date:
    """First day on which the next contract, not `contract`, is the active one."""
    rule = _resolve(contract, rule)
    return _roll_date(calendar_for(rule), rule, contract)


def next_contract(contract: Contract, rule: RollRule | None = None) -> Contract:
    cal = calendar_for(_resolve(contract, rule))
    return Contract(contract.root, *cal.listed_after(contract.year, contract.month))


def previous_contract(contract: Contract, rule: RollRule | None = None) -> Contract:
    cal = calendar_for(_resolve(contract, rule))
    return Contract(contract.root, *cal.listed_before(contract.year, contract.month))


def active_contract(rule: RollRule, on: dt.date) -> Contract:
    """The nearest listed contract whose roll date is after `on`."""
    cal = calendar_for(rule)
    # A contract of an earlier month has already expired (expiry stays inside the contract month,
    # and the roll date is never after the expiry), so the search starts at `on`'s own month.
    contract = Contract(rule.root, *cal.listed_on_or_after(on.year, on.month))
    while _roll_date(cal, rule, contract) <= on:
        contract = Contract(rule.root, *cal.listed_after(contract.year, contract.month))
    return contract


class Roll(NamedTuple):
    roll_date: dt.date
    from_contract: Contract
    to_contract: Contract


def schedule(rule: RollRule, start: dt.date, end: dt.date) -> list[Roll]:
    """Every roll with start <= roll_date <= end, in date order."""
    cal = calendar_for(rule)
    rolls: list[Roll] = []
    contract = Contract(rule.root, *cal.listed_on_or_after(start.year, start.month))
    while (when := _roll_date(cal, rule, contract)) <= end:
        following = Contract(rule.root, *cal.listed_after(contract.year, contract.month))
        if when >= start:
            rolls.append(Roll(when, contract, following))
        contract = following
    return rolls
