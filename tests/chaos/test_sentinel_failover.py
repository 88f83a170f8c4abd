"""A Sentinel-managed primary SIGKILLed mid-flow with writes its replica never received.

The mesh runs on a primary, a replica and three sentinels (`redis+sentinel://`). Signals flow; then
the replica is paused and its link cut (so the primary's next writes reach nobody), more signals are
sent and handled, and the primary is SIGKILLed; the sentinels promote the replica. The services find
the new primary through the sentinels; the stages that had read entries the new primary lacks raise a
critical `data_loss` event, and every adapter reconciles with its venue after the reconnect.

Counted and printed: signals the driver had acknowledged, those the new primary still holds, orders
each simulated venue received (its own journal), and final executions. Asserted: every signal the
new primary holds ends with one final, filled execution; no venue received an order twice; an order
of a signal the new primary still holds reached each venue once; the loss was alarmed; each order of
a lost signal that had reached a venue came back through the adapters' reconciliation and is held by
the fills stage (a `fill_held` event) for a route that will not come (the mesh no longer has its signal).
"""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

import pytest
import redis
from test_gateway_kill import patient_mesh

from nexus_mesh.connection import connect
from nexus_protocol import Execution, Fill, Names, OrderStatus
from nexus_sim.journal import read_journal
from nexus_testing import Services, read_stream, wait_for
from nexus_testing.topologies import LocalSentinel

VENUES = ("nt8", "sierra")
T = TypeVar("T")


def retried(fn: Callable[[], T], timeout_s: float = 30.0) -> T:
    """`fn()`, again while Redis is failing over (its error means: not acknowledged, send again)."""
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            return fn()
        except redis.RedisError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)


@pytest.mark.slow
def test_primary_killed_with_unreplicated_writes_fails_over_and_every_venue_is_reconciled(
    sentinel_redis: LocalSentinel, namespace: str, services: Services, tmp_path: Path
) -> None:
    services.redis_url = sentinel_redis.url
    names = Names(namespace)
    client = connect(sentinel_redis.url, retries=3)
    mesh = patient_mesh(services, client, names, VENUES, tmp_path)

    def send(n: int) -> list[str]:
        return [
            retried(lambda i=i: mesh.signal("NQ", "buy" if i % 2 == 0 else "sell", 1, venues=VENUES))
            for i in range(n)
        ]

    def finished(sids: list[str]) -> bool:
        return all(mesh.executions(s) and mesh.executions(s)[-1].final for s in sids)

    before = send(6)
    wait_for(lambda: finished(before), timeout_s=60, what="the signals sent before the failover")

    # Writes the replica never gets: it is paused and the primary drops its link, then signals flow.
    primary = redis.Redis(port=sentinel_redis.primary.port)
    replica_pid = sentinel_redis.replica.process.pid  # type: ignore[union-attr]
    os.kill(replica_pid, signal.SIGSTOP)
    try:
        primary.client_kill_filter(_type="replica")
        unreplicated = send(4)
        wait_for(lambda: finished(unreplicated[:1]), timeout_s=30, what="a signal handled on the old primary")
        sentinel_redis.primary.kill()
    finally:
        os.kill(replica_pid, signal.SIGCONT)
    sentinel_redis.wait_failover()

    after = send(6)
    held = {e.body.signal_id for e in retried(lambda: read_stream(client, names.signals))}  # type: ignore[attr-defined]
    sent = before + unreplicated + after
    kept = [s for s in sent if s in held]
    wait_for(lambda: retried(lambda: finished(kept)), timeout_s=90, what="every signal the new primary holds")

    executions = [e.body for e in read_stream(client, names.executions) if isinstance(e.body, Execution)]
    finals = {x.signal_id: x for x in executions if x.final}
    orders = {v: [r for r in read_journal(mesh.journal(v)) if r["kind"] == "order"] for v in VENUES}
    losses = mesh.events("data_loss")
    lost = set(sent) - set(kept)
    orphans = {v: [r for r in o if r["client_order_id"][:26] in lost] for v, o in orders.items()}
    orphaned = {r["client_order_id"] for o in orphans.values() for r in o}

    def reported() -> set[str]:  # by the adapters' reconciliation, into nx:{fills:raw}
        raw = [e.body for e in read_stream(client, names.fills_raw) if isinstance(e.body, Fill)]
        return {f.client_order_id for f in raw if f.signal_id in lost}

    def held() -> set[str]:  # by the fills stage, for a route that will not come (fill_held events)
        return {c for e in mesh.events("fill_held") for c in orphaned if c in e.message}

    wait_for(lambda: reported() == orphaned == held(), timeout_s=30, what="orphan orders reported")
    print(
        f"\nsignals acknowledged {len(sent)}, on the new primary {len(kept)}, lost {len(lost)}; "
        + ", ".join(f"orders at {v} {len(o)} ({len(orphans[v])} of lost signals)" for v, o in orders.items())
        + f"; final executions {len(finals)}; data_loss events {len(losses)} on "
        + ", ".join(sorted({f"{e.source} {e.data['stream']}" for e in losses}))
        + f"; orders of lost signals reported by reconciliation and held without a route {len(held())}"
    )
    assert set(before) | set(after) <= set(kept)  # what was replicated, and what came after, is kept
    for sid in kept:
        assert finals[sid].status is OrderStatus.FILLED, finals[sid]
        assert sorted(leg.venue for leg in finals[sid].legs) == sorted(VENUES)
    assert len([x for x in executions if x.final and x.signal_id in kept]) == len(kept)  # one each
    for venue, received in orders.items():
        coids = [r["client_order_id"] for r in received]
        assert not any(r["duplicate"] for r in received), f"{venue} was sent an order twice"
        assert len(coids) == len(set(coids))
        for sid in kept:
            assert sum(c.startswith(sid) for c in coids) == 1, f"{venue}: orders of {sid}: {coids}"
    if len(kept) < len(sent):
        assert losses, "writes were lost and nothing said so"
    client.close()
