"""Position differences with the simulated venue on the adapter base (its own process): a position the
gateway's fills never saw becomes one `position_mismatch` event once it has kept its figures for the
grace window, and goes quiet once the two agree."""

from __future__ import annotations

import time

import redis

from nexus_protocol import Envelope, Event, Names, Side, VenueOrder
from nexus_protocol.ids import client_order_id, new_signal_id
from nexus_testing import Services, read_stream, wait_for, xadd


def mismatches(client: redis.Redis, names: Names) -> list[Event]:
    return [
        e.body
        for e in read_stream(client, names.events)
        if isinstance(e.body, Event) and e.body.kind == "position_mismatch"
    ]


def test_a_position_the_gateway_never_saw_is_reported_once_after_the_grace_window(
    client: redis.Redis, names: Names, services: Services
) -> None:
    services.start(
        "nexus_gateway.sim_venue", NX_VENUE="sim", NX_DRIFT_CHECK_INTERVAL_S="0.5", NX_POSITION_GRACE_S="2"
    )
    client.hset(names.control("sim", "sim", "prices"), "NQ", 21000.0)
    sid = new_signal_id()
    order = VenueOrder(
        client_order_id=client_order_id(sid, "sm"), signal_id=sid, venue="sim", symbol="NQ", side=Side.BUY,
        quantity=2, venue_symbol="NQH25", contract="NQH25", venue_quantity=2,
    )  # fmt: skip
    # no fills service runs here: the gateway's view of the venue stays flat while the platform fills
    xadd(client, names.orders("sim"), Envelope.new(order, id=order.client_order_id, trace=sid))
    [event] = wait_for(lambda: mismatches(client, names), timeout_s=30, what="the mismatch event")
    assert event.venue == "sim" and event.severity.value == "critical"
    for_s = event.data.pop("for_s")
    assert for_s >= 2.0
    assert event.data == {"venue_symbol": "NQH25", "platform": 2.0, "gateway": 0.0, "difference": 2.0}
    assert "NQH25 differs" in event.message
    time.sleep(1.5)  # checks go on: the same difference is not reported again
    assert len(mismatches(client, names)) == 1
    client.hset(names.state("fills", "venue_positions"), "sim|NQH25", "2.0")  # the views agree again
    time.sleep(1.5)
    assert len(mismatches(client, names)) == 1
