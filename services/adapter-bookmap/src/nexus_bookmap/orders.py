"""Bookmap's order events as the adapter base's `VenueReport`s, and the fill ledger that keeps every
fill counted exactly once across add-on restarts, adapter restarts and re-reported executions.

Fills come from `execution` frames only (Bookmap's executionId is stable: the report's fill id is
derived from it, so an execution seen twice dedupes on publish). `order_update` frames give the other
states (accepted, cancelled, rejected, expired); their `filled`/`avg_price` are used for one thing: to
find fills whose execution was never seen.

The ledger (`FillLedger`, one Redis hash per venue, field = client order id) records per order the
add-on process it was sent to, Bookmap's order id, and every fill counted so far (real and synthetic),
in order. Cumulative quantity, average price and the FILLED/PARTIALLY_FILLED status of each fill report
are computed from it, so they are the same however often a fill is re-reported. A fill is written to
the ledger before its report is published, and reconciliation re-publishes every fill in the ledger
for each order the add-on reports (publishing dedupes), so a crash between the two loses nothing.

Synthesized fills (DESIGN: anything synthesized during recovery gets a deterministic id). An add-on
process reports every execution it saw (held while the link is down, listed in `open_orders_snapshot`),
so for an order sent to the add-on process that answers a snapshot, the ledger plus that snapshot is
complete. Only when the order was sent to an earlier add-on process (a new `instance_id`: Bookmap
restarted the script) can executions be lost; then Bookmap's `filled` beyond the ledger is a fill to
synthesize: quantity = the difference, price = what makes the ledger's average Bookmap's, id
`syn-{bookmap order id}-{filled}` (the same whenever that state is seen again).
Assumption (Bookmap's L1 API, not verified on a live Bookmap): an order's execution callback precedes
the order update that counts it; the simulator and the add-on keep that order.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import redis

from nexus_bookmap import addon_protocol as ap
from nexus_mesh.adapter import VenueReport
from nexus_protocol.enums import OrderStatus
from nexus_protocol.messages import VenueOrder

log = logging.getLogger(__name__)
CACHE_SIZE = 20_000  # orders kept in memory; older ones are read back from Redis when they come up
_EPS = 1e-9
OPEN = frozenset({OrderStatus.PENDING, OrderStatus.ACCEPTED, OrderStatus.PARTIALLY_FILLED})
_STATE_ONLY = frozenset(
    {OrderStatus.ACCEPTED, OrderStatus.CANCELLED, OrderStatus.REJECTED, OrderStatus.EXPIRED}
)


def foreign_id(order_id: str | None) -> str:
    """The id under which an order this gateway did not send is reported (the base raises an event)."""
    return f"bookmap:{order_id}"


@dataclass(frozen=True, slots=True)
class LedgerFill:
    exec_id: str
    qty: float
    price: float
    ts_ns: int | None = None
    synthetic: bool = False


@dataclass(slots=True)
class OrderRecord:
    """What the adapter has counted of one of its orders."""

    coid: str
    instance: str | None = None  # the add-on process the order was sent to
    order_id: str | None = None  # Bookmap's
    fills: list[LedgerFill] = field(default_factory=list)

    @property
    def cum_qty(self) -> float:
        return sum(f.qty for f in self.fills)

    @property
    def notional(self) -> float:
        return sum(f.qty * f.price for f in self.fills)

    @property
    def avg_price(self) -> float | None:
        cum = self.cum_qty
        return self.notional / cum if cum > _EPS else None

    def has(self, exec_id: str) -> bool:
        return any(f.exec_id == exec_id for f in self.fills)

    def dumps(self) -> str:
        fills = [[f.exec_id, f.qty, f.price, f.ts_ns, f.synthetic] for f in self.fills]
        return json.dumps({"i": self.instance, "o": self.order_id, "f": fills}, separators=(",", ":"))

    @classmethod
    def loads(cls, coid: str, text: str | bytes) -> OrderRecord:
        data = json.loads(text)
        fills = [LedgerFill(exec_id=x, qty=q, price=p, ts_ns=t, synthetic=s) for x, q, p, t, s in data["f"]]
        return cls(coid=coid, instance=data["i"], order_id=data["o"], fills=fills)


class FillLedger:
    """OrderRecords in memory, written through to a Redis hash. Use `lock` around read-modify-write."""

    def __init__(self, client: redis.Redis, key: str) -> None:
        self._client = client
        self._key = key
        self._cache: dict[str, OrderRecord] = {}
        self.lock = threading.RLock()

    def get(self, coid: str) -> OrderRecord:
        record = self._cache.get(coid)
        if record is None:
            raw = self._client.hget(self._key, coid)
            record = OrderRecord.loads(coid, raw) if raw is not None else OrderRecord(coid=coid)
            self._cache[coid] = record
            trim(self._cache)
        return record

    def save(self, record: OrderRecord) -> None:
        self._client.hset(self._key, record.coid, record.dumps())
        self._cache[record.coid] = record

    def add(self, record: OrderRecord, fill: LedgerFill) -> int | None:
        """Count a fill (saved at once); its index, or None if its execution id was counted already."""
        if record.has(fill.exec_id):
            return None
        record.fills.append(fill)
        try:
            self.save(record)
        except redis.RedisError:
            record.fills.pop()
            raise
        return len(record.fills) - 1


def trim(cache: dict[str, Any], keep: int = CACHE_SIZE) -> None:
    """Forget the oldest entries of an in-memory cache (Redis keeps the truth)."""
    while len(cache) > keep:
        del cache[next(iter(cache))]


# ---- reports ---------------------------------------------------------------------------------------


def fill_report(record: OrderRecord, index: int, order_qty: float) -> VenueReport:
    """The report of the ledger's `index`-th fill, with cumulative figures as of that fill."""
    counted = record.fills[: index + 1]
    fill = counted[-1]
    cum = sum(f.qty for f in counted)
    avg = sum(f.qty * f.price for f in counted) / cum
    done = cum >= order_qty - _EPS
    return VenueReport(
        client_order_id=record.coid, status=OrderStatus.FILLED if done else OrderStatus.PARTIALLY_FILLED,
        exec_id=fill.exec_id, last_qty=fill.qty, last_price=fill.price, cum_qty=cum, avg_price=avg,
        leaves_qty=max(order_qty - cum, 0.0), venue_order_id=record.order_id, ts_ns=fill.ts_ns,
        synthetic=fill.synthetic,
    )  # fmt: skip


def fill_reports(record: OrderRecord, order_qty: float) -> list[VenueReport]:
    return [fill_report(record, i, order_qty) for i in range(len(record.fills))]


def state_report(update: ap.OrderUpdate, record: OrderRecord, order_qty: float) -> VenueReport | None:
    """A state change worth reporting (accepted, cancelled, rejected, expired); fills come from the ledger."""
    if update.status not in _STATE_ONLY:
        return None
    cum = record.cum_qty
    open_ = update.status is OrderStatus.ACCEPTED
    return VenueReport(
        client_order_id=record.coid, status=update.status, cum_qty=cum, avg_price=record.avg_price,
        leaves_qty=max(order_qty - cum, 0.0) if open_ else 0.0, reason=update.reason,
        venue_order_id=update.order_id, ts_ns=update.time_ms * 1_000_000,
    )  # fmt: skip


def working_report(update: ap.OrderUpdate, record: OrderRecord, order_qty: float) -> VenueReport:
    """An open order as reconciliation reports it (accepted, with what filled so far)."""
    cum = record.cum_qty
    return VenueReport(
        client_order_id=record.coid, status=OrderStatus.ACCEPTED, cum_qty=cum, avg_price=record.avg_price,
        leaves_qty=max(order_qty - cum, 0.0), venue_order_id=update.order_id,
        ts_ns=update.time_ms * 1_000_000,
    )  # fmt: skip


def foreign_report(update: ap.OrderUpdate | ap.Execution) -> VenueReport:
    """An order or execution this gateway did not send (manual in Bookmap): reported for an event."""
    coid = foreign_id(update.order_id)
    if isinstance(update, ap.Execution):
        return VenueReport(
            client_order_id=coid, status=OrderStatus.PARTIALLY_FILLED, exec_id=update.exec_id,
            last_qty=update.size, last_price=update.price, venue_order_id=update.order_id,
            ts_ns=update.time_ms * 1_000_000,
        )  # fmt: skip
    return VenueReport(
        client_order_id=coid, status=update.status, cum_qty=update.filled, avg_price=update.avg_price,
        venue_order_id=update.order_id, reason=update.reason,
    )  # fmt: skip


def execution_fill(x: ap.Execution) -> LedgerFill:
    return LedgerFill(exec_id=x.exec_id, qty=x.size, price=x.price, ts_ns=x.time_ms * 1_000_000)


def missing_fill(record: OrderRecord, update: ap.OrderUpdate, instance: str) -> LedgerFill | None:
    """The fill to synthesize when Bookmap counts more than the ledger for an order sent to an earlier
    add-on process (see the module docstring); None when nothing is missing or it cannot be priced."""
    gap = update.filled - record.cum_qty
    if gap <= _EPS or record.instance == instance:
        return None
    if update.avg_price is not None:
        price = (update.avg_price * update.filled - record.notional) / gap
    else:
        fallback = record.avg_price if record.avg_price is not None else update.limit_price
        if fallback is None:
            return None
        price = fallback
    return LedgerFill(exec_id=f"syn-{update.order_id}-{update.filled:g}", qty=gap, price=round(price, 10),
                      ts_ns=update.time_ms * 1_000_000, synthetic=True)  # fmt: skip


# ---- reconciliation -------------------------------------------------------------------------------


@dataclass(slots=True)
class Absorbed:
    """What one `open_orders_snapshot` says, as the base's reconciliation wants it."""

    reports: list[VenueReport] = field(default_factory=list)  # every fill and final state (publish dedupes)
    working: list[VenueReport] = field(default_factory=list)  # open orders (ours and foreign)
    positions: dict[str, float] = field(default_factory=dict)  # alias -> signed position
    found: set[str] = field(default_factory=set)  # our client order ids the add-on knows


def absorb(
    snap: ap.OpenOrdersSnapshot,
    instance: str,
    ledger: FillLedger,
    ours: Callable[[str], VenueOrder | None],
    order_ids: dict[str, str],
) -> Absorbed:
    """Count the snapshot's executions in the ledger, synthesize the fills that died with an earlier
    add-on process, and report everything. `ours` gives our order for a client order id (None: not
    ours); `order_ids` (Bookmap order id -> client order id) is completed from the snapshot."""
    out = Absorbed(positions={p.alias: p.position for p in snap.positions})
    for o in snap.orders:
        if o.client_id and o.order_id:
            order_ids[o.order_id] = o.client_id
    for x in snap.executions:
        coid = x.client_id or order_ids.get(x.order_id)
        if coid is None or ours(coid) is None:
            out.reports.append(foreign_report(x))
            continue
        with ledger.lock:
            ledger.add(ledger.get(coid), execution_fill(x))
    for o in snap.orders:
        order = ours(o.client_id) if o.client_id else None
        if o.client_id is None or order is None:
            if o.status in OPEN:
                out.working.append(foreign_report(o))
            continue
        out.found.add(o.client_id)
        with ledger.lock:
            record = ledger.get(o.client_id)
            record.order_id = record.order_id or o.order_id
            synthetic = missing_fill(record, o, instance)
            if synthetic is not None:
                log.warning("%s: Bookmap counts %g filled, the ledger %g: synthesizing %s",
                            o.client_id, o.filled, record.cum_qty, synthetic.exec_id)  # fmt: skip
                ledger.add(record, synthetic)
            out.reports += fill_reports(record, order.venue_quantity)
        if o.status is OrderStatus.PENDING:
            continue  # Bookmap has not answered yet: neither working nor final
        if o.status in OPEN:
            out.working.append(working_report(o, record, order.venue_quantity))
        elif (state := state_report(o, record, order.venue_quantity)) is not None:
            out.reports.append(state)
    return out
