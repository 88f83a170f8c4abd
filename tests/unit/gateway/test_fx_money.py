"""Money helpers of fx (nexus_gateway.fx.money): Decimal conversion to USD, cents half-up."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from nexus_gateway.fx.money import (
    decimal_of,
    round_cents,
    to_usd,
    usd_per_unit,
    usdbrl_from_wdo,
    wire_rate,
)

D = Decimal


def test_seed_example_100_win_points_is_usd_3_64_at_usdbrl_5_49() -> None:
    brl = D(100) * D("0.20") * 1  # 100 WIN points x BRL 0.20 per point per contract x 1 contract
    assert brl == D("20.00")
    assert D(20) / D("5.49") == pytest.approx(D("3.6429"), abs=D("0.0001"))
    assert to_usd(brl, "BRL", usd_per_unit(D("5.49"))) == D("3.64")


def test_wdo_price_is_brl_per_usd_1000() -> None:
    assert usdbrl_from_wdo(5490.0) == D("5.49")
    assert usdbrl_from_wdo(D("5432.5")) == D("5.4325")
    with pytest.raises(ValueError, match="positive"):
        usdbrl_from_wdo(0.0)
    with pytest.raises(ValueError, match="finite"):
        usdbrl_from_wdo(float("nan"))


def test_rounding_is_half_up_away_from_zero_on_a_tie() -> None:
    assert round_cents(D("2.345")) == D("2.35")
    assert round_cents(D("-2.345")) == D("-2.35")
    assert round_cents(D("2.3449")) == D("2.34")
    assert to_usd(D("0.125"), "USD", D(1)) == D("0.13")


def test_usd_converts_at_one_only() -> None:
    assert to_usd(D("1.005"), "usd", D(1)) == D("1.01")
    with pytest.raises(ValueError, match="converts at 1"):
        to_usd(D(1), "USD", D("0.5"))
    with pytest.raises(ValueError, match="positive"):
        to_usd(D(1), "BRL", D(0))
    with pytest.raises(ValueError, match="positive"):
        to_usd(D(1), "BRL", D("NaN"))


def test_wire_rate_keeps_twelve_significant_digits_and_survives_a_float() -> None:
    rate = usd_per_unit(D("5.49"))
    assert rate == D("0.182149362477")
    assert decimal_of(float(rate)) == rate
    assert wire_rate(D("0.0000612345678912345")) == D("0.0000612345678912")
    assert wire_rate(D("1.000")) == D(1)


def test_decimal_of_reads_floats_as_printed() -> None:
    assert decimal_of(0.2) == D("0.2")
    assert decimal_of(3) == D(3)
    with pytest.raises(ValueError, match="finite"):
        decimal_of(float("inf"))


@given(
    amount=st.decimals(min_value=D("-1e7"), max_value=D("1e7"), places=2, allow_nan=False),
    quote=st.decimals(min_value=D("0.5"), max_value=D("50"), places=4, allow_nan=False),
)
def test_a_stage_reading_the_wire_rate_gets_the_same_cents(amount: Decimal, quote: Decimal) -> None:
    """fx converts with the Decimal rate; the aggregator with the float on the fill: same cents,
    and within a cent of dividing by the quote directly."""
    rate = usd_per_unit(quote)
    ours = to_usd(amount, "BRL", rate)
    assert to_usd(amount, "BRL", decimal_of(float(rate))) == ours
    assert abs(ours - amount / quote) <= D("0.005") + D("1e-6")
