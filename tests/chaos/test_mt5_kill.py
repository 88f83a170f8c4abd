"""SIGKILL of the MT5 adapter process between an order's send and its fills, then a restart: the
terminal (a simulated one, a separate process that survives, like a real terminal) holds exactly one
order per client order id, and nx:fills:raw holds exactly its deals, none lost, none twice."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis

sys.path.insert(0, str(Path(__file__).parents[1] / "integration" / "mt5"))

from mt5_helpers import TerminalView, fills_of, final_fill, new_order, send, start_adapter, statuses, venue_up

from nexus_mt5.simulator import SimulatorProcess
from nexus_protocol import Fill, Names, OrderStatus, OrderType, Side, VenueOrder
from nexus_testing import ServiceProcess, Services, wait_for

A, P, F = OrderStatus.ACCEPTED, OrderStatus.PARTIALLY_FILLED, OrderStatus.FILLED


@pytest.fixture(scope="module")
def global_sim() -> Iterator[SimulatorProcess]:
    with SimulatorProcess("global", "--always-open") as sim:
        yield sim


@pytest.fixture(scope="module")
def brazil_sim() -> Iterator[SimulatorProcess]:
    with SimulatorProcess("brazil", "--always-open") as sim:
        yield sim


def start(
    services: Services, client: redis.Redis, names: Names, venue: str, sim: SimulatorProcess, **env: str
) -> ServiceProcess:
    """The adapter process, always under the same consumer name: a restart re-reads its own pending."""
    proc = start_adapter(services, venue, sim, name=f"adapter-{venue}", **env)
    wait_for(
        lambda: venue_up(client, names, venue) or not proc.alive(), timeout_s=20, what=f"{venue} connected"
    )
    return proc


def exactly_the_deals(view: TerminalView, fills: list[Fill], order: VenueOrder) -> None:
    deals = view.deals_with(order.client_order_id)
    assert len(view.orders_with(order.client_order_id)) == 1  # never sent twice
    executions = [f for f in fills if f.last_qty > 0]
    assert [f.fill_id for f in executions] == [f"{order.client_order_id}:x:{d['ticket']}" for d in deals]
    assert len({f.fill_id for f in fills}) == len(fills)  # nothing twice on the stream
    assert sum(f.last_qty for f in executions) == sum(d["volume"] for d in deals)


def test_killed_right_after_order_send_the_restart_finds_the_order_and_sends_nothing(
    client: redis.Redis, names: Names, services: Services, global_sim: SimulatorProcess
) -> None:
    view = TerminalView(global_sim).reset()
    first = start(services, client, names, "mt5-global", global_sim, NX_MT5_FAULT_KILL_AFTER_SEND="true")
    order = new_order("mt5-global", "NAS100", 0.5)
    send(client, names, order)
    wait_for(lambda: not first.alive(), timeout_s=10, what="the adapter killed after order_send")
    assert fills_of(client, names, order.client_order_id) == []  # it died before reporting anything
    assert len(view.orders_with(order.client_order_id)) == 1  # but the terminal has it, filled
    start(services, client, names, "mt5-global", global_sim)  # the redelivered order is looked up by comment
    got = final_fill(client, names, order.client_order_id, timeout_s=15)
    assert statuses(got) == [F]
    exactly_the_deals(view, got, order)
    view.close()


def test_a_resting_limit_filled_while_the_adapter_is_dead_is_reported_once_after_restart(
    client: redis.Redis, names: Names, services: Services, global_sim: SimulatorProcess
) -> None:
    view = TerminalView(global_sim).reset()
    bid, ask, _ = view.control.quote("XAUUSD")
    first = start(services, client, names, "mt5-global", global_sim)
    order = new_order("mt5-global", "XAUUSD", 0.3, Side.BUY, order_type=OrderType.LIMIT, limit_price=bid - 5)
    send(client, names, order)
    wait_for(
        lambda: statuses(fills_of(client, names, order.client_order_id)) == [A], what="the limit resting"
    )
    first.sigkill()
    view.control.set_quote("XAUUSD", bid - 6, ask - 6)  # fills at the terminal while no adapter runs
    assert view("orders_get") == ()
    start(services, client, names, "mt5-global", global_sim)
    got = final_fill(client, names, order.client_order_id, timeout_s=15)
    assert statuses(got) == [A, F]
    exactly_the_deals(view, got, order)
    view.close()


def test_b3_partial_fills_across_a_sigkill_are_all_reported_once(
    client: redis.Redis, names: Names, services: Services, brazil_sim: SimulatorProcess
) -> None:
    view = TerminalView(brazil_sim).reset()
    view.control.set_partial_fills(4, 1)  # one deal inside order_send, three later on the exchange
    first = start(services, client, names, "mt5-brazil", brazil_sim)
    order = new_order("mt5-brazil", "WINZ25", 8, Side.BUY)
    send(client, names, order)
    wait_for(
        lambda: statuses(fills_of(client, names, order.client_order_id)) == [A, P], what="the first deal"
    )
    first.sigkill()
    view.control.process(1)  # a deal while the adapter is dead
    start(services, client, names, "mt5-brazil", brazil_sim)
    wait_for(
        lambda: len(fills_of(client, names, order.client_order_id)) == 3, timeout_s=15, what="the missed deal"
    )
    view.control.process(2)  # and the rest after the restart
    got = final_fill(client, names, order.client_order_id, timeout_s=15)
    assert statuses(got) == [A, P, P, P, F]
    assert [f.cum_qty for f in got[1:]] == [2.0, 4.0, 6.0, 8.0]
    exactly_the_deals(view, got, order)
    view.close()
