"""The adapter's pure translation: mesh orders to order_submit, platform states to reports, markers,
profiles and settings."""

from __future__ import annotations

import pytest

from nexus_mesh.adapter import VenueExecution
from nexus_nt8 import mapping
from nexus_nt8.ati_client import AtiState
from nexus_nt8.config import NT8, QUANTOWER, Nt8Mode, Nt8Settings, profile_for
from nexus_protocol.bridge import ExecutionUpdate, OrderUpdate, Platform, WorkingOrder
from nexus_protocol.enums import OrderStatus, OrderType, Side, TimeInForce
from nexus_protocol.errors import ConfigError, VenueError
from nexus_protocol.messages import VenueOrder

COID = "01JGZ8Y5E3V7Q2M4N6P8R0S2T4.n80"


def _order(**kw: object) -> VenueOrder:
    base: dict[str, object] = dict(
        client_order_id=COID,
        signal_id=COID[:26],
        venue="nt8",
        symbol="NQ",
        side=Side.BUY,
        quantity=2,
        venue_symbol="NQ 03-25",
        venue_quantity=2,
    )
    base.update(kw)
    return VenueOrder(**base)  # type: ignore[arg-type]


def test_order_submit_carries_the_client_order_id_and_platform_naming() -> None:
    msg = mapping.order_submit(_order(order_type=OrderType.LIMIT, limit_price=21000.25), "Sim101", NT8)
    assert (msg.client_order_id, msg.account, msg.instrument, msg.quantity) == (COID, "Sim101", "NQ 03-25", 2)
    assert (msg.order_type, msg.limit_price, msg.stop_price) == (OrderType.LIMIT, 21000.25, None)


@pytest.mark.parametrize(
    ("changes", "match"),
    [
        ({"time_in_force": TimeInForce.FOK}, "time in force fok"),
        ({"venue_quantity": 1.5}, "whole contracts"),
        ({"order_type": OrderType.STOP}, "needs its price"),
        ({"client_order_id": "x" * 51}, "exceeds"),
    ],
)
def test_what_ninjatrader_cannot_express_is_refused_definitively(
    changes: dict[str, object], match: str
) -> None:
    with pytest.raises(VenueError, match=match) as err:
        mapping.order_submit(_order(**changes), "Sim101", NT8)
    assert not err.value.retryable


def test_quantower_takes_fill_or_kill() -> None:
    assert (
        mapping.order_submit(_order(time_in_force=TimeInForce.FOK), "Sim", QUANTOWER).time_in_force
        is TimeInForce.FOK
    )


def _update(status: OrderStatus, filled: int = 0) -> OrderUpdate:
    return OrderUpdate(
        client_order_id=COID,
        account="Sim101",
        platform_order_id="NT-O1",
        status=status,
        filled_quantity=filled,
        avg_fill_price=21000.0 if filled else None,
        time_ns=1,
    )


def test_fills_are_reported_by_executions_not_by_order_states() -> None:
    assert mapping.status_report(_update(OrderStatus.PENDING)) is None
    assert mapping.status_report(_update(OrderStatus.PARTIALLY_FILLED, 1)) is None
    assert mapping.status_report(_update(OrderStatus.FILLED, 2)) is None
    accepted = mapping.status_report(_update(OrderStatus.ACCEPTED))
    assert accepted is not None
    # leaves: the base's, from the order's quantity
    assert (accepted.status, accepted.leaves_qty, accepted.venue_order_id) == (
        OrderStatus.ACCEPTED,
        None,
        "NT-O1",
    )
    cancelled = mapping.status_report(_update(OrderStatus.CANCELLED, 1))
    assert cancelled is not None
    assert (cancelled.status, cancelled.cum_qty, cancelled.leaves_qty) == (OrderStatus.CANCELLED, 1.0, 0.0)
    assert cancelled.fill_id == f"{COID}:cancelled"  # repeats dedupe


def test_a_working_order_is_listed_as_accepted_with_what_has_filled() -> None:
    wo = WorkingOrder(
        client_order_id=COID,
        account="Sim101",
        instrument="NQ 03-25",
        side=Side.BUY,
        quantity=3,
        order_type=OrderType.MARKET,
        time_in_force=TimeInForce.DAY,
        status=OrderStatus.PARTIALLY_FILLED,
        filled_quantity=1,
        avg_fill_price=21000.0,
    )
    rep = mapping.working_report(wo)
    assert (rep.status, rep.cum_qty, rep.leaves_qty) == (OrderStatus.ACCEPTED, 1.0, 2.0)


def test_an_execution_keeps_the_platform_ids_and_leaves_cumulative_figures_to_the_ledger() -> None:
    x = ExecutionUpdate(
        execution_id="NT-X1", account="Sim101", client_order_id=COID, platform_order_id="NT-O1",
        instrument="NQ 03-25", side=Side.BUY, quantity=1, price=21000.25, commission=2.5, time_ns=7,
    )  # fmt: skip
    assert mapping.execution(x) == VenueExecution(
        client_order_id=COID,
        exec_id="NT-X1",
        qty=1.0,
        price=21000.25,
        fee=2.5,
        ts_ns=7,
        venue_order_id="NT-O1",
    )


def test_ati_place_command_and_states() -> None:
    cmd = mapping.place_command(_order(order_type=OrderType.LIMIT, limit_price=21000.25), "Sim101")
    assert (cmd.order_id, cmd.action, cmd.quantity, cmd.order_type, cmd.limit_price, cmd.tif) == (
        COID,
        "BUY",
        2,
        "LIMIT",
        21000.25,
        "DAY",
    )
    with pytest.raises(VenueError, match="DAY, GTC only"):
        mapping.place_command(_order(time_in_force=TimeInForce.IOC), "Sim101")
    assert mapping.ati_execution_id(COID, 2) == f"ati-{COID}-2"
    assert mapping.ati_status(COID, AtiState(OrderStatus.PARTIALLY_FILLED, 1, 21000.0, "")) is None
    refused = mapping.ati_status(COID, AtiState(OrderStatus.REJECTED, 0, 0.0, ""))
    assert refused is not None
    assert (refused.status, refused.leaves_qty, refused.reason) == (
        OrderStatus.REJECTED,
        0.0,
        "rejected by NinjaTrader (the ATI gives no reason)",
    )


def test_marker_carries_execution_id_and_time() -> None:
    assert mapping.parse_marker("1700000000000000000|NT-X7") == ("NT-X7", 1_700_000_000_000_000_000)
    assert mapping.parse_marker("NT|X|7") == ("NT|X|7", None)
    assert mapping.parse_marker(None) == (None, None)


def test_profiles_are_picked_by_venue_name_or_setting() -> None:
    assert profile_for("nt8") is NT8
    assert profile_for("nt8-apex") is NT8
    assert profile_for("quantower") is QUANTOWER
    assert profile_for("prop-desk", Platform.QUANTOWER) is QUANTOWER
    with pytest.raises(ConfigError, match="NX_NT8_PLATFORM"):
        profile_for("prop-desk")
    assert (NT8.instrument_example, QUANTOWER.instrument_example) == ("NQ 03-25", "NQH25")
    assert NT8.ati and not QUANTOWER.ati


def test_settings_keep_the_token_secret_and_require_it_in_bridge_mode() -> None:
    s = Nt8Settings(venue="nt8", nt8_auth_token="s3cr3t")  # type: ignore[arg-type]
    assert "s3cr3t" not in repr(s)
    assert s.account == "Sim101"
    s.check()
    with pytest.raises(ConfigError, match="NX_NT8_AUTH_TOKEN"):
        Nt8Settings(venue="nt8").check()
    with pytest.raises(ConfigError, match="has no ATI"):
        Nt8Settings(venue="quantower", nt8_mode=Nt8Mode.OIF).check()
    Nt8Settings(venue="nt8", nt8_mode=Nt8Mode.OIF).check()  # the ATI needs no token
