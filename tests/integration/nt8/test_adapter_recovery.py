"""Recovery through the bridge: a connection lost between submit and fill, the adapter SIGKILLed between
submit and fill (and between two partial fills), garbage frames, a silent platform. In every case the
order is placed once at the platform and its fill is on nx:fills:raw exactly once."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from nexus_nt8.simulator import BridgeSimulator, Fault, SimPlatform
from nexus_protocol import OrderStatus
from nexus_protocol.enums import OrderType
from nexus_testing import REPO_ROOT, wait_for

Rig = Any  # tests/integration/nt8/conftest.py: Rig (test modules cannot import each other)


def _placed_once(rig: Rig, coid: str) -> None:
    assert [o.client_order_id for o in rig.sim.venue.orders()] == [coid], (
        "placed exactly once at the platform"
    )
    assert len(rig.filled(coid)) == 1, rig.fills(coid)


@pytest.mark.parametrize(
    ("venue", "fault"),
    [
        ("nt8", Fault.DROP_AFTER_SUBMIT),
        ("nt8", Fault.DROP_BEFORE_FILL),
        ("quantower", Fault.DROP_BEFORE_FILL),
    ],
)
def test_disconnect_between_submit_and_fill_is_reconciled_by_client_order_id(
    rig_factory: Callable[..., Rig], venue: str, fault: Fault
) -> None:
    rig = rig_factory(venue)
    rig.wait_connected()
    rig.sim.set_price(rig.instrument, 21000.0)
    rig.sim.arm(fault)
    order = rig.order(qty=3)
    rig.send(order)
    wait_for(
        lambda: rig.filled(order.client_order_id), timeout_s=15, what="the fill, recovered after the drop"
    )
    assert rig.sim.connections >= 2
    assert any(c.startswith("fault:") for c in rig.sim.closes)
    _placed_once(rig, order.client_order_id)
    [fill] = rig.filled(order.client_order_id)
    assert (fill.last_qty, fill.last_price, fill.cum_qty) == (3.0, 21000.0, 3.0)
    statuses = [f.status for f in rig.fills(order.client_order_id)]
    # the acceptance is seen only when it went out before the drop
    expected = (
        [OrderStatus.FILLED]
        if fault is Fault.DROP_AFTER_SUBMIT
        else [OrderStatus.ACCEPTED, OrderStatus.FILLED]
    )
    assert statuses == expected
    if fault is Fault.DROP_AFTER_SUBMIT:  # the adapter never saw an answer: an unknown outcome, looked up
        assert f"unknown outcome for {order.client_order_id}" in rig.adapter.log()
    rig.send(order)  # and a replay of the same order after all that is still not placed again
    wait_for(
        lambda: rig.client.xinfo_groups(rig.names.orders(venue))[0]["entries-read"] == 2, what="replay read"
    )
    wait_for(
        lambda: int(rig.client.xpending(rig.names.orders(venue), f"adapter-{venue}")["pending"]) == 0,
        what="replay handled",
    )
    _placed_once(rig, order.client_order_id)


def test_adapter_sigkilled_between_submit_and_fill_recovers_the_fill_after_restart(
    rig_factory: Callable[..., Rig],
) -> None:
    rig = rig_factory("nt8")
    rig.wait_connected()
    rig.sim.set_price(rig.instrument, 21000.0)
    order = rig.order(qty=2, order_type=OrderType.LIMIT, limit_price=20995.0)
    rig.send(order)
    wait_for(lambda: rig.fills(order.client_order_id), what="accepted (resting)")
    rig.adapter.sigkill()
    rig.sim.set_price(rig.instrument, 20990.0)  # fills while the adapter is dead
    state = rig.sim.venue.order(order.client_order_id)
    assert state is not None
    assert state.status is OrderStatus.FILLED
    assert rig.filled(order.client_order_id) == []
    rig.adapter = rig.start_adapter()
    wait_for(lambda: rig.filled(order.client_order_id), timeout_s=20, what="the fill after the restart")
    _placed_once(rig, order.client_order_id)
    assert [f.status for f in rig.fills(order.client_order_id)] == [OrderStatus.ACCEPTED, OrderStatus.FILLED]
    assert rig.filled(order.client_order_id)[0].last_price <= 20995.0


def test_adapter_sigkilled_while_waiting_for_the_answer_finds_the_order_by_client_order_id(
    rig_factory: Callable[..., Rig],
) -> None:
    rig = rig_factory("nt8", NX_NT8_SUBMIT_TIMEOUT_S="30")
    rig.wait_connected()
    rig.sim.set_price(rig.instrument, 21000.0)
    rig.sim.arm(Fault.MUTE_AFTER_SUBMIT)  # placed and filled at the platform, nothing said yet
    order = rig.order(qty=2)
    rig.send(order)
    wait_for(lambda: rig.sim.venue.order(order.client_order_id) is not None, what="placed at the platform")
    rig.adapter.sigkill()  # mid-submit: the intent is recorded, the outcome unknown, the entry unacknowledged
    assert rig.fills(order.client_order_id) == []
    rig.adapter = rig.start_adapter()
    wait_for(lambda: rig.filled(order.client_order_id), timeout_s=20, what="the fill after the restart")
    _placed_once(rig, order.client_order_id)
    [fill] = rig.filled(order.client_order_id)
    assert (fill.last_qty, fill.last_price) == (2.0, 21000.0)


@pytest.mark.slow
def test_partial_fills_on_both_sides_of_a_sigkill_add_up(rig_factory: Callable[..., Rig]) -> None:
    rig = rig_factory("nt8")
    rig.sim.stop()  # replace the platform with one that fills in two parts, one step a second
    venue = SimPlatform(rig.profile, config_dir=REPO_ROOT / "deploy" / "config", step_ticks=0, fill_parts=2)
    rig.sim = BridgeSimulator(
        rig.profile,
        port=rig.port,
        token=rig.sim.token,
        venue=venue,
        md_interval_s=1.0,
        backoff_initial_s=0.05,
        backoff_max_s=0.3,
    ).start()
    try:
        rig.wait_connected()
        rig.sim.set_price(rig.instrument, 21000.0)
        order = rig.order(qty=2)
        rig.send(order)
        wait_for(
            lambda: any(f.status is OrderStatus.PARTIALLY_FILLED for f in rig.fills(order.client_order_id)),
            what="first part",
        )
        rig.adapter.sigkill()
        wait_for(
            lambda: (s := venue.order(order.client_order_id)) is not None and s.status is OrderStatus.FILLED,
            what="second part while the adapter is dead",
        )
        rig.adapter = rig.start_adapter()
        wait_for(lambda: rig.filled(order.client_order_id), timeout_s=20, what="the rest after the restart")
        parts = [f for f in rig.fills(order.client_order_id) if f.last_qty > 0]
        assert [(f.status, f.last_qty, f.cum_qty) for f in parts] == [
            (OrderStatus.PARTIALLY_FILLED, 1.0, 1.0),
            (OrderStatus.FILLED, 1.0, 2.0),
        ]
        _placed_once(rig, order.client_order_id)
    finally:
        rig.sim.stop()


def test_garbage_frame_is_refused_with_a_clear_error_and_the_platform_reconnects(
    rig_factory: Callable[..., Rig],
) -> None:
    rig = rig_factory("nt8")
    rig.wait_connected()
    rig.sim.arm(Fault.GARBAGE)
    wait_for(lambda: rig.sim.sessions >= 2, what="a new session after the garbage")
    assert "closed by the adapter" in rig.sim.closes
    log = rig.adapter.log()
    assert "bad frame from" in log
    assert "bad_magic" in log
    assert "the platform will reconnect" in log
    rig.wait_connected()
    rig.sim.set_price(rig.instrument, 21000.0)
    order = rig.order(qty=1)
    rig.send(order)
    wait_for(lambda: rig.filled(order.client_order_id), what="orders flow again")


@pytest.mark.slow
def test_silent_platform_is_dropped_after_three_heartbeat_intervals(rig_factory: Callable[..., Rig]) -> None:
    rig = rig_factory("quantower", heartbeat_ms=300)
    rig.wait_connected()
    rig.sim.arm(Fault.STOP_HEARTBEAT)
    wait_for(lambda: rig.sim.sessions >= 2, timeout_s=10, what="reconnect after being dropped")
    assert "nothing from" in rig.adapter.log()
    assert "3 heartbeat intervals" in rig.adapter.log()
