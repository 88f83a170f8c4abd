"""What the client asks a DTC server after every (re)connect, and to find one order again.

DTC has no "order by ClientOrderID" request and its fill history (HISTORICAL_ORDER_FILL_RESPONSE)
names orders by ServerOrderID only. So the gateway remembers ServerOrderID -> ClientOrderID for
every order it has seen an ORDER_UPDATE for (`OrderIds`, persisted by the adapter in Redis), and
recovery goes:

1. OPEN_ORDERS_REQUEST: every working order, with both ids (learned).
2. CURRENT_POSITIONS_REQUEST: the positions, to compare with the gateway's view.
3. HISTORICAL_ORDER_FILLS_REQUEST from the last fill seen (StartDateTime, and NumberOfDays for older
   servers): which orders filled while we were away. For each of them, its complete fill history
   (by ServerOrderID), so cumulative quantities and the FILLED status are exact and the fallback
   execution id (`reports`) is the same as live.
4. A ServerOrderID we never saw (the connection dropped before the order's first ORDER_UPDATE):
   OPEN_ORDERS_REQUEST for that one order (RequestAllOrders=0) to learn its ClientOrderID. Sierra
   Chart documents open orders only; if it does not answer for a filled order, the fill is
   reported as a foreign order (`sierra:{ServerOrderID}`) and the position check flags it.

Every report is derived deterministically from what the server says, so running this again after
another drop, or after a restart, publishes nothing twice.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable

from nexus_mesh.adapter import Reconciliation, VenueReport
from nexus_protocol.enums import OrderStatus
from nexus_sierra.config import ClientConfig
from nexus_sierra.dtc.codec import (
    CurrentPositionsRequest,
    DtcMessage,
    HistoricalOrderFillResponse,
    HistoricalOrderFillsRequest,
    Message,
    OpenOrdersRequest,
    OrderUpdate,
    PositionUpdate,
)
from nexus_sierra.mapping import (
    OrderRef,
    fill_reports,
    final_state_report,
    open_order_report,
    positions,
    ref_of,
)

MAX_DAYS = 60
Request = Callable[[Callable[[int], DtcMessage], Callable[[Message], bool], str], list[Message]]
"""Send the message built for a fresh RequestID and collect the answer until `done`; `what` names it."""


class OrderIds:
    """ServerOrderID <-> ClientOrderID of the orders this client has seen, thread-safe.

    `remember` is called once per newly learned pair (the adapter persists it); `resolve` and
    `server_id_of` are asked for pairs learned by an earlier process."""

    def __init__(
        self,
        remember: Callable[[str, OrderRef], None],
        resolve: Callable[[str], OrderRef | None],
        server_id_of: Callable[[str], str | None],
    ) -> None:
        self._remember, self._resolve, self._server_id_of = remember, resolve, server_id_of
        self._refs: dict[str, OrderRef] = {}
        self._sids: dict[str, str] = {}
        self._foreign: set[str] = set()
        self._lock = threading.Lock()

    def learn(self, u: OrderUpdate) -> None:
        ref = ref_of(u)
        if ref is not None:
            self.put(u.server_order_id, ref)

    def put(self, sid: str, ref: OrderRef) -> None:
        with self._lock:
            known = self._refs.get(sid)
            if known == ref or (known is not None and ref.order_qty is None):
                return
            self._refs[sid] = ref
            self._sids[ref.client_order_id] = sid
            self._foreign.discard(sid)
        self._remember(sid, ref)

    def get(self, sid: str) -> OrderRef | None:
        with self._lock:
            ref = self._refs.get(sid)
        if ref is None:
            ref = self._resolve(sid)
            if ref is not None:
                with self._lock:
                    self._refs[sid] = ref
                    self._sids[ref.client_order_id] = sid
        return ref

    def server_id(self, coid: str) -> str | None:
        with self._lock:
            sid = self._sids.get(coid)
        return sid if sid is not None else self._server_id_of(coid)

    def is_foreign(self, sid: str) -> bool:
        with self._lock:
            return sid in self._foreign

    def mark_foreign(self, sid: str) -> None:
        with self._lock:
            self._foreign.add(sid)


def _open_done(m: Message) -> bool:
    return isinstance(m, OrderUpdate) and (m.no_orders or m.message_number >= m.total_num_messages)


def _positions_done(m: Message) -> bool:
    return isinstance(m, PositionUpdate) and (m.no_positions or m.message_number >= m.total_number_messages)


def _fills_done(m: Message) -> bool:
    return isinstance(m, HistoricalOrderFillResponse) and (
        m.no_order_fills or m.message_number >= m.total_number_messages
    )


def marker_seconds(marker: str | None) -> int:
    try:
        return max(0, int(marker)) if marker else 0
    except ValueError:
        return 0


class Recoverer:
    """Recovery queries over one logged-on session (`request` sends and collects the answer)."""

    def __init__(self, request: Request, cfg: ClientConfig, ids: OrderIds, account: str) -> None:
        self._request = request
        self._cfg = cfg
        self._ids = ids
        self._account = account

    # ---- the four requests -------------------------------------------------------------------

    def open_orders(self) -> list[OrderUpdate]:
        def build(rid: int) -> DtcMessage:
            return OpenOrdersRequest(request_id=rid, trade_account=self._account)

        got = [m for m in self._request(build, _open_done, "open orders") if isinstance(m, OrderUpdate)]
        found = [u for u in got if not u.no_orders and u.client_order_id]
        for u in found:
            self._ids.learn(u)
        return found

    def order(self, sid: str) -> OrderUpdate | None:
        def build(rid: int) -> DtcMessage:
            return OpenOrdersRequest(
                request_id=rid, request_all_orders=0, server_order_id=sid, trade_account=self._account
            )

        got = [m for m in self._request(build, _open_done, f"order {sid}") if isinstance(m, OrderUpdate)]
        found = [u for u in got if not u.no_orders and u.server_order_id == sid]
        for u in found:
            self._ids.learn(u)
        return found[-1] if found else None

    def positions(self) -> dict[str, float]:
        def build(rid: int) -> DtcMessage:
            return CurrentPositionsRequest(request_id=rid, trade_account=self._account)

        got = [m for m in self._request(build, _positions_done, "positions") if isinstance(m, PositionUpdate)]
        return positions(got, self._cfg.venue_symbol)

    def fills(
        self, *, sid: str = "", start_s: int = 0, days: int | None = None
    ) -> list[HistoricalOrderFillResponse]:
        def build(rid: int) -> DtcMessage:
            return HistoricalOrderFillsRequest(
                request_id=rid,
                server_order_id=sid,
                number_of_days=days or self._cfg.fill_lookback_days,
                trade_account=self._account,
                start_date_time_s=start_s,
            )

        got = self._request(build, _fills_done, "historical fills")
        return [m for m in got if isinstance(m, HistoricalOrderFillResponse) and not m.no_order_fills]

    # ---- what the client and the adapter ask ---------------------------------------------------

    def reconcile(self, since: str | None) -> Reconciliation:
        working = self.open_orders()
        held = self.positions()
        start_s = marker_seconds(since)
        days = self._cfg.fill_lookback_days
        if start_s:
            days = min(MAX_DAYS, max(days, math.ceil((time.time() - start_s) / 86_400) + 1))
        window = self.fills(start_s=start_s, days=days)
        reports: list[VenueReport] = []
        for sid in dict.fromkeys(f.server_order_id for f in window if f.server_order_id):
            reports += self.order_fills(sid)
        last = max((f.date_time_s for f in window), default=0)
        marker = str(max(last, start_s)) if last or start_s else since
        return Reconciliation(
            open_orders=[open_order_report(u) for u in working],
            reports=reports,
            positions=held,
            marker=marker,
        )

    def order_fills(self, sid: str) -> list[VenueReport]:
        return fill_reports(self.fills(sid=sid), self.resolve(sid), sid)

    def resolve(self, sid: str) -> OrderRef | None:
        ref = self._ids.get(sid)
        if (ref is None or ref.order_qty is None) and not self._ids.is_foreign(sid):
            u = self.order(sid)  # learns it if the server answers
            ref = self._ids.get(sid)
            if u is None and ref is None:
                self._ids.mark_foreign(sid)
        return ref

    def lookup(self, coid: str) -> list[VenueReport] | None:
        for u in self.open_orders():
            if u.client_order_id == coid:
                return [open_order_report(u), *self.order_fills(u.server_order_id)]
        sid = self._ids.server_id(coid)
        if sid is None:  # never saw an ORDER_UPDATE for it: look among recent fills' orders
            for f in self.fills():
                ref = self.resolve(f.server_order_id) if f.server_order_id else None
                if ref is not None and ref.client_order_id == coid:
                    sid = f.server_order_id
                    break
        if sid is None:
            return None
        out = self.order_fills(sid)
        state = self.order(sid)
        final = final_state_report(state) if state is not None else None
        if final is not None:
            out.append(final)
        if not out:  # it reached Sierra (we saw it), is not working and never filled
            out.append(VenueReport(client_order_id=coid, status=OrderStatus.ACCEPTED, venue_order_id=sid))
        return out
