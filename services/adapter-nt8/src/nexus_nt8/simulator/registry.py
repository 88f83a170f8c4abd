"""The platform side's order registry, as the C# `OrderRegistry` keeps it (BridgeCore/OrderRegistry.cs).

- A client order id is placed at most once: `add` refuses a known id, and the caller answers the
  repeated `order_submit` with the order's current state.
- Every order's last state and a journal of executions outlive the connection, so the answer to
  `open_orders_query` after a reconnect tells the adapter what it missed, including which queried
  ids the platform never saw (the only proof that resubmitting is safe).
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass

from nexus_protocol.bridge import (
    ExecutionRecord,
    OpenOrdersQuery,
    OpenOrdersSnapshot,
    OrderSubmit,
    OrderUpdate,
    WorkingOrder,
)
from nexus_protocol.enums import OrderStatus


@dataclass(slots=True)
class RegistryEntry:
    submit: OrderSubmit
    platform_order_id: str | None = None
    status: OrderStatus = OrderStatus.PENDING
    filled_quantity: int = 0
    avg_fill_price: float | None = None
    reason: str | None = None

    def update(self, now_ns: int | None = None) -> OrderUpdate:
        return OrderUpdate(
            client_order_id=self.submit.client_order_id,
            account=self.submit.account,
            platform_order_id=self.platform_order_id,
            status=self.status,
            filled_quantity=self.filled_quantity,
            avg_fill_price=self.avg_fill_price,
            reason=self.reason,
            time_ns=now_ns or time.time_ns(),
        )

    def working(self) -> WorkingOrder:
        s = self.submit
        return WorkingOrder(
            client_order_id=s.client_order_id,
            platform_order_id=self.platform_order_id,
            account=s.account,
            instrument=s.instrument,
            side=s.side,
            quantity=s.quantity,
            order_type=s.order_type,
            limit_price=s.limit_price,
            stop_price=s.stop_price,
            time_in_force=s.time_in_force,
            status=self.status,
            filled_quantity=self.filled_quantity,
            avg_fill_price=self.avg_fill_price,
        )


class Registry:
    def __init__(self, max_executions: int = 10_000) -> None:
        self._lock = threading.Lock()
        self._entries: dict[str, RegistryEntry] = {}
        self._journal: list[ExecutionRecord] = []
        self._max = max_executions

    def add(self, submit: OrderSubmit) -> tuple[RegistryEntry, bool]:
        """The entry for this id, and whether it is new (False: a repeated submit, place nothing)."""
        with self._lock:
            existing = self._entries.get(submit.client_order_id)
            if existing is not None:
                return existing, False
            entry = self._entries[submit.client_order_id] = RegistryEntry(submit)
            return entry, True

    def remove(self, coid: str) -> None:
        with self._lock:
            self._entries.pop(coid, None)

    def find(self, coid: str) -> RegistryEntry | None:
        with self._lock:
            return self._entries.get(coid)

    def entries(self) -> list[RegistryEntry]:
        with self._lock:
            return list(self._entries.values())

    def record(self, execution: ExecutionRecord) -> None:
        with self._lock:
            self._journal.append(execution)
            del self._journal[: max(0, len(self._journal) - self._max)]

    def executions(self) -> list[ExecutionRecord]:
        with self._lock:
            return list(self._journal)

    def answer(self, query: OpenOrdersQuery, now_ns: int) -> OpenOrdersSnapshot:
        with self._lock:
            accounts = set(query.accounts)
            orders: list[WorkingOrder] = []
            listed: set[str] = set()
            for e in self._entries.values():
                if not e.status.terminal and (not accounts or e.submit.account in accounts):
                    orders.append(e.working())
                    listed.add(e.submit.client_order_id)
            unknown: list[str] = []
            for coid in query.client_order_ids:
                entry = self._entries.get(coid)
                if entry is None:
                    if coid not in unknown:
                        unknown.append(coid)
                elif coid not in listed:
                    orders.append(entry.working())
                    listed.add(coid)
            executions = self._since(query.since_execution_id, query.since_time_ns)
        return OpenOrdersSnapshot(
            request_id=query.request_id,
            orders=orders,
            unknown_client_order_ids=unknown,
            executions=executions,
            time_ns=now_ns,
        )

    def _since(self, execution_id: str | None, since_ns: int | None) -> list[ExecutionRecord]:
        if execution_id is not None:
            for i, x in enumerate(self._journal):
                if x.execution_id == execution_id:
                    return self._journal[i + 1 :]
        if since_ns is not None:
            return [x for x in self._journal if x.time_ns >= since_ns]
        return list(self._journal)
