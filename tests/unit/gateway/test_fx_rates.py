"""fx without Redis: which rate applies (RateBook), the converted fill, the hold's encoding."""

from __future__ import annotations

from decimal import Decimal

import pytest

from nexus_gateway.fx.config import FxSettings, FxTable
from nexus_gateway.fx.hold import HeldFill, decode_held, encode_held, entry_order
from nexus_gateway.fx.rates import NoRate, Rate, RateBook, usdbrl_from_tick
from nexus_gateway.fx.service import convert
from nexus_mesh.settings import load_settings
from nexus_protocol import ConfigError, Envelope, Event, Fill, OrderStatus, Side, Tick

D = Decimal
S = 1_000_000_000
NOW = 1_750_000_000 * S
SID = "01J0000000000000000000000A"


def fill(currency: str = "BRL", fee: float = 20.0) -> Fill:
    return Fill(
        fill_id="f1",
        client_order_id=f"{SID}.sm0",
        signal_id=SID,
        venue="sim",
        status=OrderStatus.FILLED,
        venue_symbol="WINM25",
        side=Side.BUY,
        last_qty=1,
        last_price=130000.0,
        cum_qty=1,
        fee=fee,
        currency=currency,
        symbol="WIN",
        qty_factor=1.0,
        point_value=0.2,
    )


def wdo_book(max_age_s: float = 120.0) -> RateBook:
    return RateBook(max_age_s=max_age_s, usdbrl_source="wdo")


def test_usd_is_always_one() -> None:
    rate = wdo_book().lookup("usd", NOW)
    assert isinstance(rate, Rate)
    assert rate.usd_rate == 1


def test_brl_missing_then_fresh_then_stale() -> None:
    book = wdo_book()
    missing = book.lookup("BRL", NOW)
    assert isinstance(missing, NoRate)
    assert (missing.reason, missing.pair) == ("missing", "USDBRL")
    assert book.update_usdbrl(D("5.49"), NOW - 10 * S)
    fresh = book.lookup("BRL", NOW)
    assert isinstance(fresh, Rate)
    assert fresh.usd_rate == D("0.182149362477")
    assert fresh.age_s(NOW) == 10
    stale = book.lookup("BRL", NOW + 111 * S)
    assert isinstance(stale, NoRate)
    assert stale.reason == "stale"
    assert stale.age_s == pytest.approx(121)
    assert "121.0 s old (limit 120 s)" in stale.message


def test_an_older_tick_never_moves_the_rate_back() -> None:
    book = wdo_book()
    assert book.update_usdbrl(D("5.49"), NOW)
    assert not book.update_usdbrl(D("5.10"), NOW - S)
    assert not book.update_usdbrl(D("5.10"), NOW)
    assert book.usdbrl is not None
    assert book.usdbrl.quote == D("5.49")


def test_fixed_source_never_ages_and_ignores_market_ticks() -> None:
    book = RateBook(max_age_s=1, usdbrl_source="fixed", fixed_usdbrl=D("5.49"))
    assert not book.update_usdbrl(D("6"), NOW)
    rate = book.lookup("BRL", NOW + 10**6 * S)
    assert isinstance(rate, Rate)
    assert rate.quote == D("5.49")
    with pytest.raises(ValueError, match="needs a rate"):
        RateBook(max_age_s=1, usdbrl_source="fixed")


def test_other_currencies_come_from_the_table_or_name_the_missing_pair() -> None:
    book = RateBook(max_age_s=1, usdbrl_source="wdo", table=FxTable(usd_rates={"eur": D("1.08")}).usd_rates)
    eur = book.lookup("EUR", NOW)
    assert isinstance(eur, Rate)
    assert eur.usd_rate == D("1.08")
    gbp = book.lookup("GBP", NOW)
    assert isinstance(gbp, NoRate)
    assert (gbp.reason, gbp.pair) == ("unknown_pair", "GBPUSD")
    assert "GBPUSD" in gbp.message


def test_table_refuses_usd_brl_and_nonpositive_rates() -> None:
    for bad in ({"BRL": D("0.18")}, {"USD": D(1)}, {"EUR": D(0)}):
        with pytest.raises(ValueError, match=r"configured here|positive"):
            FxTable(usd_rates=bad)


def test_convert_sets_rate_and_fee_in_usd() -> None:
    book = wdo_book()
    book.update_usdbrl(D("5.49"), NOW)
    rate = book.lookup("BRL", NOW)
    assert isinstance(rate, Rate)
    out = convert(fill(fee=20.0), rate)
    assert out.usd_rate == pytest.approx(0.182149362477)
    assert out.fee_usd == 3.64
    assert out.replace(usd_rate=None, fee_usd=None) == fill(fee=20.0)
    usd = convert(fill("USD", fee=2.345), Rate("USD", D(1), "usd"))
    assert (usd.usd_rate, usd.fee_usd) == (1.0, 2.35)


def test_wdo_tick_gives_usdbrl_at_its_origin_time() -> None:
    tick = Tick(venue="sim", symbol="WDO", contract="WDON25", bid=5489.5, ask=5490.5)
    assert usdbrl_from_tick(Envelope.new(tick, id="t1", ts=NOW)) == (D("5.49"), NOW)
    assert usdbrl_from_tick(Envelope.new(Tick(venue="sim", symbol="WDO"), id="t2", ts=NOW)) is None
    assert usdbrl_from_tick(Envelope.new(Event(kind="x", source="y", message="z"), id="e", ts=NOW)) is None


def test_held_entry_round_trips_and_sorts_by_input_entry_id() -> None:
    env = Envelope.new(fill(), id="f1", trace="sig", ts=NOW)
    held = HeldFill(seq="1700000000000-2", held_ns=NOW, envelope=env)
    back = decode_held(encode_held(held))
    assert back == held
    assert back.envelope.body == fill()
    ids = ["1700000000001-0", "1700000000000-10", "1700000000000-9"]
    assert sorted(ids, key=entry_order) == ["1700000000000-9", "1700000000000-10", "1700000000001-0"]
    assert entry_order("garbage") == (0, 0)


def test_settings_fixed_source_needs_a_rate(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NX_FX_SOURCE", "fixed")
    with pytest.raises(ConfigError, match="NX_FX_FIXED_USDBRL"):
        load_settings(FxSettings)
    monkeypatch.setenv("NX_FX_FIXED_USDBRL", "5.49")
    s = load_settings(FxSettings)
    assert (s.service, s.fx_fixed_usdbrl, s.fx_max_age_s) == ("fx", D("5.49"), 120.0)
