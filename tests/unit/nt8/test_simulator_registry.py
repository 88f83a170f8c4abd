"""The simulated platform's registry answers open_orders_query as the C# OrderRegistry does."""

from __future__ import annotations

from nexus_nt8.simulator.registry import Registry
from nexus_protocol.bridge import ExecutionRecord, OpenOrdersQuery, OrderSubmit
from nexus_protocol.enums import OrderStatus, OrderType, Side, TimeInForce


def _submit(coid: str) -> OrderSubmit:
    return OrderSubmit(
        client_order_id=coid,
        account="Sim101",
        instrument="NQ 03-25",
        side=Side.BUY,
        quantity=1,
        order_type=OrderType.MARKET,
        time_in_force=TimeInForce.DAY,
    )


def _execution(n: int, coid: str) -> ExecutionRecord:
    return ExecutionRecord(
        execution_id=f"X{n}",
        account="Sim101",
        client_order_id=coid,
        platform_order_id="O1",
        instrument="NQ 03-25",
        side=Side.BUY,
        quantity=1,
        price=21000.0,
        commission=0.0,
        time_ns=1000 + n,
    )


def test_a_client_order_id_is_added_once() -> None:
    reg = Registry()
    entry, new = reg.add(_submit("A.n80"))
    again, new_again = reg.add(_submit("A.n80"))
    assert new and not new_again
    assert again is entry


def test_answer_lists_working_and_queried_orders_unknown_ids_and_executions_since() -> None:
    reg = Registry()
    working, _ = reg.add(_submit("W.n80"))
    working.status = OrderStatus.ACCEPTED
    done, _ = reg.add(_submit("D.n80"))
    done.status = OrderStatus.FILLED
    for n in (1, 2, 3):
        reg.record(_execution(n, "D.n80"))
    q = OpenOrdersQuery(
        request_id="q1", accounts=[], client_order_ids=["D.n80", "NEVER.n80"], since_execution_id="X1"
    )
    snap = reg.answer(q, 5)
    assert [o.client_order_id for o in snap.orders] == ["W.n80", "D.n80"]
    assert snap.unknown_client_order_ids == ["NEVER.n80"]
    assert [x.execution_id for x in snap.executions] == ["X2", "X3"]
    by_time = reg.answer(q.model_copy(update={"since_execution_id": "GONE", "since_time_ns": 1003}), 5)
    assert [x.execution_id for x in by_time.executions] == ["X3"]
    everything = reg.answer(q.model_copy(update={"since_execution_id": None}), 5)
    assert len(everything.executions) == 3
