"""Orders through the Bookmap adapter as a process, the real add-on and the simulated Bookmap: fills keyed
by Bookmap's execution ids, data-only refusals with their reason, and no duplicate and no lost fill when
Bookmap drops mid-order or the adapter is SIGKILLed between the send and the fill."""

from __future__ import annotations

import time
from collections.abc import Callable

import redis
from bookmap_rig import ALIAS, BookmapRig

from nexus_mesh.killswitch import KillSwitch
from nexus_protocol import Names
from nexus_protocol.codec import Envelope
from nexus_protocol.enums import OrderStatus, OrderType, Side
from nexus_protocol.ids import client_order_id, new_signal_id
from nexus_protocol.messages import Event, Fill, VenueOrder
from nexus_testing import read_stream, venue_equity, wait_for, xadd
from nexus_testing.flatten import flatten_and_check


def send(client: redis.Redis, names: Names, qty: float = 1.0, side: Side = Side.BUY,
         limit: float | None = None) -> VenueOrder:  # fmt: skip
    sid = new_signal_id()
    order = VenueOrder(
        client_order_id=client_order_id(sid, "bm"), signal_id=sid, venue="bookmap", symbol="NQ", side=side,
        quantity=qty, order_type=OrderType.LIMIT if limit else OrderType.MARKET, limit_price=limit,
        venue_symbol=ALIAS, contract="NQH25", venue_quantity=qty, point_value=20.0,
    )  # fmt: skip
    xadd(client, names.orders("bookmap"), Envelope.new(order, id=order.client_order_id))
    return order


def fills(client: redis.Redis, names: Names, coid: str) -> list[Fill]:
    return [e.body for e in read_stream(client, names.fills_raw)
            if isinstance(e.body, Fill) and e.body.client_order_id == coid]  # fmt: skip


def final(client: redis.Redis, names: Names, coid: str, timeout_s: float = 20.0) -> list[Fill]:
    wait_for(lambda: any(f.status.terminal for f in fills(client, names, coid)), timeout_s=timeout_s,
             what=f"a final report for {coid}")  # fmt: skip
    return fills(client, names, coid)


def executions(reports: list[Fill]) -> list[Fill]:
    return [f for f in reports if f.last_qty > 0]


def events(client: redis.Redis, names: Names, kind: str) -> list[Event]:
    return [
        e.body for e in read_stream(client, names.events) if isinstance(e.body, Event) and e.body.kind == kind
    ]


def test_an_order_fills_once_under_bookmaps_execution_id(
    bookmap_rig: Callable[..., BookmapRig], client: redis.Redis, names: Names
) -> None:
    rig = bookmap_rig().start()
    order = send(client, names, qty=2)
    reports = final(client, names, order.client_order_id)
    (fill,) = executions(reports)
    state = rig.host.venue.engine.order_by_client_id(
        order.client_order_id
    )  # our id rode in Bookmap's clientId
    assert state is not None
    assert (fill.status, fill.last_qty, fill.cum_qty, fill.venue_order_id) == (
        OrderStatus.FILLED, 2.0, 2.0, state.venue_order_id)  # fmt: skip
    assert fill.fill_id.startswith(f"{order.client_order_id}:x:")
    assert not fill.synthetic
    assert OrderStatus.ACCEPTED in [f.status for f in reports]
    assert len(rig.host.venue.engine.orders()) == 1
    assert rig.adapter is not None
    assert rig.adapter.terminate(timeout_s=10) == 0  # SIGTERM: a clean stop, the add-on waits to reconnect


def test_a_data_only_account_is_refused_with_the_reason(
    bookmap_rig: Callable[..., BookmapRig], client: redis.Redis, names: Names
) -> None:
    rig = bookmap_rig(can_trade=False).start(connected=False)
    hb = rig.wait_connected(can_trade=False)  # the router reads this (check venue_data_only)
    assert hb.detail["instruments"] == [ALIAS]
    order = send(client, names)
    (refused,) = final(client, names, order.client_order_id)
    assert refused.status is OrderStatus.REJECTED
    assert refused.reason is not None
    assert "market data only" in refused.reason
    assert rig.host.venue.engine.orders() == []  # it never reached Bookmap
    assert events(client, names, "venue_data_only")


def test_bookmap_dropping_after_the_accept_loses_no_fill_and_sends_nothing_twice(
    bookmap_rig: Callable[..., BookmapRig], client: redis.Redis, names: Names
) -> None:
    rig = bookmap_rig().start()
    rig.host.drop_after_accept()  # Bookmap accepts and fills, but the add-on never hears of the fill
    order = send(client, names, side=Side.SELL)
    wait_for(lambda: OrderStatus.ACCEPTED in [f.status for f in fills(client, names, order.client_order_id)],
             what="the acceptance")  # fmt: skip
    proc = rig.host.addon_process
    assert proc is not None
    assert proc.wait(timeout=10) == 2  # the add-on exits when Bookmap goes away
    assert executions(fills(client, names, order.client_order_id)) == []
    rig.launch_addon()  # the user enables the add-on again: a new instance
    reports = final(client, names, order.client_order_id)
    (fill,) = executions(reports)
    state = rig.host.venue.engine.order_by_client_id(order.client_order_id)
    assert state is not None
    assert (fill.status, fill.last_qty, fill.synthetic) == (OrderStatus.FILLED, 1.0, True)
    assert fill.last_price == state.avg_price
    assert fill.fill_id == f"{order.client_order_id}:x:syn-{state.venue_order_id}-1"
    assert len(rig.host.venue.engine.orders()) == 1
    assert events(client, names, "bookmap_addon_restarted")
    assert events(client, names, "bookmap_disconnected")


def test_a_sigkill_between_send_and_fill_loses_no_fill_and_sends_nothing_twice(
    bookmap_rig: Callable[..., BookmapRig], client: redis.Redis, names: Names
) -> None:
    rig = bookmap_rig()
    order = send(client, names, limit=20990.0)  # rests below the market
    rig.start_adapter(NX_FAULT_KILL_AT="after_publish", NX_BOOKMAP_CONNECT_WAIT_S="20")
    rig.host.start()
    rig.launch_addon()
    assert rig.adapter is not None
    assert rig.adapter.proc is not None
    assert rig.adapter.proc.wait(timeout=20) == -9  # killed right after the send, before acknowledging it
    assert len(rig.host.venue.engine.orders()) == 1
    assert executions(fills(client, names, order.client_order_id)) == []
    rig.host.set_price(ALIAS, 20980.0)  # it fills while the adapter is dead; the add-on holds the reports
    assert rig.host.wait_until(lambda: rig.host.venue.engine.net_position(ALIAS) == 1.0, 10)
    rig.start_adapter()  # the order is redelivered: looked up, not resent
    reports = final(client, names, order.client_order_id)
    (fill,) = executions(reports)
    assert (fill.status, fill.last_qty, fill.last_price, fill.synthetic) == (
        OrderStatus.FILLED,
        1.0,
        20990.0,
        False,
    )
    assert len(rig.host.venue.engine.orders()) == 1
    assert rig.host.venue.engine.net_position(ALIAS) == 1.0


def test_the_kill_switch_cancels_working_orders_through_the_add_on(
    bookmap_rig: Callable[..., BookmapRig], client: redis.Redis, names: Names
) -> None:
    rig = bookmap_rig().start()
    rig.host.pause()  # the resting order stays resting
    order = send(client, names, limit=20900.0)
    wait_for(lambda: OrderStatus.ACCEPTED in [f.status for f in fills(client, names, order.client_order_id)],
             what="the order working at Bookmap")  # fmt: skip
    KillSwitch(client, names).set(True, reason="integration test", by="test")
    (*_, cancelled) = final(client, names, order.client_order_id)
    assert cancelled.status is OrderStatus.CANCELLED
    state = rig.host.venue.engine.order_by_client_id(order.client_order_id)
    assert state is not None
    assert state.status is OrderStatus.CANCELLED
    assert events(client, names, "killswitch_applied")


def test_the_kill_switch_flattens_the_position_through_the_add_on(
    bookmap_rig: Callable[..., BookmapRig], client: redis.Redis, names: Names
) -> None:
    rig = bookmap_rig().start()
    order = send(client, names, qty=2)
    final(client, names, order.client_order_id)

    def held() -> float:
        return sum(p.quantity for p in rig.host.venue.engine.positions() if p.symbol == ALIAS)

    [closing] = flatten_and_check(client, names, "bookmap", held)
    assert (closing.side, closing.cum_qty, closing.venue_symbol) == (Side.SELL, 2.0, ALIAS)
    assert len(rig.host.venue.engine.orders()) == 2  # the order and the one that closed it


def test_an_order_sent_just_after_bookmap_dropped_the_add_on_becomes_final_once_the_add_on_is_back(
    bookmap_rig: Callable[..., BookmapRig], client: redis.Redis, names: Names
) -> None:
    """Issue 16: Bookmap drops the add-on and an order reaches the add-on 0-100 ms later. The add-on hands
    it to Bookmap, which never gets it, and exits; it answers nothing for Bookmap, so the outcome is
    unknown, and the new add-on process (which asks Bookmap) does not know the order: rejected, never
    sent late, never left 'sent'."""
    rig = bookmap_rig(NX_BOOKMAP_SUBMIT_TIMEOUT_S="3").start()
    for delay_s in (0.0, 0.05, 0.1):
        proc = rig.host.addon_process
        assert proc is not None
        rig.host.drop_connection()  # Bookmap goes away
        time.sleep(delay_s)
        order = send(client, names)
        assert proc.wait(timeout=10) == 2  # the add-on exits when Bookmap goes away
        rig.launch_addon()  # the user enables the add-on again: a new process, a new hello, a reconcile
        reports = final(client, names, order.client_order_id)
        assert [f.status for f in reports] == [OrderStatus.REJECTED], (delay_s, reports)
        assert reports[0].reason in (  # the add-on took it (looked up: not at Bookmap) or had already gone
            "not found at bookmap after an unknown outcome; not resent",
            "bookmap is not connected",
        ), reports[0].reason
        assert rig.host.venue.engine.order_by_client_id(order.client_order_id) is None
        rig.wait_connected()


def test_the_venue_heartbeat_carries_bookmaps_net_liquidity(
    bookmap_rig: Callable[..., BookmapRig], client: redis.Redis, names: Names
) -> None:
    bookmap_rig().start()  # the simulated Bookmap account holds USD 100,000
    wait_for(lambda: venue_equity(client, names, "bookmap").get("equity_usd") == 100_000.0,
             what="Bookmap's net liquidity in the venue heartbeat")  # fmt: skip
    assert venue_equity(client, names, "bookmap")["equity_currency"] == "USD"
