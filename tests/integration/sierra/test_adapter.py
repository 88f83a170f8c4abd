"""The Sierra adapter as a process (`python -m nexus_sierra`) against the DTC simulator as a process:
orders from nx:orders:sierra, fills on nx:fills:raw, ticks on nx:md:raw:sierra, replays never resent,
the kill switch's flatten closing the position at Sierra."""

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

from nexus_protocol import Names, OrderStatus, Side
from nexus_protocol.messages import Tick
from nexus_testing import Services, read_stream, venue_equity, wait_for
from nexus_testing.flatten import flatten_and_check


def test_an_order_is_filled_and_reported_once_and_a_replay_is_not_resent(
    client: redis.Redis, names: Names, services: Services
) -> None:
    _sim, port, control = start_simulator(services)
    control.set_price("NQH25", 21000.0)
    start_adapter(services, port)
    wait_for(lambda: venue_connected(client, names), timeout_s=15, what="the adapter's venue heartbeat")
    order = venue_order(qty=2)
    send(client, names, order)
    [fill] = wait_for(
        lambda: final_fills(client, names, order.client_order_id), timeout_s=10, what="the fill"
    )
    [at_sim] = control.fills_of(order.client_order_id)
    assert (fill.last_qty, fill.cum_qty, fill.venue, fill.venue_symbol, fill.signal_id) == (
        2.0,
        2.0,
        "sierra",
        "NQH25",
        order.signal_id,
    )
    assert fill.fill_id == f"{order.client_order_id}:x:{at_sim['exec_id']}"
    assert [f.status for f in fills_of(client, names, order.client_order_id)] == [
        OrderStatus.ACCEPTED,
        OrderStatus.FILLED,
    ]

    send(client, names, order)  # a replay: looked up at Sierra, never sent again
    wait_for(
        lambda: (
            client.xinfo_groups(names.orders("sierra"))[0]["entries-read"] == 2
            and int(client.xpending(names.orders("sierra"), "adapter-sierra")["pending"]) == 0
        ),
        timeout_s=10,
        what="the replay handled",
    )
    settle(0.3)
    assert control.submits(order.client_order_id) == 1
    assert len(orders_at(control, order.client_order_id)) == 1
    assert [f.status for f in fills_of(client, names, order.client_order_id)] == [
        OrderStatus.ACCEPTED,
        OrderStatus.FILLED,
    ]
    ticks = [e.body for e in read_stream(client, names.md_raw("sierra")) if isinstance(e.body, Tick)]
    assert ticks
    assert ticks[-1].symbol == "NQH25"
    assert ticks[-1].venue == "sierra"
    control.close()


def test_a_reject_reaches_the_fills_stream_with_sierras_reason(
    client: redis.Redis, names: Names, services: Services
) -> None:
    _sim, port, control = start_simulator(services)
    start_adapter(services, port)
    wait_for(lambda: venue_connected(client, names), timeout_s=15, what="the adapter's venue heartbeat")
    control.reject_next(text="order quantity above the account limit")
    order = venue_order(qty=1)
    send(client, names, order)
    [rej] = wait_for(lambda: fills_of(client, names, order.client_order_id), timeout_s=10, what="the reject")
    assert (rej.status, rej.reason) == (OrderStatus.REJECTED, "order quantity above the account limit")
    control.close()


def test_the_kill_switch_flattens_the_position_at_sierra_and_a_restart_does_not_close_twice(
    client: redis.Redis, names: Names, services: Services
) -> None:
    _sim, port, control = start_simulator(services)
    control.set_price("NQH25", 21000.0)
    adapter = start_adapter(services, port)
    wait_for(lambda: venue_connected(client, names), timeout_s=15, what="the adapter's venue heartbeat")
    order = venue_order(qty=3)
    send(client, names, order)
    wait_for(lambda: final_fills(client, names, order.client_order_id), timeout_s=10, what="the fill")

    def held() -> float:
        return float(control.stats()["positions"].get("NQH25", 0.0))

    [closing] = flatten_and_check(client, names, "sierra", held)
    assert (closing.side, closing.cum_qty, closing.venue_symbol) == (Side.SELL, 3.0, "NQH25")
    adapter.sigkill()
    start_adapter(services, port)  # the activation is remembered as applied: nothing is closed again
    wait_for(lambda: venue_connected(client, names), timeout_s=15, what="the adapter back")
    settle(1.0)
    assert control.submits(closing.client_order_id) == 1
    assert len(control.stats()["orders"]) == 2


def test_the_venue_heartbeat_carries_the_account_balance_sierra_reports(
    client: redis.Redis, names: Names, services: Services
) -> None:
    _sim, port, control = start_simulator(services, "--cash", "50000")
    control.set_price("NQH25", 21000.0)
    start_adapter(services, port)
    wait_for(lambda: venue_equity(client, names, "sierra").get("equity_usd") == 50_000.0,
             timeout_s=15, what="the balance answered at logon")  # fmt: skip
    buy, sell = venue_order(qty=2), venue_order(qty=2, side=Side.SELL)
    send(client, names, buy)
    [bought] = wait_for(lambda: final_fills(client, names, buy.client_order_id), timeout_s=10, what="the buy")
    control.set_price("NQH25", 21005.0)
    send(client, names, sell)
    [sold] = wait_for(lambda: final_fills(client, names, sell.client_order_id), timeout_s=10, what="the sell")
    assert bought.last_price is not None and sold.last_price is not None
    realized = (sold.last_price - bought.last_price) * 20 * 2
    assert realized > 0
    # the unsolicited update after the fill: the cash with the round trip's realized P&L, nothing open
    wait_for(lambda: venue_equity(client, names, "sierra").get("equity_usd") == 50_000 + realized,
             timeout_s=10, what="the balance after the round trip")  # fmt: skip
    assert venue_equity(client, names, "sierra")["equity_currency"] == "USD"
