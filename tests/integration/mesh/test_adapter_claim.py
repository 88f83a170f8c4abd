"""Adapters scale by account: each replica claims one venue of the pool with a lease; a spare one
waits and takes over when a lease lapses; a lease found another's stops its instance."""

from __future__ import annotations

import threading

import redis

from nexus_mesh.adapter.claim import Lease, claim, lease_key, pool, try_claim
from nexus_protocol import Names
from nexus_testing import wait_for

TTL_MS = 600


def test_one_venue_per_instance_and_a_standby_when_all_are_taken(client: redis.Redis, names: Names) -> None:
    venues = pool(" nt8, sierra ,")
    assert venues == ["nt8", "sierra"]
    assert try_claim(client, names, venues, "a-1", TTL_MS) == "nt8"
    assert try_claim(client, names, venues, "b-1", TTL_MS) == "sierra"
    assert try_claim(client, names, venues, "c-1", TTL_MS) is None
    assert try_claim(client, names, venues, "a-1", TTL_MS) == "nt8"  # a restart keeps its venue


def test_the_standby_takes_over_when_the_lease_lapses(client: redis.Redis, names: Names) -> None:
    assert try_claim(client, names, ["nt8"], "a-1", TTL_MS) == "nt8"
    got: list[str | None] = []
    waiter = threading.Thread(target=lambda: got.append(claim(client, names, ["nt8"], "b-1", TTL_MS)))
    waiter.start()
    waiter.join(timeout=10)
    assert got == ["nt8"] and client.get(lease_key(names, "nt8")) == b"b-1"


def test_a_held_lease_is_renewed_and_a_lost_one_stops_its_instance(client: redis.Redis, names: Names) -> None:
    assert try_claim(client, names, ["nt8"], "a-1", TTL_MS) == "nt8"
    lost = threading.Event()
    lease = Lease(client, names, "nt8", "a-1", TTL_MS, lost.set).start()
    wait_for(lambda: client.pttl(lease_key(names, "nt8")) > TTL_MS * 0.8, what="a renewal")
    client.set(lease_key(names, "nt8"), "b-1")  # as if it had lapsed and another took it
    wait_for(lost.is_set, timeout_s=5, what="the instance told to stop")
    lease.release()
    assert client.get(lease_key(names, "nt8")) == b"b-1"  # never deletes another's lease
