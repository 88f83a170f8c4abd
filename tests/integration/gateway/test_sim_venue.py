"""The simulated venue on the adapter base: orders in, raw fills out, replays deduped."""

from __future__ import annotations

import redis

from nexus_protocol import Envelope, Fill, Names, OrderStatus, OrderType, Side, VenueOrder
from nexus_protocol.ids import client_order_id, new_signal_id
from nexus_testing import Services, read_stream, wait_for, xadd


def venue_order(venue: str = "sim", qty: float = 2.0, symbol: str = "NQH25") -> VenueOrder:
    sid = new_signal_id()
    return VenueOrder(
        client_order_id=client_order_id(sid, "sm"),
        signal_id=sid,
        venue=venue,
        symbol="NQ",
        side=Side.BUY,
        quantity=qty,
        venue_symbol=symbol,
        contract=symbol,
        venue_quantity=qty,
    )


def fills(client: redis.Redis, names: Names) -> list[Fill]:
    return [e.body for e in read_stream(client, names.fills_raw) if isinstance(e.body, Fill)]


def test_market_order_is_accepted_and_filled_once_even_when_replayed(
    client: redis.Redis, names: Names, services: Services
) -> None:
    services.start("nexus_gateway.sim_venue", NX_VENUE="sim")
    client.hset(names.control("sim", "sim", "prices"), "NQ", 21000.0)
    order = venue_order()
    env = Envelope.new(order, id=order.client_order_id, trace=order.signal_id)
    xadd(client, names.orders("sim"), env)
    wait_for(lambda: any(f.status is OrderStatus.FILLED for f in fills(client, names)), what="fill")
    first = fills(client, names)
    assert [f.status for f in first] == [OrderStatus.ACCEPTED, OrderStatus.FILLED]
    assert first[-1].last_qty == 2.0
    assert first[-1].last_price == 21000.0
    xadd(client, names.orders("sim"), env)  # a replay of the same order: looked up, never sent again
    wait_for(
        lambda: (
            int(client.xpending(names.orders("sim"), "adapter-sim")["pending"]) == 0
            and client.xinfo_groups(names.orders("sim"))[0]["entries-read"] == 2
        ),
        what="replay handled",
    )
    assert fills(client, names) == first


def test_a_resting_limit_fills_when_the_controlled_price_reaches_it(
    client: redis.Redis, names: Names, services: Services
) -> None:
    services.start("nexus_gateway.sim_venue", NX_VENUE="sim", NX_SIM_MD_INTERVAL_S="0.1")
    client.hset(names.control("sim", "sim", "prices"), "NQ", 21000.0)
    sid = new_signal_id()
    order = VenueOrder(client_order_id=client_order_id(sid, "sm"), signal_id=sid, venue="sim", symbol="NQ",
                       side=Side.BUY, quantity=1, venue_symbol="NQH25", contract="NQH25", venue_quantity=1,
                       order_type=OrderType.LIMIT, limit_price=20990.0)  # fmt: skip
    xadd(client, names.orders("sim"), Envelope.new(order, id=order.client_order_id, trace=sid))
    wait_for(
        lambda: any(f.status is OrderStatus.ACCEPTED for f in fills(client, names)), what="the order resting"
    )
    client.hset(names.control("sim", "sim", "prices"), "NQ", 20990.0)
    filled = wait_for(
        lambda: [f for f in fills(client, names) if f.status is OrderStatus.FILLED], what="the fill"
    )
    assert [(f.last_qty, f.last_price) for f in filled] == [(1.0, 20990.0)]
