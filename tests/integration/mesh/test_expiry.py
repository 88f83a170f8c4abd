"""Finished state is kept for the retention window, then pruned; working state is never touched."""

from __future__ import annotations

import time

import redis

from nexus_mesh.adapter.intents import IntentState, IntentStore
from nexus_mesh.expiry import FieldExpiry
from nexus_protocol import Names, Side, VenueOrder
from nexus_protocol.ids import client_order_id, new_signal_id


def test_only_finished_fields_older_than_the_window_are_pruned(client: redis.Redis, names: Names) -> None:
    h1, h2 = names.state("t", "a"), names.state("t", "b")
    exp = FieldExpiry(client, names.state("t", "finished"), (h1, h2), retention_ms=1000)
    for f in ("old", "new", "working"):
        client.hset(h1, f, "1")
        client.hset(h2, f, "1")
    exp.finished(["old"])
    now = int(time.time() * 1000)
    exp.finished(["new"])
    assert exp.prune(now_ms=now + 500) == 0  # nothing past the window yet
    client.zadd(exp.clock_key, {"new": now + 2000})  # finished later
    assert exp.prune(now_ms=now + 1500) == 1
    assert sorted(k.decode() for k in client.hkeys(h1)) == ["new", "working"]
    assert sorted(k.decode() for k in client.hkeys(h2)) == ["new", "working"]


def test_adapter_intents_of_finished_orders_expire(client: redis.Redis, names: Names) -> None:
    store = IntentStore(client, names, "sim", retention_ms=1000)
    orders = []
    for _ in range(3):
        sid = new_signal_id()
        o = VenueOrder(client_order_id=client_order_id(sid, "sm"), signal_id=sid, venue="sim", symbol="NQ",
                       side=Side.BUY, quantity=1, venue_symbol="NQH25", venue_quantity=1)  # fmt: skip
        assert store.claim(o) is None
        orders.append(o)
    done, refused, working = (o.client_order_id for o in orders)
    store.mark_many({done: IntentState.DONE, refused: IntentState.REJECTED, working: IntentState.SENT})
    assert store.expiry.prune(now_ms=int(time.time() * 1000) + 5000) == 2
    assert store.get(done) is None
    assert store.get(working) is not None  # still working: kept
