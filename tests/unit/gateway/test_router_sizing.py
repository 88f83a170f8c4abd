"""Sizing modes per venue account: targets, rounding to the lot step with the residual, refusals."""

from __future__ import annotations

from dataclasses import replace

import pytest
from pydantic import TypeAdapter

from nexus_gateway.router.sizing import LegInputs, SizingRefused, size_leg
from nexus_mesh.accounts import EquitySizing, ExposureSizing, FixedSizing, RatioSizing, RiskSizing, Sizing

NQ = LegInputs(quantity=3, qty_factor=1, usd_per_point=20, lot_step=1, min_qty=1, entry_price=21000)
NAS100 = LegInputs(quantity=3, qty_factor=20, usd_per_point=1, lot_step=0.01, min_qty=0.01, entry_price=21000)
MNQ = LegInputs(quantity=1, qty_factor=10, usd_per_point=2, lot_step=1, min_qty=1, entry_price=21000)


def test_exposure_is_the_same_usd_per_point_on_every_account() -> None:
    assert size_leg(ExposureSizing(), NQ).venue_quantity == 3
    assert size_leg(ExposureSizing(), NAS100).venue_quantity == 60  # 60 lots x USD 1 = 3 x USD 20
    mnq = size_leg(ExposureSizing(), MNQ)  # NQ signal on a micro account
    assert (mnq.venue_quantity, mnq.target, mnq.residual) == (10, 1.0, 0.0)


def test_ratio_rounds_down_and_reports_the_residual() -> None:
    half = size_leg(RatioSizing(mode="ratio", ratio=0.5), NQ)  # 1.5 NQ -> 1, 0.5 left out
    assert (half.target, half.venue_quantity, half.residual) == (1.5, 1, 0.5)
    with pytest.raises(SizingRefused, match="below the minimum 1"):
        size_leg(RatioSizing(mode="ratio", ratio=0.1), NQ)


def test_fixed_ignores_the_signal_quantity_and_max_caps_any_mode() -> None:
    fixed = size_leg(FixedSizing(mode="fixed", quantity=2), MNQ)
    assert (fixed.venue_quantity, fixed.target) == (2, pytest.approx(0.2))
    capped = size_leg(ExposureSizing(max_quantity=25), NAS100)
    assert capped.capped and capped.venue_quantity == 25


def test_risk_to_stop_sizes_by_the_distance_to_the_stop() -> None:
    # USD 500 at risk, the stop 10 points away: 2.5 NQ (USD 200 a contract) -> 2; 50 lots of NAS100
    leg = replace(NQ, stop_price=20990)
    got = size_leg(RiskSizing(mode="risk", risk_usd=500), leg)
    assert (got.venue_quantity, got.target, got.residual) == (2, 2.5, 0.5)
    cfd = replace(NAS100, stop_price=21010)
    assert size_leg(RiskSizing(mode="risk", risk_usd=500), cfd).venue_quantity == 50
    with pytest.raises(SizingRefused, match="needs the signal's stop price"):
        size_leg(RiskSizing(mode="risk", risk_usd=500), NQ)
    no_entry = replace(leg, entry_price=None)
    with pytest.raises(SizingRefused, match="needs an entry price"):
        size_leg(RiskSizing(mode="risk", risk_usd=500), no_entry)
    at_entry = replace(NQ, stop_price=21000)
    with pytest.raises(SizingRefused, match="at the entry price"):
        size_leg(RiskSizing(mode="risk", risk_usd=500), at_entry)


def test_equity_scales_with_the_accounts_balance() -> None:
    mode = EquitySizing(mode="equity", reference_equity_usd=100_000)
    rich = replace(NQ, equity_usd=200_000)
    assert size_leg(mode, rich).venue_quantity == 6
    small = replace(NAS100, equity_usd=25_000)
    assert size_leg(mode, small).venue_quantity == 15  # 60 lots x 0.25
    with pytest.raises(SizingRefused, match="has not reported one"):
        size_leg(mode, NQ)
    broke = replace(NQ, equity_usd=-5)
    with pytest.raises(SizingRefused, match=r"equity is USD -5\.00"):
        size_leg(mode, broke)


def test_the_mode_is_read_from_venues_yaml_by_its_name() -> None:
    read = TypeAdapter(Sizing).validate_python
    assert isinstance(read({"mode": "exposure"}), ExposureSizing)
    assert read({"mode": "ratio", "ratio": 2}) == RatioSizing(mode="ratio", ratio=2)
    assert read({"mode": "risk", "risk_usd": 250, "max_quantity": 3}).max_quantity == 3
    for bad in (
        {"mode": "ratio"},
        {"mode": "fixed", "quantity": 0},
        {"mode": "kelly"},
        {"mode": "ratio", "ratio": 1, "x": 1},
    ):
        with pytest.raises(ValueError, match="validation error"):
            read(bad)
