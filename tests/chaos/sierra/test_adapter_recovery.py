"""The Sierra adapter process against the DTC simulator process when things break between an
order's send and its fill: the connection drops, the outcome is unknown, the adapter is SIGKILLed.
Every time: exactly one order at Sierra, exactly one FILLED report with the full quantity."""

from __future__ import annotations

import redis
from sierra_helpers import (
    fills_of,
    final_fills,
    orders_at,
    send,
    settle,
    start_adapter,
    start_simulator,
    venue_connected,
    venue_order,
)

from nexus_protocol import Names, OrderStatus, OrderType
from nexus_sierra.simulator import SimulatorControl
from nexus_testing import Services, wait_for


def exactly_once(client: redis.Redis, names: Names, control: SimulatorControl, coid: str, qty: float) -> None:
    [fill] = wait_for(lambda: final_fills(client, names, coid), timeout_s=15, what="the FILLED report")
    settle(0.5)
    assert [f.last_qty for f in final_fills(client, names, coid)] == [qty]
    assert fill.cum_qty == qty
    statuses = [f.status for f in fills_of(client, names, coid)]
    assert statuses.count(OrderStatus.FILLED) == 1
    assert OrderStatus.REJECTED not in statuses
    assert control.submits(coid) == 1
    [order] = orders_at(control, coid)
    assert (order["status"], order["cum_qty"]) == ("filled", qty)
    assert [f["exec_id"] for f in control.fills_of(coid)] == [fill.fill_id.rsplit(":", 1)[-1]]


def test_a_drop_between_acceptance_and_fill_is_reconciled(
    client: redis.Redis, names: Names, services: Services
) -> None:
    _sim, port, control = start_simulator(services)
    start_adapter(services, port)
    wait_for(lambda: venue_connected(client, names), timeout_s=15, what="the adapter's venue heartbeat")
    control.drop_after_accept()
    order = venue_order(qty=3)
    send(client, names, order)
    exactly_once(client, names, control, order.client_order_id, 3.0)
    assert control.stats()["logons"] == 2  # the fill came from the reconnect's fill history
    control.close()


def test_a_drop_before_any_answer_is_looked_up_not_resent(
    client: redis.Redis, names: Names, services: Services
) -> None:
    _sim, port, control = start_simulator(services)
    start_adapter(services, port)
    wait_for(lambda: venue_connected(client, names), timeout_s=15, what="the adapter's venue heartbeat")
    control.drop_before_ack()
    order = venue_order(qty=2)
    send(client, names, order)
    exactly_once(client, names, control, order.client_order_id, 2.0)
    control.close()


def test_a_sigkilled_adapter_recovers_the_fill_that_happened_while_it_was_dead(
    client: redis.Redis, names: Names, services: Services
) -> None:
    _sim, port, control = start_simulator(services, "--step-ticks", "0")
    control.set_price("NQH25", 21000.0)
    adapter = start_adapter(services, port)
    wait_for(lambda: venue_connected(client, names), timeout_s=15, what="the adapter's venue heartbeat")
    order = venue_order(qty=2, order_type=OrderType.LIMIT, limit=20950.0)  # rests until the market comes down
    send(client, names, order)
    wait_for(lambda: fills_of(client, names, order.client_order_id), timeout_s=10, what="the acceptance")
    adapter.sigkill()
    control.set_price("NQH25", 20940.0)  # fills at Sierra while the adapter is dead
    wait_for(
        lambda: orders_at(control, order.client_order_id)[0]["status"] == "filled",
        timeout_s=5,
        what="the fill at the simulator",
    )
    assert final_fills(client, names, order.client_order_id) == []
    adapter.start()
    exactly_once(client, names, control, order.client_order_id, 2.0)
    [fill] = final_fills(client, names, order.client_order_id)
    assert fill.last_price == 20950.0
    control.close()
