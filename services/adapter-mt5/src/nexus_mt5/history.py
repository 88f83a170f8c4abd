"""What the terminal remembers, searched: our orders and deals by ticket, by comment, by time.

This is how the adapter keeps "no order sent twice" and "no fill lost" without any state of its own
that a crash could lose: the terminal is the record.

- An order is ours when its magic number is the instance's; its client order id is its comment
  (our ids are 30 characters, the terminal keeps 31). A deal is attributed through its order: the
  order's comment, never the deal's own (brokers may rewrite deal comments).
- `find(coid)`: open orders (`orders_get`) + finished orders set up within the last
  `history_days` (`history_orders_get(from, to)`), then deals in that window (`history_deals_get`) for
  orders the order history does not show yet. Times are the trade server's clock, which is not UTC
  at most brokers: windows are widened by a day on each side rather than trusted to the second.
- `reports(coid, order)`: the order and all its deals (`history_deals_get(ticket=order)`), as reports.
"""

from __future__ import annotations

import time
from collections.abc import Iterable

from nexus_mesh.adapter import VenueReport
from nexus_mt5.client import ApiTerminal, DealRec, OrderRec, Record, trade_deals
from nexus_mt5.mapping import order_reports

DAY_S = 86_400
COIDS_MAX = 100_000


class History:
    """Queries over one terminal for one instance (magic number)."""

    def __init__(
        self, terminal: ApiTerminal, *, magic: int, history_days: int, server_utc_offset_s: int
    ) -> None:
        self.t = terminal
        self.magic = magic
        self.history_days = history_days
        self.offset_s = server_utc_offset_s
        self.coids: dict[int, str] = {}  # order ticket -> client order id, learned as we go

    def server_now_s(self) -> int:
        return int(time.time()) + self.offset_s

    def window(self, start_s: int | None = None) -> tuple[int, int]:
        now = self.server_now_s()
        start = now - self.history_days * DAY_S if start_s is None else start_s
        return max(start, 0), now + 2 * DAY_S

    # ---- orders --------------------------------------------------------------------------------------

    def open_orders(self) -> list[OrderRec]:
        return [o for o in _orders(self.t.orders_get()) if o.magic == self.magic]

    def order(self, ticket: int) -> OrderRec | None:
        """One order by ticket, working or finished."""
        for rec in (
            *_orders(self.t.orders_get(ticket=ticket)),
            *_orders(self.t.history_orders_get(ticket=ticket)),
        ):
            if rec.ticket == ticket:
                return rec
        return None

    def finished_orders(self, start_s: int | None = None) -> list[OrderRec]:
        return [o for o in _orders(self.t.history_orders_get(*self.window(start_s))) if o.magic == self.magic]

    def remember(self, ticket: int, coid: str) -> None:
        self.coids[ticket] = coid
        if len(self.coids) > COIDS_MAX:  # oldest first (insertion order); the terminal still has them
            for old in list(self.coids)[: COIDS_MAX // 2]:
                del self.coids[old]

    def coid_of(self, order: OrderRec) -> str | None:
        if order.magic != self.magic or not order.comment:
            return self.coids.get(order.ticket)
        self.remember(order.ticket, order.comment)
        return order.comment

    def find(self, coid: str) -> list[OrderRec]:
        """Every order at the terminal that carries `coid` (normally one; none if it never arrived)."""
        known = [t for t, c in self.coids.items() if c == coid]
        found = {o.ticket: o for t in known if (o := self.order(t)) is not None}
        if not found:
            for o in (*self.open_orders(), *self.finished_orders()):
                if o.comment == coid:
                    found[o.ticket] = o
        if not found:  # the order history may lag its deals: find the order through them
            for d in self.deals():
                if d.magic == self.magic and d.comment == coid and d.order not in found:
                    found[d.order] = self.order(d.order) or _placeholder(d, coid)
        for o in found.values():
            self.remember(o.ticket, coid)
        return sorted(found.values(), key=lambda o: o.ticket)

    # ---- deals ---------------------------------------------------------------------------------------

    def deals(self, start_s: int | None = None) -> list[DealRec]:
        """Trade deals (any magic) made since `start_s` (server time), oldest first."""
        return trade_deals(self.t.history_deals_get(*self.window(start_s)))

    def deals_of(self, ticket: int) -> list[DealRec]:
        return trade_deals(self.t.history_deals_get(ticket=ticket))

    # ---- reports -------------------------------------------------------------------------------------

    def reports(
        self, coid: str, order: OrderRec | None, ticket: int | None = None
    ) -> tuple[list[VenueReport], list[int]]:
        """The order's reports and the deal tickets they cover. An order known only from its deals
        (the history lags) reports nothing yet: the poll reports its deals once the order shows."""
        if order is not None and order.volume_initial <= 0:
            return [], []
        number = order.ticket if order is not None else ticket
        deals = self.deals_of(number) if number else []
        return order_reports(coid, order, deals, server_utc_offset_s=self.offset_s), [d.ticket for d in deals]


def _orders(records: Iterable[Record] | None) -> list[OrderRec]:
    return [OrderRec.of(r) for r in records or ()]


def _placeholder(deal: DealRec, coid: str) -> OrderRec:
    """An order known only from its deals: it exists (never resend it), its size is not known yet."""
    return OrderRec(
        ticket=deal.order,
        symbol=deal.symbol,
        state=0,
        magic=deal.magic,
        volume_initial=0.0,
        volume_current=0.0,
        comment=coid,
        time_setup_msc=deal.time_msc,
        time_done_msc=0,
    )
