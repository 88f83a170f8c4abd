"""Symbology against the shipped registry: venue spellings, parsing back, sizing, and config errors."""

from __future__ import annotations

import datetime as dt
import math
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from nexus_protocol.errors import ConfigError, DecodeError
from nexus_protocol.symbols import Contract, SymbolRegistry, round_to_step

REGISTRY_PATH = Path(__file__).parents[3] / "deploy/config/symbols.yaml"
REGISTRY = SymbolRegistry.from_yaml(REGISTRY_PATH.read_text(), source=str(REGISTRY_PATH))
PROPS = settings(max_examples=150, deadline=None)
NQH25 = Contract("NQ", 2025, 3)
PAIRS = sorted((root, venue) for root, spec in REGISTRY.symbols.items() for venue in spec.venues)


# --- spelling and parsing ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("root", "code", "venue", "expected"),
    [
        ("NQ", "NQH25", "nt8", "NQ 03-25"),
        ("NQ", "NQH25", "sierra", "NQH25"),
        ("NQ", "NQH25", "quantower", "NQH25"),
        ("NQ", "NQH25", "bookmap", "NQH5"),
        ("NQ", "NQH25", "mt5-global", "NAS100"),
        ("ES", "ESZ30", "nt8", "ES 12-30"),
        ("WIN", "WINZ25", "mt5-brazil", "WINZ25"),
        ("WDO", "WDOF26", "mt5-brazil", "WDOF26"),
    ],
)
def test_venue_symbol(root: str, code: str, venue: str, expected: str) -> None:
    assert REGISTRY.venue_symbol(root, venue, Contract.parse(code)) == expected


def test_fixed_instruments_need_no_contract() -> None:
    assert REGISTRY.venue_symbol("NQ", "mt5-global") == "NAS100"
    assert REGISTRY.venue_symbol("XAUUSD", "mt5-global") == "XAUUSD"


def test_active_symbols_spell_each_root_in_its_active_contract() -> None:
    symbols, waiting = REGISTRY.active_symbols("mt5-global", {"NQ": "NQZ26"})
    assert symbols[:2] == ["NAS100", "US500"] and waiting == []  # CFDs need no contract
    assert REGISTRY.active_symbols("nt8", {"NQ": "NQZ26", "ES": "ESH27"}) == (
        ["NQ 12-26", "ES 03-27"],
        ["MNQ", "MES"],  # no active contract yet: ask again once the rollover has published
    )
    assert REGISTRY.active_symbols("bookmap", {"NQ": "NQZ26"}) == (["NQZ6"], [])


def test_venue_symbol_refusals() -> None:
    with pytest.raises(DecodeError, match="needs an active contract"):
        REGISTRY.venue_symbol("NQ", "nt8")
    with pytest.raises(DecodeError, match="not a NQ contract") as info:
        REGISTRY.venue_symbol("NQ", "nt8", Contract("ES", 2025, 3))
    assert info.value.field == "contract"
    with pytest.raises(DecodeError, match="not traded on venue 'mt5-brazil'"):
        REGISTRY.venue_symbol("NQ", "mt5-brazil", NQH25)
    with pytest.raises(DecodeError, match="unknown symbol 'ZZ'"):
        REGISTRY.venue_symbol("ZZ", "sim")


def test_normalize_and_parse_back() -> None:
    assert REGISTRY.normalize("NQ 03-25") == "NQ"
    assert REGISTRY.normalize("NAS100") == "NQ"
    assert REGISTRY.normalize("WINZ25", "mt5-brazil") == "WIN"
    assert REGISTRY.normalize("MNQM25") == "MNQ"  # not NQ: patterns match the whole symbol
    assert REGISTRY.parse("NQ 03-25", "nt8") == ("NQ", NQH25)
    assert REGISTRY.parse("NQH25", "sierra") == ("NQ", NQH25)
    assert REGISTRY.parse("WINZ25", "mt5-brazil") == ("WIN", Contract("WIN", 2025, 12))
    assert REGISTRY.parse("NAS100", "mt5-global") == ("NQ", None)
    assert REGISTRY.parse("NQH5", "bookmap", today=dt.date(2025, 1, 10)) == ("NQ", NQH25)


def test_one_digit_year_is_the_nearest_one_not_long_past() -> None:
    on = dt.date(2029, 11, 1)
    assert REGISTRY.parse("NQH9", "bookmap", today=on)[1] == Contract("NQ", 2029, 3)
    assert REGISTRY.parse("NQH7", "bookmap", today=on)[1] == Contract("NQ", 2027, 3)  # two years back
    assert REGISTRY.parse("NQH0", "bookmap", today=on)[1] == Contract("NQ", 2030, 3)
    assert REGISTRY.parse("NQH6", "bookmap", today=on)[1] == Contract("NQ", 2036, 3)
    # across a decade boundary: a year ago is 2029, not 2039
    assert REGISTRY.parse("NQZ9", "bookmap", today=dt.date(2030, 1, 5))[1] == Contract("NQ", 2029, 12)
    assert REGISTRY.parse("NQH8", "bookmap", today=dt.date(2030, 1, 5))[1] == Contract("NQ", 2028, 3)
    assert REGISTRY.parse("NQH7", "bookmap", today=dt.date(2030, 1, 5))[1] == Contract("NQ", 2037, 3)


@pytest.mark.parametrize(
    ("symbol", "venue"),
    [
        ("NQH25\n", None),
        ("NQH25", "nt8"),
        ("NQ 13-25", "nt8"),
        ("NQ 00-25", "nt8"),
        ("NAS100 ", None),
        ("nqh25", None),
        ("NQ", None),
        ("", None),
        ("NQH25", "nope"),
    ],
)
def test_parse_refuses(symbol: str, venue: str | None) -> None:
    with pytest.raises(DecodeError):
        REGISTRY.parse(symbol, venue, today=dt.date(2025, 1, 1))


def test_contract_code() -> None:
    assert Contract.parse("NQH25") == NQH25
    assert NQH25.code == str(NQH25) == "NQH25"
    assert NQH25.month_code == "H"
    assert Contract.parse("WDOF26") == Contract("WDO", 2026, 1)
    assert Contract("NQ", 2025, 3) < Contract("NQ", 2025, 6) < Contract("NQ", 2026, 3)
    for bad in ("NQH25\n", "NQA25", "NQH2", "H25", "nqh25"):
        with pytest.raises(DecodeError):
            Contract.parse(bad)
    with pytest.raises(DecodeError, match="month"):
        Contract("NQ", 2025, 13)


CONTRACT_YEARS = st.integers(min_value=2020, max_value=2035)


@PROPS
@given(pair=st.sampled_from(PAIRS), year=CONTRACT_YEARS, month=st.integers(1, 12), data=st.data())
def test_parse_inverts_venue_symbol(
    pair: tuple[str, str], year: int, month: int, data: st.DataObject
) -> None:
    root, venue = pair
    contract = Contract(root, year, month)
    # A one-digit year ({y}, Bookmap) names a year in [today - 2, today + 7]: today must be near.
    today = data.draw(st.dates(dt.date(year - 7, 1, 1), dt.date(year + 2, 12, 31)), label="today")
    symbol = REGISTRY.venue_symbol(root, venue, contract)
    expected = (root, contract if REGISTRY.venue_spec(root, venue).dated else None)
    assert REGISTRY.parse(symbol, venue, today=today) == expected
    assert REGISTRY.parse(symbol, today=today) == expected  # and no other root or venue claims it
    assert REGISTRY.normalize(symbol, venue) == root


def test_every_root_has_venues_and_roots_for() -> None:
    assert all(spec.venues for spec in REGISTRY.symbols.values())
    assert REGISTRY.roots_for("mt5-brazil") == ["WIN", "WDO"]
    assert "NQ" in REGISTRY.roots_for("bookmap")


# --- sizing -------------------------------------------------------------------------------------------


def test_nq_on_mt5_global_is_20_lots_of_nas100() -> None:
    spec = REGISTRY.spec("NQ")
    assert spec.qty_factor("mt5-global") == 20
    assert spec.venue_point_value("mt5-global") == 1.0
    assert spec.venue_currency("mt5-global") == "USD"
    sized = REGISTRY.size("NQ", "mt5-global", 1)
    assert (sized.venue_quantity, sized.residual) == (20, 0)
    sized = REGISTRY.size("NQ", "mt5-global", 0.1234)  # 2.468 lots, lot step 0.01
    assert sized.venue_quantity == 2.46
    assert sized.residual == pytest.approx(0.0004, abs=1e-12)


def test_lot_step_rounding_reports_the_residual() -> None:
    sized = REGISTRY.size("WIN", "mt5-brazil", 1.5)
    assert (sized.venue_quantity, sized.residual) == (1, 0.5)
    assert REGISTRY.spec("WIN").venue_currency("mt5-brazil") == "BRL"
    tiny = REGISTRY.size("NQ", "mt5-global", 0.0004)  # under one lot step: nothing sent, all reported
    assert (tiny.venue_quantity, tiny.residual) == (0, 0.0004)
    with pytest.raises(DecodeError, match="not traded on venue"):
        REGISTRY.size("NQ", "mt5-brazil", 1)


@pytest.mark.parametrize(
    ("quantity", "step", "expected"),
    [
        (0.29, 0.01, 0.29),
        (2.468, 0.01, 2.46),
        (7, 5, 5),
        (1e-12, 0.01, 0),
        (3, 1, 3),
        (0.75, 0.25, 0.75),
    ],
)
def test_round_to_step(quantity: float, step: float, expected: float) -> None:
    assert round_to_step(quantity, step) == expected


@PROPS
@given(pair=st.sampled_from(PAIRS), quantity=st.floats(min_value=0.0001, max_value=10_000))
def test_sizing_keeps_exposure_and_never_exceeds_it(pair: tuple[str, str], quantity: float) -> None:
    root, venue = pair
    spec = REGISTRY.spec(root)
    factor = spec.qty_factor(venue)
    step = spec.venues[venue].lot_step
    assert spec.venue_point_value(venue) * factor == pytest.approx(spec.point_value)  # same USD per point
    sized = REGISTRY.size(root, venue, quantity)
    steps = sized.venue_quantity / step
    assert steps == pytest.approx(round(steps), abs=1e-6)  # a whole number of lot steps
    assert sized.venue_quantity <= quantity * factor * (1 + 1e-9)  # never more exposure than asked
    assert sized.venue_quantity / factor + sized.residual == pytest.approx(quantity, rel=1e-9, abs=1e-9)
    assert -1e-9 <= sized.residual < step / factor + 1e-9


# --- configuration errors -----------------------------------------------------------------------------

NQ_YAML = """
symbols:
  NQ:
    exchange: CME
    currency: USD
    tick_size: {tick}
    point_value: 20.0
    calendar: {calendar}
    venues:
      nt8: {{pattern: "{pattern}", lot_step: {step}}}
"""


def _yaml(
    tick: str = "0.25", calendar: str = "cme_quarterly", pattern: str = "{root} {mm}-{yy}", step: str = "1"
) -> str:
    return NQ_YAML.format(tick=tick, calendar=calendar, pattern=pattern, step=step)


def test_the_template_is_valid() -> None:
    assert SymbolRegistry.from_yaml(_yaml()).venue_symbol("NQ", "nt8", NQH25) == "NQ 03-25"


def test_malformed_yaml() -> None:
    with pytest.raises(ConfigError, match=r"^my\.yaml: not valid YAML"):
        SymbolRegistry.from_yaml("symbols: [NQ\n  exchange: : :", source="my.yaml")


@pytest.mark.parametrize(
    ("text", "path"),
    [
        (_yaml(tick="abc"), "symbols.NQ.tick_size"),
        (_yaml(tick="-1"), "symbols.NQ.tick_size"),
        (_yaml(step="[1]"), "symbols.NQ.venues.nt8.lot_step"),
        (_yaml(calendar="weekly"), "symbols.NQ.calendar"),
        (_yaml().replace("exchange: CME", "exchange: CME\n    colour: red"), "symbols.NQ.colour"),
        (_yaml().replace("    currency: USD\n", ""), "symbols.NQ.currency"),
        ("symbols:\n  NQ: [1, 2]\n", "symbols.NQ"),
    ],
)
def test_wrong_field_names_the_path(text: str, path: str) -> None:
    with pytest.raises(ConfigError, match=rf"^symbols\.yaml: {path}: "):
        SymbolRegistry.from_yaml(text)


@pytest.mark.parametrize(
    ("pattern", "calendar", "words"),
    [
        ("{root}{month_code}{yy}", "none", "is dated but NQ has no calendar"),
        ("{root}{month}{yy}", "cme_quarterly", "unknown placeholder"),
        ("{root}{yy}", "cme_quarterly", "exactly one month and one year"),
        ("{root}{mm}", "cme_quarterly", "exactly one month and one year"),
        ("{root}{mm}{month_code}{yy}", "cme_quarterly", "exactly one month and one year"),
        ("{root}{month_code}{yy}{yy}", "cme_quarterly", "appears twice"),
    ],
)
def test_patterns_are_checked_on_load(pattern: str, calendar: str, words: str) -> None:
    with pytest.raises(ConfigError, match=r"symbols\.NQ\.venues\.nt8\.pattern") as info:
        SymbolRegistry.from_yaml(_yaml(pattern=pattern, calendar=calendar))
    assert words in str(info.value)


@pytest.mark.parametrize("text", ["", "[]", "symbols: 3", "42"])
def test_not_a_registry_at_all(text: str) -> None:
    with pytest.raises(ConfigError, match=r"^symbols\.yaml: "):
        SymbolRegistry.from_yaml(text)


def test_registry_file_loads() -> None:
    assert set(REGISTRY.symbols) >= {"NQ", "MNQ", "ES", "MES", "WIN", "WDO", "US30", "XAUUSD", "BTCUSD"}
    assert math.isclose(REGISTRY.spec("WIN").point_value, 0.2)
