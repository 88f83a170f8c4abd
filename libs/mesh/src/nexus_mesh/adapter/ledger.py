"""The execution ledger: every execution of every order, keyed by the platform's execution id.

Platforms that report bare executions (id, quantity, price) leave the order's cumulative quantity,
average price and FILLED/PARTIALLY_FILLED to the adapter. The ledger keeps, per client order id, the
executions in the order they were first seen, with the cumulative figures after each, so:
- an execution seen again (live and in a snapshot, after a restart, after a reconnect) yields the same
  report, and its fill id (client order id + execution id) dedupes on publish;
- the cumulative quantity survives an adapter restart (a partial fill before a SIGKILL and the rest
  after it still add up, and the last one is FILLED);
- an execution the platform changes afterwards (back-office corrections) is detected: the first
  report stands (it was published) and the base raises an event with both;
- fills a platform only shows as a new cumulative quantity (NinjaTrader's ATI; Bookmap's state of an
  order whose executions died with an earlier add-on process) are synthesized by `missing`, with an
  id derived from the order and that quantity, so seeing the same state again yields the same fill.
An execution is written here before its fill is published; the base republishes the ledger's fills of
every unfinished order at each reconcile, so a crash between the two loses nothing.
One Redis hash per venue (`{ns}:{state:adapter-{venue}}:executions`, field = client order id), sharing
the intents' hash tag and expiring with them; an in-memory cache is written through (one adapter
process per venue writes it).
"""

from __future__ import annotations

import json
import threading
from collections import OrderedDict
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import redis

from nexus_mesh.adapter.reports import VenueExecution, VenueReport
from nexus_protocol.enums import OrderStatus

CACHE_SIZE = 20_000  # orders kept in memory; older ones are read back from Redis when they come up
_EPS = 1e-9


@dataclass(frozen=True, slots=True)
class LedgerEntry:
    """One execution as first counted, with the order's cumulative figures after it."""

    exec_id: str
    qty: float
    price: float
    cum_qty: float
    avg_price: float
    fee: float = 0.0
    ts_ns: int | None = None
    venue_order_id: str | None = None
    synthetic: bool = False
    completes: bool = False

    def row(self) -> list[Any]:
        return [getattr(self, f) for f in _FIELDS]

    @classmethod
    def of(cls, row: list[Any]) -> LedgerEntry:
        return cls(**dict(zip(_FIELDS, row, strict=False)))


_FIELDS = LedgerEntry.__slots__


def report(entry: LedgerEntry, coid: str, order_qty: float) -> VenueReport:
    """The fill report of one counted execution of an order of `order_qty` venue units."""
    done = entry.completes or entry.cum_qty >= order_qty - _EPS
    return VenueReport(
        client_order_id=coid, status=OrderStatus.FILLED if done else OrderStatus.PARTIALLY_FILLED,
        exec_id=entry.exec_id, last_qty=entry.qty, last_price=entry.price, cum_qty=entry.cum_qty,
        avg_price=entry.avg_price, leaves_qty=0.0 if done else max(0.0, order_qty - entry.cum_qty),
        fee=entry.fee, venue_order_id=entry.venue_order_id, ts_ns=entry.ts_ns, synthetic=entry.synthetic,
    )  # fmt: skip


class ExecutionLedger:
    def __init__(self, client: redis.Redis, key: str, cache_size: int = CACHE_SIZE) -> None:
        self._client = client
        self.key = key
        self._cache: OrderedDict[str, list[LedgerEntry]] = OrderedDict()
        self._cache_size = cache_size
        self._lock = threading.RLock()  # pushed executions (platform threads) and the processor's

    def entries(self, coid: str) -> list[LedgerEntry]:
        with self._lock:
            cached = self._cache.get(coid)
            if cached is None:
                raw = self._client.hget(self.key, coid)
                cached = [LedgerEntry.of(r) for r in json.loads(raw)] if raw is not None else []
                self._remember(coid, cached)
            return list(cached)

    def many(self, coids: list[str]) -> dict[str, list[LedgerEntry]]:
        """The entries of each order that has any (one round trip for those not cached)."""
        with self._lock:
            missing = [c for c in coids if c not in self._cache]
            if missing:
                for coid, raw in zip(missing, self._client.hmget(self.key, missing), strict=True):
                    self._remember(coid, [LedgerEntry.of(r) for r in json.loads(raw)] if raw else [])
            return {c: list(self._cache[c]) for c in coids if self._cache.get(c)}

    def record(self, x: VenueExecution) -> tuple[LedgerEntry, bool]:
        """Count `x` (written to Redis before returning). Returns its entry, and True when `x` was
        counted before with another quantity or price (an amendment: the first entry stands)."""
        with self._lock:
            entries = self.entries(x.client_order_id)
            entry, amended = count(entries, x)
            if entry in entries:
                return entry, amended
            rows = [e.row() for e in (*entries, entry)]
            self._client.hset(self.key, x.client_order_id, json.dumps(rows, separators=(",", ":")))
            self._remember(x.client_order_id, [*entries, entry])
            return entry, False

    def missing(
        self, coid: str, filled: float, avg_price: float | None, **synthesized: Any
    ) -> VenueExecution | None:
        """`missing_fill` over the ledger's entries for `coid`."""
        return missing_fill(self.entries(coid), coid, filled, avg_price, **synthesized)

    def _remember(self, coid: str, entries: list[LedgerEntry]) -> None:
        self._cache[coid] = entries
        self._cache.move_to_end(coid)
        while len(self._cache) > self._cache_size:
            self._cache.popitem(last=False)


def count(entries: list[LedgerEntry], x: VenueExecution) -> tuple[LedgerEntry, bool]:
    """`x` as counted after `entries` (the entry already there if its id was counted, with True when
    its quantity or price differ now: an amendment)."""
    for e in entries:
        if e.exec_id == x.exec_id:
            return e, (e.qty, e.price) != (float(x.qty), float(x.price))
    prev_cum = Decimal(repr(entries[-1].cum_qty)) if entries else Decimal(0)
    prev_avg = Decimal(repr(entries[-1].avg_price)) if entries else Decimal(0)
    qty, px = Decimal(repr(float(x.qty))), Decimal(repr(float(x.price)))
    cum = prev_cum + qty
    avg = (prev_avg * prev_cum + px * qty) / cum
    return LedgerEntry(
        exec_id=x.exec_id, qty=float(qty), price=float(px), cum_qty=float(cum), avg_price=float(avg),
        fee=x.fee, ts_ns=x.ts_ns, venue_order_id=x.venue_order_id, synthetic=x.synthetic,
        completes=x.completes,
    ), False  # fmt: skip


def missing_fill(
    entries: list[LedgerEntry],
    coid: str,
    filled: float,
    avg_price: float | None,
    *,
    exec_id: str,
    fallback_price: float | None = None,
    ts_ns: int | None = None,
    venue_order_id: str | None = None,
) -> VenueExecution | None:
    """The fill to synthesize when the platform counts `filled` (at `avg_price`) for an order and the
    ledger less: quantity = the difference, price = what makes the ledger's average the platform's
    (else the ledger's own average, else `fallback_price`). None when nothing is missing or it cannot
    be priced. `exec_id` must derive from the order and `filled`."""
    cum = Decimal(repr(entries[-1].cum_qty)) if entries else Decimal(0)
    gap = Decimal(repr(float(filled))) - cum
    if gap <= Decimal(repr(_EPS)):
        return None
    if avg_price is not None:
        notional = cum * Decimal(repr(entries[-1].avg_price)) if entries else Decimal(0)
        total = Decimal(repr(avg_price)) * Decimal(repr(float(filled)))
        price = float(round((total - notional) / gap, 10))
    elif entries:
        price = entries[-1].avg_price
    elif fallback_price is not None:
        price = fallback_price
    else:
        return None
    return VenueExecution(client_order_id=coid, exec_id=exec_id, qty=float(gap), price=price,
                          ts_ns=ts_ns, venue_order_id=venue_order_id, synthetic=True)  # fmt: skip
