"""Contract calendars and roll dates (nexus_gateway.rollover.calendar), against exchange_calendars."""

from __future__ import annotations

import datetime as dt

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from nexus_gateway.rollover.calendar import (
    DEFAULT_RULES,
    ExchangeDays,
    Roll,
    RollRule,
    active_contract,
    calendar_for,
    exchange_days,
    expiry,
    next_contract,
    preload,
    previous_contract,
    roll_date,
    schedule,
)
from nexus_protocol.errors import ConfigError
from nexus_protocol.symbols import Contract

pytestmark = pytest.mark.unit

D = dt.date.fromisoformat
C = Contract.parse
NQ, WIN, WDO = DEFAULT_RULES["NQ"], DEFAULT_RULES["WIN"], DEFAULT_RULES["WDO"]

# Building the calendars takes a second or two; do it once, before any (timed) test runs.
preload(DEFAULT_RULES.values())


# --- contracts -------------------------------------------------------------------------------


def test_contract_code_round_trip() -> None:
    c = C("NQH25")
    assert (c.root, c.year, c.month) == ("NQ", 2025, 3)
    assert c.code == "NQH25"
    assert C("MNQZ30") == Contract("MNQ", 2030, 12)
    assert Contract("WDO", 2026, 1).code == "WDOF26"


# --- CME equity index quarterlies ----------------------------------------------------------------


def test_nq_active_before_and_after_the_march_2025_roll() -> None:
    assert active_contract(NQ, D("2025-03-01")) == C("NQH25")
    assert roll_date(C("NQH25")) == D("2025-03-13")  # the Thursday 8 calendar days before expiry
    assert active_contract(NQ, D("2025-03-12")) == C("NQH25")
    assert active_contract(NQ, D("2025-03-13")) == C("NQM25")
    assert active_contract(NQ, D("2025-03-21")) == C("NQM25")


def test_nq_expiry_is_the_third_friday() -> None:
    assert expiry(C("NQH25")) == D("2025-03-21")
    assert expiry(C("NQM25")) == D("2025-06-20")
    assert expiry(C("ESU25")) == D("2025-09-19")
    assert expiry(C("MESZ25")) == D("2025-12-19")


@pytest.mark.parametrize(
    ("code", "expected", "why"),
    [
        ("ESH08", "2008-03-20", "Good Friday 2008-03-21: CME and NYSE closed"),
        ("NQM26", "2026-06-18", "Juneteenth 2026-06-19: NYSE closed, CME Globex open"),
        ("MNQM27", "2027-06-17", "Juneteenth observed on Friday 2027-06-18"),
    ],
)
def test_cme_expiry_moves_back_when_the_third_friday_is_a_holiday(code: str, expected: str, why: str) -> None:
    assert expiry(C(code)) == D(expected), why
    third_friday = D(expected) + dt.timedelta(days=1)
    assert not exchange_days("XNYS").is_business_day(third_friday)


def test_juneteenth_is_a_cme_session_but_not_a_nyse_one() -> None:
    # Why the expiry checks XNYS too: CMES alone would keep NQM26 on the 19th.
    assert exchange_days("CMES").is_business_day(D("2026-06-19"))
    assert not exchange_days("XNYS").is_business_day(D("2026-06-19"))


def test_nq_schedule_over_2025_has_four_rolls() -> None:
    rolls = schedule(NQ, D("2025-01-01"), D("2025-12-31"))
    assert rolls == [
        Roll(D("2025-03-13"), C("NQH25"), C("NQM25")),
        Roll(D("2025-06-12"), C("NQM25"), C("NQU25")),
        Roll(D("2025-09-11"), C("NQU25"), C("NQZ25")),
        Roll(D("2025-12-11"), C("NQZ25"), C("NQH26")),
    ]
    assert all(r.roll_date.weekday() == 3 for r in rolls)  # Thursdays


def test_schedule_bounds_are_inclusive() -> None:
    assert [r.roll_date for r in schedule(NQ, D("2025-03-13"), D("2025-06-12"))] == [
        D("2025-03-13"),
        D("2025-06-12"),
    ]
    assert schedule(NQ, D("2025-03-14"), D("2025-06-11")) == []


def test_next_and_previous_contract_follow_the_listed_cycle() -> None:
    assert next_contract(C("NQZ25")) == C("NQH26")
    assert previous_contract(C("NQH26")) == C("NQZ25")
    assert next_contract(C("WINZ25")) == C("WING26")
    assert next_contract(C("WDOF26")) == C("WDOG26")
    assert previous_contract(C("WDOF26")) == C("WDOZ25")


# --- B3 -----------------------------------------------------------------------------------------


def test_win_december_2025() -> None:
    assert expiry(C("WINZ25")) == D("2025-12-17")  # the Wednesday closest to the 15th
    assert active_contract(WIN, D("2025-12-01")) == C("WINZ25")
    assert roll_date(C("WINZ25")) == D("2025-12-12")
    assert active_contract(WIN, D("2025-12-12")) == C("WING26")


@pytest.mark.parametrize(
    ("code", "expected"),
    [
        ("WINV25", "2025-10-15"),  # the 15th itself is a Wednesday
        ("WINJ25", "2025-04-16"),  # 15th is a Tuesday -> Wednesday after
        ("WINQ25", "2025-08-13"),  # 15th is a Friday -> Wednesday before
        ("WINM25", "2025-06-18"),  # 15th is a Sunday -> Wednesday after (+3)
    ],
)
def test_win_expiry_is_the_wednesday_closest_to_the_15th(code: str, expected: str) -> None:
    assert expiry(C(code)) == D(expected)


def test_win_expiry_moves_to_the_next_session_on_a_holiday() -> None:
    # 2022-10-12 (Nossa Senhora Aparecida) fell on the Wednesday.
    assert not exchange_days("BVMF").is_business_day(D("2022-10-12"))
    assert expiry(C("WINV22")) == D("2022-10-13")


def test_win_roll_skips_carnival() -> None:
    # WING24 expired on Ash Wednesday 2024-02-14 (a late-opening session); Carnival Monday and
    # Tuesday are not sessions, so three sessions back is the previous Wednesday.
    assert expiry(C("WING24")) == D("2024-02-14")
    assert roll_date(C("WING24")) == D("2024-02-07")


def test_wdo_active_in_december_2025_is_january_2026() -> None:
    for day in ("2025-12-01", "2025-12-15", "2025-12-26"):
        assert active_contract(WDO, D(day)) == C("WDOF26"), day
    # New Year's Day is a holiday and B3 is closed on 12-31: expiry 01-02, roll two sessions before.
    assert expiry(C("WDOF26")) == D("2026-01-02")
    assert roll_date(C("WDOF26")) == D("2025-12-29")
    assert active_contract(WDO, D("2025-12-29")) == C("WDOG26")


def test_wdo_expiry_after_carnival() -> None:
    # 2025-03-01 is a Saturday and 03-03/03-04 are Carnival: the first session is Ash Wednesday.
    assert expiry(C("WDOH25")) == D("2025-03-05")
    assert roll_date(C("WDOH25")) == D("2025-02-27")


def test_consciencia_negra_is_a_b3_holiday() -> None:
    bvmf = exchange_days("BVMF")
    assert not bvmf.is_business_day(D("2025-11-20"))
    assert bvmf.shift(D("2025-11-19"), 1) == D("2025-11-21")
    assert bvmf.shift(D("2025-11-21"), -1) == D("2025-11-19")


# --- rules --------------------------------------------------------------------------------------


def test_rule_defaults_by_kind() -> None:
    assert (NQ.exchange_calendar, NQ.settlement_calendar, NQ.roll_business_days_before) == ("CMES", "XNYS", 6)
    assert (WIN.exchange_calendar, WIN.roll_business_days_before) == ("BVMF", 3)
    assert (WDO.exchange_calendar, WDO.roll_business_days_before) == ("BVMF", 2)


def test_rule_from_a_registry_entry_overrides_the_defaults() -> None:
    entry = {
        "exchange": "CME",
        "currency": "USD",
        "calendar": "cme_quarterly",
        "exchange_calendar": "CMES",
        "roll_business_days_before": 4,
    }
    rule = RollRule.from_registry("NQ", entry)
    assert rule.roll_business_days_before == 4
    assert rule.settlement_calendar == "XNYS"
    assert roll_date(C("NQH25"), rule) == D("2025-03-17")  # the Monday before expiry
    assert active_contract(rule, D("2025-03-14")) == C("NQH25")


def test_rule_is_frozen_and_validated() -> None:
    with pytest.raises(ValueError, match="frozen"):
        NQ.root = "ES"  # type: ignore[misc]
    with pytest.raises(ValueError, match="greater than or equal to 0"):
        RollRule.model_validate({"root": "NQ", "calendar": "cme_quarterly", "roll_business_days_before": -1})
    with pytest.raises(ValueError, match="calendar"):
        RollRule.model_validate({"root": "NQ", "calendar": "monthly"})


def test_spot_rules_have_no_contracts() -> None:
    spot = RollRule.model_validate({"root": "BTCUSD", "calendar": "none"})
    assert not spot.dated
    with pytest.raises(ConfigError, match="no dated contracts"):
        active_contract(spot, D("2025-01-01"))


def test_misuse_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="not 1"):
        expiry(C("NQF25"))  # January is not listed for NQ
    with pytest.raises(ConfigError, match="rule for WIN"):
        roll_date(C("NQH25"), WIN)
    with pytest.raises(ConfigError, match="no default roll rule"):
        expiry(C("CLZ25"))
    bogus = RollRule.model_validate({"root": "NQ", "calendar": "cme_quarterly", "exchange_calendar": "NOPE"})
    with pytest.raises(ConfigError, match="unknown exchange calendar"):
        calendar_for(bogus)


def test_weekdays_stand_in_outside_the_built_range() -> None:
    days = ExchangeDays("TEST", [D("2025-01-02")], D("2025-01-01"), D("2025-01-31"))
    assert not days.is_business_day(D("2025-01-03"))  # inside: only listed sessions count
    assert days.is_business_day(D("2025-02-03"))  # outside: a Monday
    assert not days.is_business_day(D("2025-02-01"))  # outside: a Saturday


# --- properties ---------------------------------------------------------------------------------

DAYS = st.dates(min_value=D("2024-01-01"), max_value=D("2030-12-31"))
RULES = st.sampled_from(sorted(DEFAULT_RULES.values(), key=lambda r: r.root))


@settings(max_examples=300, deadline=None)
@given(rule=RULES, on=DAYS)
def test_active_contract_brackets_the_date(rule: RollRule, on: dt.date) -> None:
    active = active_contract(rule, on)
    assert roll_date(active, rule) > on
    assert roll_date(previous_contract(active, rule), rule) <= on
    assert roll_date(active, rule) <= expiry(active, rule)


@settings(max_examples=200, deadline=None)
@given(rule=RULES, on=DAYS)
def test_expiry_and_roll_are_business_days_in_the_contract_month(rule: RollRule, on: dt.date) -> None:
    active = active_contract(rule, on)
    cal = calendar_for(rule)
    last = expiry(active, rule)
    assert active.month in cal.listed_months
    assert (last.year, last.month) == (active.year, active.month)
    assert cal.days.is_business_day(last)
    assert cal.days.is_business_day(roll_date(active, rule))


@settings(max_examples=50, deadline=None)
@given(rule=RULES, start=DAYS, span=st.integers(min_value=0, max_value=800))
def test_schedule_agrees_with_active_contract(rule: RollRule, start: dt.date, span: int) -> None:
    end = start + dt.timedelta(days=span)
    current = active_contract(rule, start)
    for roll in schedule(rule, start, end):
        assert start <= roll.roll_date <= end
        assert active_contract(rule, roll.roll_date - dt.timedelta(days=1)) == roll.from_contract
        assert active_contract(rule, roll.roll_date) == roll.to_contract
        assert next_contract(roll.from_contract, rule) == roll.to_contract
        current = roll.to_contract
    assert active_contract(rule, end) == current
