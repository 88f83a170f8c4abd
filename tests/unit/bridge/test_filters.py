"""The filters (confidence floor, MQScore gate, noise gate, reduced-size band) and the lot they round to."""

from __future__ import annotations

from pathlib import Path

import pytest

from nexus_bridge.config import BridgeConfig, LotSize
from nexus_bridge.filters import lot_for, screen
from nexus_mesh.config_files import load_symbols
from nexus_protocol import Side, Signal

CFG = BridgeConfig()
FUT = LotSize(step=1.0)
ROOT = Path(__file__).resolve().parents[3]


def sig(
    confidence: float | None = 0.8,
    quantity: float = 2,
    mqscore: float | None = None,
    noise: float | None = None,
) -> Signal:
    return Signal(
        signal_id="01JQ0000000000000000000000",
        symbol="NQ",
        side=Side.BUY,
        quantity=quantity,
        confidence=confidence,
        mqscore=mqscore,
        noise=noise,
    )


@pytest.mark.parametrize(
    ("confidence", "expected"), [(0.64, None), (0.65, 1.0), (0.74, 1.0), (0.75, 2.0), (1.0, 2.0)]
)
def test_confidence_floor_and_reduced_size_band(confidence: float, expected: float | None) -> None:
    out = screen(sig(confidence), CFG, FUT)
    if expected is None:
        assert out.signal is None and out.refusal is not None
        assert out.refusal.event_data() == {"filter": "confidence", "value": confidence, "threshold": 0.65}
    else:
        assert out.signal is not None and out.signal.quantity == expected
        assert (out.resized_from is not None) == (expected != 2.0)


def test_half_of_one_contract_is_less_than_a_lot_and_skips() -> None:
    out = screen(sig(0.7, quantity=1), CFG, FUT)
    assert out.refusal is not None and out.refusal.check == "min_quantity"
    assert out.refusal.value == 0.5 and out.refusal.threshold == 1.0


def test_half_size_rounds_down_to_the_lot() -> None:
    assert screen(sig(0.7, quantity=3), CFG, FUT).signal.quantity == 1  # type: ignore[union-attr]
    assert screen(sig(0.7, quantity=0.03), CFG, LotSize(step=0.01)).signal.quantity == 0.01  # type: ignore[union-attr]


def test_mqscore_and_noise_gates() -> None:
    low = screen(sig(mqscore=0.49), CFG, FUT).refusal
    assert low is not None and (low.check, low.value, low.threshold) == ("mqscore", 0.49, 0.5)
    assert screen(sig(mqscore=0.5), CFG, FUT).signal is not None
    noisy = screen(sig(mqscore=0.9, noise=0.71), CFG, FUT).refusal
    assert noisy is not None and (noisy.check, noisy.value, noisy.threshold) == ("noise", 0.71, 0.7)
    assert screen(sig(noise=0.7), CFG, FUT).signal is not None


def test_quality_gate_comes_before_the_size_band() -> None:
    out = screen(sig(0.7, quantity=1, mqscore=0.1), CFG, FUT)
    assert out.refusal is not None and out.refusal.check == "mqscore"


def test_missing_confidence_skips_and_missing_mqscore_only_when_required() -> None:
    assert screen(sig(None), CFG, FUT).refusal is not None
    assert screen(sig(mqscore=None), CFG, FUT).signal is not None
    strict = BridgeConfig(require_mqscore=True)
    refusal = screen(sig(mqscore=None), strict, FUT).refusal
    assert refusal is not None and refusal.check == "mqscore"


def test_lot_from_the_registry_is_the_largest_venue_lot() -> None:
    reg = load_symbols(ROOT / "deploy" / "config")
    assert lot_for(reg, "NQ", {}).step == 1.0  # the futures venues, not the 0.01-lot CFD
    assert lot_for(reg, "XAUUSD", {}).step == 0.01
    assert lot_for(reg, "NOPE", {}) == LotSize()
    assert lot_for(reg, "NQ", {"NQ": LotSize(step=2)}).step == 2
