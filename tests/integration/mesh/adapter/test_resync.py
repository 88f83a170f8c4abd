"""Auto-resync's refusals and deferrals on the adapter base with the simulated venue (its own process, no
gateway services): the kill switch refuses a resync that would add to the platform's position, and a
resync waits while the fill path is not idle, then goes once it is, and the next one waits for the
venue's rate limit (docs/accounts.md)."""

from __future__ import annotations

import redis

from nexus_mesh.killswitch import KillSwitch
from nexus_protocol import Envelope, Event, Fill, Names, Side, VenueOrder
from nexus_protocol.ids import client_order_id, new_signal_id
from nexus_testing import Services, read_stream, wait_for, xadd

RESYNC = {"NX_VENUE": "sim", "NX_AUTO_RESYNC": "true", "NX_DRIFT_CHECK_INTERVAL_S": "0.5",
          "NX_POSITION_GRACE_S": "1"}  # fmt: skip


def events(client: redis.Redis, names: Names, kind: str) -> list[Event]:
    return [
        e.body for e in read_stream(client, names.events) if isinstance(e.body, Event) and e.body.kind == kind
    ]


def fills(client: redis.Redis, names: Names) -> list[Fill]:
    return [e.body for e in read_stream(client, names.fills_raw) if isinstance(e.body, Fill)]


def test_the_kill_switch_refuses_a_resync_that_would_add_to_the_platforms_position(
    client: redis.Redis, names: Names, services: Services
) -> None:
    KillSwitch(client, names).set(True, reason="test", by="test")
    client.hset(names.state("fills", "venue_positions"), "sim|NQH25", "2.0")  # the platform holds nothing
    services.start("nexus_gateway.sim_venue", **RESYNC)
    [refused] = wait_for(lambda: events(client, names, "resync_refused"), timeout_s=30, what="the refusal")
    assert (refused.data["why"], refused.data["platform"], refused.data["gateway"]) == (
        "kill_switch",
        0.0,
        2.0,
    )
    assert events(client, names, "outside_trade_booked") == [] and fills(client, names) == []


def test_a_resync_waits_for_an_idle_fill_path_then_goes(
    client: redis.Redis, names: Names, services: Services
) -> None:
    client.hset(names.contracts, "NQ", "NQH25")  # the venue quotes NQH25: the outside trade's price
    client.hset(names.control("sim", "sim", "prices"), "NQ", 21000.0)
    services.start("nexus_gateway.sim_venue", **RESYNC)
    # no fills service: the gateway's view stays flat while the platform holds 2, and nothing reads the
    # fill path (no normalizer, fx or fills group): a fill in flight could not be told from a real drift
    buy_at_the_platform(client, names, 2)
    [deferred] = wait_for(lambda: events(client, names, "resync_deferred"), timeout_s=30, what="the deferral")
    assert (deferred.data["why"], deferred.data["difference"]) == ("fill_path", 2.0)
    assert events(client, names, "outside_trade_booked") == []
    for stream, group in (
        (names.fills_raw, "normalizer"),
        (names.fills_normalized, "fx"),
        (names.fills, "fills"),
    ):
        client.xgroup_create(stream, group, id="$", mkstream=True)  # caught up: the path is idle now
    [done] = wait_for(lambda: events(client, names, "resync_completed"), timeout_s=30, what="the resync")
    [sent] = events(client, names, "resync_sent")
    assert (sent.data["side"], sent.data["quantity"]) == ("sell", 2.0)
    assert len(events(client, names, "resync_deferred")) == 1  # once per reason, not once per check
    assert done.data["in_line"] is True

    buy_at_the_platform(client, names, 1)  # another difference inside NX_RESYNC_MIN_INTERVAL_S (300 s)
    [limited] = wait_for(lambda: [e for e in events(client, names, "resync_deferred") if e.data["why"] ==
                                  "rate_limit"], timeout_s=30, what="the rate limit")  # fmt: skip
    assert limited.data["difference"] == 1.0 and len(events(client, names, "resync_sent")) == 1


def buy_at_the_platform(client: redis.Redis, names: Names, qty: float) -> None:
    """An order straight to the venue's stream: the platform fills it, the gateway never books it."""
    sid = new_signal_id()
    order = VenueOrder(
        client_order_id=client_order_id(sid, "sm"), signal_id=sid, venue="sim", symbol="NQ", side=Side.BUY,
        quantity=qty, venue_symbol="NQH25", contract="NQH25", venue_quantity=qty,
    )  # fmt: skip
    xadd(client, names.orders("sim"), Envelope.new(order, id=order.client_order_id, trace=sid))
