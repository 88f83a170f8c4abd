"""Every execution the platform reported, per order, kept in Redis: the source of a fill's status.

A platform reports a fill as one execution (id, quantity, price); whether it completed the order is
the adapter's to say. The book keeps, per client order id, the executions seen in arrival order with
the cumulative quantity and average price *after* each, so:
- an execution seen again (live and in a snapshot, or after a restart) yields the very same report,
  and its fill id (client order id + execution id) dedupes on publish;
- the cumulative quantity survives an adapter restart (a partial fill before a SIGKILL and the rest
  after it still add up, and the last one is FILLED);
- an execution the platform amends (NinjaTrader can, for back-office corrections) is detected: the
  first report stands (it was published) and the difference is returned for an event.
The hash `{ns}:{state:adapter-{venue}}:executions` shares the venue's hash tag with its intents.
"""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass
from decimal import Decimal

import redis

from nexus_mesh.adapter import VenueReport
from nexus_protocol.enums import OrderStatus
from nexus_protocol.streams import Names


@dataclass(frozen=True, slots=True)
class ExecutionRecord:
    execution_id: str
    quantity: float
    price: float
    cum_qty: float
    avg_price: float


class ExecutionBook:
    def __init__(self, client: redis.Redis, names: Names, venue: str) -> None:
        self._client = client
        self.key = names.state(f"adapter-{venue}", "executions")
        self._lock = threading.Lock()  # live executions (reader thread) and reconciliation (main loop)

    def record(
        self, coid: str, execution_id: str, quantity: float, price: float
    ) -> tuple[ExecutionRecord, bool]:
        """The execution as first recorded, and whether this sighting differs from it (an amendment)."""
        with self._lock:
            rows: list[list[str | float]] = json.loads(self._client.hget(self.key, coid) or b"[]")
            for row in rows:
                if row[0] == execution_id:
                    rec = _record(row)
                    return rec, (rec.quantity, rec.price) != (float(quantity), float(price))
            prev_cum = Decimal(str(rows[-1][3])) if rows else Decimal(0)
            prev_avg = Decimal(str(rows[-1][4])) if rows else Decimal(0)
            qty, px = Decimal(str(quantity)), Decimal(str(price))
            cum = prev_cum + qty
            avg = (prev_avg * prev_cum + px * qty) / cum
            row_new: list[str | float] = [execution_id, float(qty), float(px), float(cum), float(avg)]
            rows.append(row_new)
            self._client.hset(self.key, coid, json.dumps(rows))
            return _record(row_new), False

    def report(
        self,
        coid: str,
        rec: ExecutionRecord,
        order_qty: float | None,
        *,
        venue_order_id: str | None,
        fee: float,
        ts_ns: int | None,
    ) -> VenueReport:
        """The fill report for one recorded execution of an order of `order_qty` (None: not ours)."""
        done = order_qty is None or rec.cum_qty >= order_qty - 1e-9
        return VenueReport(
            client_order_id=coid, status=OrderStatus.FILLED if done else OrderStatus.PARTIALLY_FILLED,
            exec_id=rec.execution_id, last_qty=rec.quantity, last_price=rec.price, cum_qty=rec.cum_qty,
            avg_price=rec.avg_price, leaves_qty=0.0 if done else max(0.0, (order_qty or 0.0) - rec.cum_qty),
            fee=fee, venue_order_id=venue_order_id, ts_ns=ts_ns,
        )  # fmt: skip

    def cumulative(self, coid: str) -> float:
        rows = json.loads(self._client.hget(self.key, coid) or b"[]")
        return float(rows[-1][3]) if rows else 0.0


def _record(row: list[str | float]) -> ExecutionRecord:
    return ExecutionRecord(str(row[0]), float(row[1]), float(row[2]), float(row[3]), float(row[4]))
