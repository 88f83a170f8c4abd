"""The kill switch's closing orders: one market leg per position, ids derived, routed like a signal."""

from __future__ import annotations

import pytest

from nexus_mesh.adapter import HeldPosition, held
from nexus_mesh.adapter.flatten import FLATTEN_CODE, closing_order, closing_route
from nexus_mesh.config_files import load_symbols
from nexus_protocol.enums import OrderStatus, OrderType, Side
from nexus_protocol.errors import DecodeError
from nexus_protocol.ids import is_signal_id, parse_client_order_id
from nexus_protocol.messages import KillSwitchState
from nexus_testing import REPO_ROOT

REGISTRY = load_symbols(REPO_ROOT / "deploy" / "config")
SWITCH = KillSwitchState(
    on=True, activation="01JD3ZK6Q9X8V7W5T4S3R2P1N0", flatten=True, ts_ns=1_700_000_000_000_000_000
)


def test_a_long_position_is_closed_by_a_reduce_only_market_sell_of_its_own() -> None:
    order = closing_order(HeldPosition("NQ 03-25", 2.0), venue="nt8", switch=SWITCH, registry=REGISTRY)
    assert (order.side, order.venue_quantity, order.order_type, order.reduce_only, order.purpose) == (
        Side.SELL,
        2.0,
        OrderType.MARKET,
        True,
        "flatten",
    )
    assert (order.symbol, order.contract, order.venue_symbol) == ("NQ", "NQH25", "NQ 03-25")
    assert is_signal_id(order.signal_id)
    assert parse_client_order_id(order.client_order_id) == (order.signal_id, FLATTEN_CODE, 0)
    again = closing_order(HeldPosition("NQ 03-25", 2.0), venue="nt8", switch=SWITCH, registry=REGISTRY)
    assert again.client_order_id == order.client_order_id  # derived: applying the switch again finds it


def test_each_position_gets_its_own_leg_and_units_follow_the_registry() -> None:
    cfd = closing_order(HeldPosition("NAS100", -20.0, key="7001"), venue="mt5-global", switch=SWITCH,
                        registry=REGISTRY)  # fmt: skip
    other = closing_order(HeldPosition("NAS100", -20.0, key="7002"), venue="mt5-global", switch=SWITCH,
                          registry=REGISTRY)  # fmt: skip
    assert cfd.side is Side.BUY
    assert cfd.client_order_id != other.client_order_id
    assert cfd.quantity == pytest.approx(20.0 / cfd.qty_factor)


def test_a_symbol_the_registry_does_not_know_is_not_closed() -> None:
    with pytest.raises(DecodeError):
        closing_order(HeldPosition("EURUSD", 1.0), venue="mt5-global", switch=SWITCH, registry=REGISTRY)


def test_the_route_names_the_one_pending_leg() -> None:
    order = closing_order(HeldPosition("NQH25", -1.0), venue="sierra", switch=SWITCH, registry=REGISTRY)
    route = closing_route(order)
    assert (route.signal_id, route.symbol, route.side, route.quantity) == (
        order.signal_id,
        "NQ",
        Side.BUY,
        1.0,
    )
    assert [(leg.venue, leg.client_order_id, leg.status) for leg in route.legs] == [
        ("sierra", order.client_order_id, OrderStatus.PENDING)
    ]


def test_flat_positions_are_left_out() -> None:
    assert held({"NQH25": 0.0, "ESH25": -1.0, "MNQH25": 1e-12}) == [HeldPosition("ESH25", -1.0)]
