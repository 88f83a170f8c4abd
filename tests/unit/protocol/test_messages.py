"""Message models: frozen, strict about unknown fields, with the constraints the stages rely on."""

from __future__ import annotations

import math
from typing import Any

import msgspec
import pytest

from nexus_protocol.codec import InvalidMessage, validated
from nexus_protocol.enums import OrderStatus, OrderType, Severity, Side, TimeInForce
from nexus_protocol.messages import (
    ALL_MESSAGES,
    DeadLetter,
    Event,
    Execution,
    Fill,
    Heartbeat,
    Leg,
    Message,
    Order,
    Signal,
    Tick,
    VenueOrder,
)


def _signal(**kw: Any) -> Signal:
    return Signal(**{"symbol": "NQ", "side": "buy", "quantity": 1} | kw)


def test_every_message_declares_type_and_version() -> None:
    for model in ALL_MESSAGES:
        assert issubclass(model, Message)
        assert model.TYPE
        assert model.TYPE.islower()
        assert isinstance(model.VERSION, int)
        assert model.VERSION >= 1
        assert "TYPE" not in model.__struct_fields__  # class constants, not fields on the wire


def test_signal_defaults_and_coercion_at_the_edge() -> None:
    s = validated(_signal())
    assert s.side is Side.BUY
    assert (s.order_type, s.time_in_force) == (OrderType.MARKET, TimeInForce.DAY)
    assert s.signal_id == ""  # the router assigns one
    assert s.venues == ()
    assert not s.reduce_only
    assert validated(_signal(venues=["sim", "nt8"])).venues == ("sim", "nt8")


@pytest.mark.parametrize(
    "bad",
    [
        {"quantity": 0},
        {"quantity": -1},
        {"confidence": 1.5},
        {"confidence": -0.1},
        {"side": "hold"},
        {"order_type": "iceberg"},
        {"time_in_force": "gtd"},
    ],
)
def test_signal_refuses_at_the_edge(bad: dict[str, Any]) -> None:
    with pytest.raises(InvalidMessage) as err:
        validated(_signal(**bad))
    assert err.value.field == next(iter(bad))


def test_an_unknown_field_is_refused_at_construction() -> None:
    with pytest.raises(TypeError, match="colour"):
        _signal(colour="red")


def test_messages_are_frozen_and_hashable_where_plain() -> None:
    s = _signal()
    with pytest.raises(AttributeError):
        s.quantity = 2  # type: ignore[misc]
    assert hash(s) == hash(_signal())
    assert s.replace(quantity=2).quantity == 2


def test_venue_order_is_an_order_with_its_own_type() -> None:
    vo = VenueOrder(
        client_order_id="c",
        signal_id="s",
        venue="sim",
        symbol="NQ",
        side=Side.SELL,
        quantity=1,
        venue_symbol="NQH25",
        venue_quantity=1,
    )
    assert isinstance(vo, Order)
    assert (Order.TYPE, VenueOrder.TYPE) == ("order", "venue_order")
    with pytest.raises(InvalidMessage):
        validated(
            VenueOrder(
                client_order_id="c",
                signal_id="s",
                venue="sim",
                symbol="NQ",
                side=Side.SELL,
                quantity=1,
                venue_symbol="NQH25",
                venue_quantity=0,
            )
        )


def test_fill_and_execution_carry_nested_legs() -> None:
    fill = validated(
        Fill(
            fill_id="f",
            client_order_id="c",
            signal_id="s",
            venue="sim",
            status="filled",
            venue_symbol="NQH25",
            side="buy",
            last_qty=1,
            last_price=20000.25,
        )
    )
    assert fill.status is OrderStatus.FILLED
    leg = Leg(venue="sim", client_order_id="c", status=OrderStatus.FILLED)
    ex = Execution(
        signal_id="s",
        symbol="NQ",
        side=Side.BUY,
        quantity=1,
        status=OrderStatus.FILLED,
        legs=[msgspec.to_builtins(leg)],  # type: ignore[list-item]
    )
    assert validated(ex).legs == (leg,)


@pytest.mark.parametrize(
    ("quote", "price"),
    [
        ({"last": 10.0, "bid": 9.0, "ask": 11.0}, 10.0),
        ({"bid": 9.0, "ask": 11.0}, 10.0),
        ({"bid": 9.0}, 9.0),
        ({"ask": 11.0}, 11.0),
        ({}, None),
        ({"last": 0.0, "bid": 9.0, "ask": 11.0}, 0.0),  # a zero last is a price, not "missing"
    ],
)
def test_tick_price(quote: dict[str, float], price: float | None) -> None:
    assert Tick(venue="sim", symbol="NQH25", **quote).price == price


def test_event_heartbeat_dead_letter_defaults() -> None:
    ev = Event(kind="roll", source="gateway", message="NQ rolled")
    assert ev.severity is Severity.INFO
    assert ev.data == {}
    hb = Heartbeat(service="router", instance="1", started_ns=1)
    assert (hb.processed, hb.dead_lettered, hb.detail) == (0, 0, {})
    dl = DeadLetter(
        reason="r", stream="nx:{signals}", entry_id="1-0", group="g", consumer="c", fields={"data": b"\xc1"}
    )
    assert dl.fields["data"] == b"\xc1"


def test_enums() -> None:
    assert (Side.BUY.sign, Side.SELL.sign) == (1, -1)
    assert (Side.BUY.opposite, Side.SELL.opposite) == (Side.SELL, Side.BUY)
    terminal = {s for s in OrderStatus if s.terminal}
    assert terminal == {OrderStatus.FILLED, OrderStatus.CANCELLED, OrderStatus.REJECTED, OrderStatus.EXPIRED}
    assert Side("buy") == "buy"  # StrEnum: plain strings on the wire


@pytest.mark.parametrize(
    "bad",
    [
        {"quantity": math.inf},
        {"quantity": math.nan},
        {"limit_price": math.nan},
        {"reference_price": -math.inf},
    ],
)
def test_non_finite_numbers_are_refused(bad: dict[str, Any]) -> None:
    """An infinite quantity passes gt=0 and would crash sizing; a NaN price poisons slippage."""
    with pytest.raises(InvalidMessage, match=r"finite number|> 0"):  # NaN is not > 0 either
        validated(_signal(**bad))
    with pytest.raises(InvalidMessage):
        validated(
            Execution(signal_id="s", symbol="NQ", side=Side.BUY, quantity=1, status=OrderStatus.FILLED,
                      legs=(Leg(venue="sim", client_order_id="c", status="filled", avg_price=math.nan),))
        )  # fmt: skip
