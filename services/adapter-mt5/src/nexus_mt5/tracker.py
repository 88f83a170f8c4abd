"""Which of this instance's orders are working and which deals were reported: fills once, none lost.

The terminal is the record; this module only remembers, per process, what it already reported:
- `seen`: deal tickets reported (by order_send's answer, a lookup, reconcile or the poll). The poll
  reports a deal only if it is not in `seen`; a restart starts empty and relies on reconcile
  re-reading from the marker (the publish dedupes what had already gone out).
- `working`: our orders still working at the terminal (ticket -> client order id). The poll watches
  them for an end without a new deal (cancelled, expired at the end of the B3 session).
- `cursor`: the newest deal looked at (its server time bounds the poll's history window).

Every report is built from the order and *all* its deals each time (`History.reports`), so cumulative
quantity, average price and status are right whatever was missed in between.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from nexus_mesh.adapter import VenueReport
from nexus_mt5.client import DealRec, OrderRec
from nexus_mt5.history import DAY_S, History
from nexus_mt5.mapping import Marker

POLL_SLACK_S = 300  # the poll re-reads deals this far before the newest one seen (late-booked deals)
SEEN_MAX = 100_000


@dataclass(slots=True)
class Reconciled:
    working: list[VenueReport]  # reports of orders still working (open orders)
    done: list[VenueReport]  # reports of finished orders
    marker: Marker  # newest deal read (ticket 0: none yet)
    working_coids: list[str] = field(default_factory=list)


class Tracker:
    """The per-process memory of one adapter instance over its terminal's history."""

    def __init__(self, magic: int) -> None:
        self.magic = magic
        self.seen: set[int] = set()
        self.working: dict[int, str] = {}
        self.cursor: Marker | None = None
        self.deals_reported = 0

    def __repr__(self) -> str:
        return f"<Tracker working={len(self.working)} seen={len(self.seen)} cursor={self.cursor}>"

    def note(self, coid: str, order: OrderRec, covered: list[int]) -> None:
        """Reports for `order` (covering these deals) went out."""
        fresh = [t for t in covered if t not in self.seen]
        self.deals_reported += len(fresh)
        self.seen.update(covered)
        if order.working:
            self.working[order.ticket] = coid
        else:
            self.working.pop(order.ticket, None)
        if len(self.seen) > SEEN_MAX:  # old deals are outside every window the poll reads
            self.seen = set(sorted(self.seen)[SEEN_MAX // 2 :])

    def lookup(self, h: History, coid: str) -> list[VenueReport] | None:
        orders = h.find(coid)
        if not orders:
            return None
        out: list[VenueReport] = []
        for o in orders:
            reports, covered = h.reports(coid, o)
            self.note(coid, o, covered)
            out += reports
        return out

    def ours(
        self, h: History, deals: list[DealRec], cache: dict[int, OrderRec | None]
    ) -> dict[int, tuple[str, OrderRec]]:
        """This instance's orders among the deals' orders, each looked up once (through `cache`)."""
        out: dict[int, tuple[str, OrderRec]] = {}
        for d in deals:
            if d.order not in cache:
                cache[d.order] = h.order(d.order)
            rec = cache[d.order]
            coid = h.coid_of(rec) if rec is not None else None
            if rec is not None and coid is not None:
                out[rec.ticket] = (coid, rec)
            elif rec is not None or d.magic != self.magic:
                self.seen.add(d.ticket)  # someone else's deal (a manual trade, another magic): never ours
            # else: ours by magic but its order is not in the history yet; the next poll retries
        return out

    def reconcile(self, h: History, since: Marker | None, overlap_s: int) -> Reconciled:
        """Every order of ours working now, finished or with deals since `since` minus the overlap."""
        start = since.time_msc // 1000 - overlap_s if since is not None and since.time_msc else None
        open_now = h.open_orders()
        cache: dict[int, OrderRec | None] = {o.ticket: o for o in (*open_now, *h.finished_orders(start))}
        cursor = since or self._no_deal_yet(h)
        deals = h.deals(start)
        for d in deals:
            cursor = cursor.after(d)
        touched = self.ours(h, deals, cache)
        for ticket, o in cache.items():
            if o is not None and ticket not in touched and (coid := h.coid_of(o)) is not None:
                touched[ticket] = (coid, o)
        result = Reconciled(working=[], done=[], marker=cursor)
        self.working = {}
        for _ticket, (coid, rec) in sorted(touched.items()):
            reports, covered = h.reports(coid, rec)
            self.note(coid, rec, covered)
            (result.working if rec.working else result.done).extend(reports)
        result.working_coids = sorted(set(self.working.values()))
        if self.cursor is None or cursor.ticket >= self.cursor.ticket:
            self.cursor = cursor
        return result

    @staticmethod
    def _no_deal_yet(h: History) -> Marker:
        """Where to look from before any deal was seen: a day back on our idea of the server's clock,
        so a wrong NX_MT5_SERVER_UTC_OFFSET_S (up to a day) cannot hide the next deal."""
        return Marker(0, (h.server_now_s() - DAY_S) * 1000)

    def poll(self, h: History) -> tuple[list[VenueReport], bool]:
        """Reports of deals not reported yet and of working orders that ended; True if the cursor moved."""
        cursor = self.cursor or self._no_deal_yet(h)
        window = h.deals(cursor.time_msc // 1000 - POLL_SLACK_S)
        for d in window:  # reported ones too: order_send's deals went out with its answer
            cursor = cursor.after(d)
        deals = [d for d in window if d.ticket not in self.seen]
        touched = self.ours(h, deals, {})
        if self.working:
            open_now = {o.ticket for o in h.open_orders()}
            for ticket, coid in list(self.working.items()):
                if ticket not in open_now and ticket not in touched and (rec := h.order(ticket)) is not None:
                    touched[ticket] = (coid, rec)
        out: list[VenueReport] = []
        for coid, rec in touched.values():
            reports, covered = h.reports(coid, rec)
            out += [r for r in reports if not r.is_fill or int(r.exec_id or 0) not in self.seen]
            self.note(coid, rec, covered)
        moved = self.cursor is None or cursor.ticket > self.cursor.ticket
        self.cursor = cursor
        return out, moved
