"""The Bookmap adapter: the adapter base (`nexus_mesh.adapter`) over the add-on's WebSocket.

The add-on (Bookmap's Python add-on script) dials this adapter; `server.AddonServer` runs the socket in
its own thread and hands frames, in order, to this class's `on_*` methods on one dispatcher thread.
The base's processor loop (orders, reconcile, heartbeats) runs on the main thread.

What it adds to the base's guarantees (intent before send, lookup on redelivery, unknown outcomes,
reconcile on every reconnect, deterministic fill ids):
- A VenueOrder becomes one `order_submit` whose `client_id` (Bookmap's clientId) is our client order id.
  `submit` waits a bounded time for the add-on's first `order_update` for it; a timeout or a dropped
  link is an unknown outcome, resolved by looking the order up in the add-on's records, never by
  sending again. The add-on itself never passes one client id to Bookmap twice.
- Every hello triggers reconciliation (`open_orders_query`: working orders, executions, positions); a
  new `instance_id` means the add-on restarted, which is logged as an event and lets the fill ledger
  synthesize fills whose execution died with the old process (`orders`).
- Fills are keyed by Bookmap's execution id and counted in a ledger in Redis (`orders.FillLedger`), so
  re-reported executions dedupe and cumulative figures never double.
- Data-only connections: the add-on's `hello.can_trade` goes into the venue heartbeat's detail, which
  the router reads (check `venue_data_only`); an order that reaches the adapter anyway is refused here
  with the reason, before anything is sent.
- Market data (`book.BookKeeper`): ticks, depth snapshots and consecutive depth updates on
  nx:md:raw:{venue}; readers' resnapshot requests are answered from the adapter's book; a gap in the
  add-on's own data freezes the book until the add-on's snapshot, forced by a reconnect if it is late.
"""

from __future__ import annotations

import logging
import threading
import time

import redis
from pydantic import ValidationError

from nexus_bookmap import addon_protocol as ap
from nexus_bookmap import orders as ords
from nexus_bookmap.book import BookKeeper
from nexus_bookmap.config import BookmapSettings
from nexus_bookmap.server import AddonServer, ServerConfig
from nexus_bookmap.waiters import Waiters
from nexus_mesh.adapter import Adapter, Reconciliation, UnknownOutcome, VenueReport
from nexus_mesh.publish import Output
from nexus_protocol.book import resnapshot_key
from nexus_protocol.codec import Envelope
from nexus_protocol.enums import OrderStatus, OrderType, Severity, Side
from nexus_protocol.errors import VenueError
from nexus_protocol.ids import derived_id
from nexus_protocol.messages import Event, VenueOrder

log = logging.getLogger(__name__)
_REQUESTS_EVERY_S = 0.2  # how often readers' resnapshot requests are looked at


class BookmapAdapter(Adapter):
    settings: BookmapSettings

    def __init__(self, settings: BookmapSettings, client: redis.Redis) -> None:
        super().__init__(settings, client)
        owner = f"adapter-{self.venue}"
        self.ledger = ords.FillLedger(client, self.names.state(owner, "ledger"))
        self.intents.expire_with(self.names.state(owner, "ledger"))
        self._instance_key = self.names.state(owner, "addon_instance")
        self._requests_key = resnapshot_key(self.names, self.venue)
        self.books = BookKeeper(self.venue, batch_s=settings.bookmap_md_batch_ms / 1000)
        self.server = AddonServer(ServerConfig(
            host=settings.bookmap_host, port=settings.bookmap_port, token=settings.token,
            ssl_context=settings.ssl_context(), handshake_timeout_s=settings.bookmap_handshake_timeout_s,
            heartbeat_s=settings.bookmap_heartbeat_s, dead_after_s=settings.bookmap_dead_after_s,
        ), self)  # fmt: skip
        if not settings.token:
            log.warning(
                "NX_BOOKMAP_TOKEN is not set: add-ons with an empty token are accepted (loopback only)"
            )
        self._lock = threading.Lock()
        self._session: int | None = None  # the session whose hello was handled
        self._hello: ap.Hello | None = None
        self._can_trade: bool | None = None  # the add-on's last word; kept while it is away
        self._instruments: dict[str, ap.Instrument] = {}
        self.waiters = Waiters()
        self._orders: dict[str, VenueOrder | None] = {}
        self._order_ids: dict[str, str] = {}  # Bookmap order id -> client order id
        self._waited = False
        self._next_requests = 0.0

    def __repr__(self) -> str:
        return f"<BookmapAdapter {self.venue} {self.server!r} {self.books!r}>"

    # ---- the platform part ----------------------------------------------------------------------

    def connect(self) -> None:
        self.server.start()
        if not self._waited:  # the first call waits for the add-on, so early orders find it connected
            self._waited = True
            deadline = time.monotonic() + self.settings.bookmap_connect_wait_s
            while not self.connected() and time.monotonic() < deadline:
                time.sleep(0.05)
        if not self.connected():
            raise VenueError("the Bookmap add-on is not connected", retryable=True)

    def connected(self) -> bool:
        return self._session is not None and self._session == self.server.session

    def venue_detail(self) -> dict[str, object]:
        detail: dict[str, object] = {"instruments": sorted(self._instruments)}
        if self._can_trade is not None:
            detail["can_trade"] = self._can_trade
        return detail

    def submit(self, order: VenueOrder) -> list[VenueReport]:
        session, hello = self._session, self._hello
        if session is None or hello is None:
            raise VenueError(f"{self.venue} is not connected")
        refusal = self._refusal(order, hello)
        if refusal is not None:
            raise VenueError(refusal)
        msg = _order_submit(order)
        coid = order.client_order_id
        with self.ledger.lock:
            record = self.ledger.get(coid)
            record.instance = hello.instance_id
            self.ledger.save(record)  # before sending: which add-on process has it
        self._orders[coid] = order
        with self.waiters.submit(coid, session) as waiter:
            try:
                self.server.send(msg, session)
            except (ConnectionError, TimeoutError, OSError) as exc:
                raise UnknownOutcome(
                    f"order_submit for {coid} may not have reached the add-on: {exc}"
                ) from exc
            timeout_s = self.settings.bookmap_submit_timeout_s
            if not waiter.done.wait(timeout_s):
                raise UnknownOutcome(f"no order_update for {coid} within {timeout_s:g} s")
            if not waiter.answered:
                raise UnknownOutcome(f"the add-on left before answering {coid}")
        return waiter.held

    def cancel(self, client_order_id: str) -> list[VenueReport]:
        session = self._session
        if session is None:
            raise VenueError(
                f"{self.venue} is not connected: cannot cancel {client_order_id}", retryable=True
            )
        try:
            self.server.send(ap.OrderCancel(client_id=client_order_id), session)
        except (ConnectionError, TimeoutError, OSError) as exc:
            raise VenueError(f"cancel of {client_order_id} not sent: {exc}", retryable=True) from exc
        return []  # the cancellation arrives as an order_update

    def lookup(self, client_order_id: str) -> list[VenueReport] | None:
        seen = self._absorb()
        if client_order_id not in seen.found:
            return None
        return [r for r in seen.reports if r.client_order_id == client_order_id]

    def reconcile(self, since: str | None) -> Reconciliation:
        seen = self._absorb()
        return Reconciliation(open_orders=seen.working, reports=seen.reports, positions=seen.positions)

    def open_orders(self) -> list[str]:
        snap, _instance = self._query()
        return [o.client_id for o in snap.orders if o.client_id and o.status in ords.OPEN]

    def close(self) -> None:
        self.server.stop()

    # ---- the add-on's frames (dispatcher thread) --------------------------------------------------

    def on_open(self, session: int, hello: ap.Hello) -> None:
        self.emit_market_data(self.books.disconnected())
        self._session, self._hello, self._can_trade = session, hello, hello.can_trade
        self._instruments = {}
        self.request_reconcile()  # every (re)connect: open orders, executions, positions
        try:
            previous = _text(self.redis.set(self._instance_key, hello.instance_id, get=True))
        except redis.RedisError as exc:
            log.warning("could not compare the add-on's instance with the last one (%s)", exc)
            return
        events: list[Event] = []
        if previous is not None and previous != hello.instance_id:
            text = "the Bookmap add-on restarted (new instance); reconciling with Bookmap's records"
            events.append(self._event("bookmap_addon_restarted", Severity.WARNING, text, previous=previous))
        if not hello.can_trade:
            text = f"{self.venue} is connected for market data only: orders will be refused"
            events.append(self._event("venue_data_only", Severity.WARNING, text))
        self._publish_events(events, hello.instance_id)

    def on_close(self, session: int) -> None:
        if session != self._session:
            return  # a replaced session
        self._session = None
        self.waiters.session_closed(session)
        self.emit_market_data(self.books.disconnected())

    def on_message(self, session: int, message: ap.AddonMessage) -> None:
        if session != self._session:
            return
        if isinstance(message, ap.Depth):
            self.emit_market_data(self.books.depth(message))
        elif isinstance(message, ap.Trade):
            self.emit_market_data(self.books.trade(message))
        elif isinstance(message, ap.OrderUpdate | ap.Execution):
            try:
                if isinstance(message, ap.OrderUpdate):
                    self._on_update(message)
                else:
                    self._on_execution(message)
            except redis.RedisError as exc:  # the add-on keeps its records: reconciliation recovers this
                log.warning(
                    "%s of %s not counted now (%s); will reconcile", message.type, message.client_id, exc
                )
                self.request_reconcile()
        elif isinstance(message, ap.Instrument):
            self._instruments = {**self._instruments, message.alias: message}  # copied: read by other threads
            self.emit_market_data(self.books.instrument(message))
        elif isinstance(message, ap.InstrumentRemoved):
            self._instruments = {a: i for a, i in self._instruments.items() if a != message.alias}
            self.emit_market_data(self.books.removed(message.alias))
        elif isinstance(message, ap.OpenOrdersSnapshot):
            self.waiters.answer(message)
        elif isinstance(message, ap.Error):
            self._on_error(message)

    def on_idle(self) -> None:
        self.emit_market_data(self.books.flush())
        now = time.monotonic()
        if now < self._next_requests or self._session is None:
            return
        self._next_requests = now + _REQUESTS_EVERY_S
        stale = self.books.stale_gaps(self.settings.bookmap_resnapshot_grace_s)
        if stale:
            self.server.close_session(
                f"market data gap on {', '.join(stale)} not resynced; reconnecting for a snapshot"
            )
        try:
            self._answer_requests()
        except redis.RedisError as exc:
            log.debug("resnapshot requests not read now (%s)", exc)

    def _answer_requests(self) -> None:
        """Readers' resnapshot requests: a DepthSnapshot of each live book asked for."""
        wanted = [w.decode() for w in self.redis.smembers(self._requests_key)]  # type: ignore[union-attr]
        for alias in wanted:
            out = self.books.snapshot(alias)
            if out is not None:
                self.emit_market_data(out)
                self.redis.srem(self._requests_key, alias)
            elif self.books.state(alias) is None:
                self.redis.srem(self._requests_key, alias)  # not an instrument here: nothing will come

    # ---- orders -----------------------------------------------------------------------------------

    def _on_update(self, u: ap.OrderUpdate) -> None:
        coid = u.client_id or (self._order_ids.get(u.order_id) if u.order_id else None)
        if coid is None or self._order(coid) is None:
            if u.status is not OrderStatus.PENDING:
                self.emit_reports([ords.foreign_report(u)])
            return
        with self.ledger.lock:
            record = self.ledger.get(coid)
            if u.order_id and record.order_id != u.order_id:
                record.order_id = u.order_id
                self.ledger.save(record)
        if u.order_id:
            self._order_ids[u.order_id] = coid
            ords.trim(self._order_ids)
        report = ords.state_report(u, record, self._qty(coid, u.size))
        self._deliver(coid, [report] if report is not None else [], answered=True)

    def _on_execution(self, x: ap.Execution) -> None:
        coid = x.client_id or self._order_ids.get(x.order_id)
        if coid is None or self._order(coid) is None:
            self.emit_reports([ords.foreign_report(x)])
            return
        with self.ledger.lock:
            record = self.ledger.get(coid)
            record.order_id = record.order_id or x.order_id
            index = self.ledger.add(record, ords.execution_fill(x))
            if index is None:  # counted already: its report again (publishing dedupes)
                index = next(i for i, f in enumerate(record.fills) if f.exec_id == x.exec_id)
            report = ords.fill_report(record, index, self._qty(coid, None))
        self._deliver(coid, [report])

    def _deliver(self, coid: str, reports: list[VenueReport], *, answered: bool = False) -> None:
        """Reports for an order whose submit is still waiting go back through submit; others out now."""
        if not self.waiters.deliver(coid, reports, answered=answered) and reports:
            self.emit_reports(reports)

    def _on_error(self, e: ap.Error) -> None:
        log.warning("add-on error %s: %s%s", e.code, e.message, f" ({e.client_id})" if e.client_id else "")
        hello = self._hello
        if e.code == "bookmap_disconnected" and hello is not None:
            text = "the add-on lost Bookmap and exits; re-enable it in Bookmap"
            self._publish_events(
                [self._event("bookmap_disconnected", Severity.CRITICAL, text)], hello.instance_id
            )

    def _refusal(self, order: VenueOrder, hello: ap.Hello) -> str | None:
        if not hello.can_trade:
            return (
                f"{self.venue} is connected for market data only: the Bookmap add-on reports it cannot trade"
            )
        inst = self._instruments.get(order.venue_symbol)
        if inst is not None and not inst.can_trade:
            return (
                f"{self.venue} is connected for market data only: Bookmap says {inst.alias} cannot be traded"
            )
        return None

    def _order(self, coid: str) -> VenueOrder | None:
        if coid not in self._orders:
            self._orders[coid] = self.intents.order(coid)
            ords.trim(self._orders)
        return self._orders.get(coid)

    def _qty(self, coid: str, fallback: float | None) -> float:
        order = self._order(coid)
        if order is not None:
            return order.venue_quantity
        return fallback if fallback is not None else float("inf")

    # ---- reconciliation ---------------------------------------------------------------------------

    def _query(self) -> tuple[ap.OpenOrdersSnapshot, str]:
        """A complete `open_orders_snapshot` from the add-on; raises (and asks to reconcile again) if none."""
        deadline = time.monotonic() + self.settings.bookmap_query_timeout_s
        try:
            while True:
                session, hello = self._session, self._hello
                if session is None or hello is None:
                    raise VenueError(f"{self.venue} is not connected", retryable=True)
                snap = self._ask(session, deadline)
                if snap.complete:
                    return snap, hello.instance_id
                if time.monotonic() > deadline:
                    raise TimeoutError("the add-on's order records stayed incomplete (Bookmap not synced)")
                time.sleep(0.1)
        except Exception:
            self.request_reconcile()
            raise

    def _ask(self, session: int, deadline: float) -> ap.OpenOrdersSnapshot:
        with self.waiters.query(session) as (request_id, query):
            self.server.send(ap.OpenOrdersQuery(request_id=request_id), session)
            query.done.wait(max(0.0, deadline - time.monotonic()))
        if query.answer is None:
            raise TimeoutError(f"no open_orders_snapshot for {request_id}")
        return query.answer

    def _absorb(self) -> ords.Absorbed:
        snap, instance = self._query()
        return ords.absorb(snap, instance, self.ledger, self._order, self._order_ids)

    # ---- helpers ----------------------------------------------------------------------------------

    def _event(self, kind: str, severity: Severity, message: str, **data: str) -> Event:
        return Event(kind=kind, severity=severity, source=f"adapter-{self.venue}", message=message,
                     venue=self.venue, data=dict(data))  # fmt: skip

    def _publish_events(self, events: list[Event], instance: str) -> None:
        outs = [Output(self.names.events, Envelope.new(e, id=derived_id(e.kind, self.venue, instance)))
                for e in events]  # fmt: skip
        try:
            self.publisher.publish(outs)
        except redis.RedisError as exc:
            log.warning("events not published (%s): %s", exc, [e.kind for e in events])


def _order_submit(order: VenueOrder) -> ap.OrderSubmit:
    try:
        return ap.OrderSubmit(
            client_id=order.client_order_id, alias=order.venue_symbol, is_buy=order.side is Side.BUY,
            size=order.venue_quantity, order_type=order.order_type,
            limit_price=order.limit_price if order.order_type is OrderType.LIMIT else None,
            stop_price=order.stop_price if order.order_type is OrderType.STOP else None,
            time_in_force=order.time_in_force,
        )  # fmt: skip
    except ValidationError as exc:
        raise VenueError(f"cannot be sent to Bookmap: {exc.errors()[0]['msg']}") from exc


def _text(raw: object) -> str | None:
    if raw is None:
        return None
    return raw.decode() if isinstance(raw, bytes) else str(raw)
