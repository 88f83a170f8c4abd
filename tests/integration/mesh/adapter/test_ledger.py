"""The execution ledger in Redis: counted once, read back by a new process, expiring with the intents."""

from __future__ import annotations

import redis

from nexus_mesh.adapter import IntentState, IntentStore, VenueExecution
from nexus_mesh.adapter.ledger import ExecutionLedger
from nexus_protocol import Names, Side, VenueOrder

COID = "01JD3ZK6Q9X8V7W5T4S3R2P1N0.n80"


def test_an_execution_is_counted_once_and_a_new_process_reads_the_same_figures(
    client: redis.Redis, names: Names
) -> None:
    key = names.state("adapter-nt8", "executions")
    ledger = ExecutionLedger(client, key)
    first, amended = ledger.record(VenueExecution(COID, "x1", 1.0, 100.0, fee=2.0))
    assert not amended
    again, amended = ledger.record(VenueExecution(COID, "x1", 1.0, 100.0))
    assert (again, amended) == (first, False)
    second, _ = ledger.record(VenueExecution(COID, "x2", 1.0, 102.0))
    assert (second.cum_qty, second.avg_price) == (2.0, 101.0)
    restarted = ExecutionLedger(client, key)  # a new process: nothing cached
    assert restarted.entries(COID) == [first, second]
    assert restarted.record(VenueExecution(COID, "x2", 3.0, 102.0)) == (
        second,
        True,
    )  # amended: the first stands
    assert restarted.many([COID, "unknown"]) == {COID: [first, second]}
    syn = restarted.missing(COID, 3.0, 101.0, exec_id="syn-3")
    assert syn is not None
    assert (syn.qty, syn.price) == (1.0, 101.0)


def test_the_ledger_expires_with_the_intents(client: redis.Redis, names: Names) -> None:
    store = IntentStore(client, names, "nt8", retention_ms=0)
    ledger = ExecutionLedger(client, names.state("adapter-nt8", "executions"))
    store.expire_with(ledger.key)
    order = VenueOrder(client_order_id=COID, signal_id=COID[:26], venue="nt8", symbol="NQ", side=Side.BUY,
                       quantity=1, venue_symbol="NQ 03-25", venue_quantity=1)  # fmt: skip
    assert store.claim(order) is None
    ledger.record(VenueExecution(COID, "x1", 1.0, 100.0))
    store.mark_many({COID: IntentState.DONE})
    assert store.prune() == 1
    assert client.hget(ledger.key, COID) is None
