"""The payload models: TradingView's text numbers, strict fields, every problem named by its field."""

from __future__ import annotations

from typing import Any

import pytest

from nexus_ingress.payloads import PayloadError, SignalRequest, TradingViewAlert, parse

ALERT = {"ticker": "NQ1!", "action": "buy", "contracts": "2"}


def fields_of(exc: PayloadError) -> set[str]:
    return {p.field for p in exc.problems}


def test_tradingview_renders_numbers_as_text_and_they_are_read_as_numbers() -> None:
    alert = parse(TradingViewAlert, {**ALERT, "contracts": " 0.5 ", "price": "18250.25", "confidence": "0.8"})
    assert (alert.contracts, alert.price, alert.confidence) == (0.5, 18250.25, 0.8)
    assert parse(TradingViewAlert, {**ALERT, "contracts": 3}).contracts == 3.0


@pytest.mark.parametrize(
    ("body", "fields"),
    [
        ({**ALERT, "contracts": "0"}, {"contracts"}),
        ({**ALERT, "contracts": "-1"}, {"contracts"}),
        ({**ALERT, "contracts": "NaN"}, {"contracts"}),
        ({**ALERT, "contracts": "one"}, {"contracts"}),
        ({**ALERT, "action": "hold"}, {"action"}),
        ({**ALERT, "contract": "1"}, {"contract"}),  # a typo is not dropped silently
        ({"ticker": "NQ1!"}, {"action", "contracts"}),
        ({**ALERT, "market_position": "flatish", "confidence": 2}, {"market_position", "confidence"}),
        ({**ALERT, "idempotency_key": ""}, {"idempotency_key"}),
        ({**ALERT, "idempotency_key": "x" * 256}, {"idempotency_key"}),
        ({**ALERT, "venues": ["sim", "no such/venue"]}, {"venues.1"}),
    ],
)
def test_every_bad_field_is_named(body: dict[str, Any], fields: set[str]) -> None:
    with pytest.raises(PayloadError) as info:
        parse(TradingViewAlert, body)
    assert fields_of(info.value) == fields
    unknown = [p for p in info.value.problems if p.field == "contract"]
    assert all(p.message == "unknown field" for p in unknown)


def test_the_mesh_signal_json_takes_its_signal_id_as_the_idempotency_key() -> None:
    req = parse(SignalRequest, {"symbol": "NQ", "side": "sell", "quantity": 1, "signal_id": "abc"})
    assert req.key() == "abc"
    both = {"symbol": "NQ", "side": "sell", "quantity": 1, "signal_id": "abc", "idempotency_key": "k"}
    assert parse(SignalRequest, both).key() == "k"
    with pytest.raises(PayloadError) as info:
        parse(SignalRequest, {"symbol": "NQ", "side": "SELL", "quantity": float("inf")})
    assert fields_of(info.value) == {"side", "quantity"}


@pytest.mark.parametrize("body", [[], "NQ", None, 1])
def test_a_body_that_is_not_an_object_is_refused(body: Any) -> None:
    with pytest.raises(PayloadError) as info:
        parse(SignalRequest, body)
    assert fields_of(info.value) == {"(body)"}
