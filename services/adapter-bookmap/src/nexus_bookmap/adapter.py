"""The Bookmap adapter: the adapter base (`nexus_mesh.adapter`) over the add-on's WebSocket.

The add-on (Bookmap's Python add-on script) dials this adapter; `server.AddonServer` runs the socket in
its own thread and hands frames, in order, to this class's `on_*` methods on one dispatcher thread.
The base's processor loop (orders, reconcile, heartbeats) runs on the main thread.

What it adds to the base's guarantees (intent before send, lookup on redelivery, unknown outcomes,
reconcile on every reconnect, deterministic fill ids):
- A VenueOrder becomes one `order_submit` whose `client_id` (Bookmap's clientId) is our client order id.
  `submit` waits a bounded time for proof that Bookmap has the order (an update carrying Bookmap's
  order id) or the add-on's refusal; a timeout or a dropped link is an unknown outcome, resolved by
  looking the order up in the records of the add-on (which asks Bookmap after a restart), never by
  sending again. The add-on itself never passes one client id to Bookmap twice.
- Every hello triggers reconciliation (`open_orders_query`: working orders, executions, positions); a
  new `instance_id` means the add-on restarted, which is raised as an event and lets the base's
  execution ledger synthesize fills whose execution died with the old process (`mapping`). Which add-on
  process each order was sent to, and Bookmap's id for it, are kept in Redis (`AddonOrders`).
- Fills are keyed by Bookmap's execution id and counted in the base's execution ledger, so re-reported
  executions dedupe and cumulative figures never double.
- Data-only connections: the add-on's `hello.can_trade` goes into the venue heartbeat's detail, which
  the router reads (check `venue_data_only`); an order that reaches the adapter anyway is refused here
  with the reason, before anything is sent.
- Market data (`book.BookKeeper`): ticks, depth snapshots and consecutive depth updates on
  nx:md:raw:{venue}; readers' resnapshot requests are answered from the adapter's book; a gap in the
  add-on's own data freezes the book until the add-on's snapshot, forced by a reconnect if it is late.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from dataclasses import dataclass, field

import redis

from nexus_bookmap import addon_protocol as ap
from nexus_bookmap import mapping
from nexus_bookmap.book import BookKeeper
from nexus_bookmap.client import AddonServer, AddonServerConfig, AddonWaiters
from nexus_bookmap.config import BookmapSettings
from nexus_mesh.adapter import (
    Adapter,
    HeldPosition,
    PlatformReport,
    Reconciliation,
    UnknownOutcome,
    held,
)
from nexus_mesh.connection import as_str
from nexus_protocol.book import resnapshot_key
from nexus_protocol.enums import OrderStatus, Severity
from nexus_protocol.errors import VenueError
from nexus_protocol.messages import VenueOrder

log = logging.getLogger(__name__)
_REQUESTS_EVERY_S = 0.2  # how often readers' resnapshot requests are looked at
CACHE_SIZE = 20_000  # Bookmap order ids kept in memory


class BookmapAdapter(Adapter):
    settings: BookmapSettings

    def __init__(self, settings: BookmapSettings, client: redis.Redis) -> None:
        super().__init__(settings, client)
        self.orders = AddonOrders(client, self.names.state(self.owner, "addon_orders"))
        self.intents.expire_with(self.orders.key)
        self._instance_key = self.names.state(self.owner, "addon_instance")
        self._requests_key = resnapshot_key(self.names, self.venue)
        self.books = BookKeeper(self.venue, batch_s=settings.bookmap_md_batch_ms / 1000)
        self.server = AddonServer(AddonServerConfig(
            host=settings.bookmap_host, port=settings.bookmap_port, token=settings.token,
            ssl_context=settings.ssl_context(), handshake_timeout_s=settings.bookmap_handshake_timeout_s,
            heartbeat_s=settings.bookmap_heartbeat_s, dead_after_s=settings.bookmap_dead_after_s,
        ), self)  # fmt: skip
        if not settings.token:
            log.warning(
                "NX_BOOKMAP_TOKEN is not set: add-ons with an empty token are accepted (loopback only)"
            )
        self._session: int | None = None  # the session whose hello was handled
        self._hello: ap.AddonHello | None = None
        self._can_trade: bool | None = None  # the add-on's last word; kept while it is away
        self._instruments: dict[str, ap.AddonInstrument] = {}
        self._balances: dict[str, ap.AddonBalance] = {}  # currency -> Bookmap's last balance in it
        self.waiters = AddonWaiters()
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

    def account_equity(self) -> tuple[float, str] | None:
        """Bookmap's net liquidity (else balance plus open P&L) of the account's one currency, or of its
        USD one when it holds several (they are not added up: the add-on does not pass Bookmap's rates)."""
        balances = self._balances
        b = balances.get("USD") or (next(iter(balances.values())) if len(balances) == 1 else None)
        if b is None or b.currency is None:
            return None
        if b.net_liquidity is not None:
            return b.net_liquidity, b.currency
        if b.balance is None:
            return None
        return b.balance + (b.unrealized_pnl or 0.0), b.currency

    def submit(self, order: VenueOrder) -> list[PlatformReport]:
        session, hello = self._session, self._hello
        if session is None or hello is None:
            raise VenueError(f"{self.venue} is not connected")
        refusal = self._refusal(order, hello)
        if refusal is not None:
            raise VenueError(refusal)
        msg = mapping.order_submit(order)
        coid = order.client_order_id
        self.orders.sent(coid, hello.instance_id)  # before sending: which add-on process has it
        with self.waiters.submit(coid, session) as waiter:
            try:
                self.server.send(msg, session)
            except (ConnectionError, TimeoutError, OSError) as exc:
                raise UnknownOutcome(
                    f"order_submit for {coid} may not have reached the add-on: {exc}"
                ) from exc
            timeout_s = self.settings.bookmap_submit_timeout_s
            if not waiter.done.wait(timeout_s):
                raise UnknownOutcome(f"Bookmap did not take {coid} within {timeout_s:g} s")
            if not waiter.answered:
                raise UnknownOutcome(f"the add-on left before Bookmap answered for {coid}")
        return []  # the answer and what followed it are pushed, and published with this submit

    def cancel(self, client_order_id: str) -> list[PlatformReport]:
        session = self._session
        if session is None:
            raise VenueError(
                f"{self.venue} is not connected: cannot cancel {client_order_id}", retryable=True
            )
        try:
            self.server.send(ap.AddonOrderCancel(client_id=client_order_id), session)
        except (ConnectionError, TimeoutError, OSError) as exc:
            raise VenueError(f"cancel of {client_order_id} not sent: {exc}", retryable=True) from exc
        return []  # the cancellation arrives as an order_update

    def lookup(self, client_order_id: str) -> list[PlatformReport] | None:
        seen = self._absorb()
        if client_order_id not in seen.found:
            return None
        return [r for r in seen.reports if r.client_order_id == client_order_id]

    def reconcile(self, since: str | None) -> Reconciliation:
        seen = self._absorb()
        return Reconciliation(open_orders=seen.working, reports=seen.reports, positions=seen.positions)

    def flatten(self) -> list[HeldPosition]:
        snap, _instance = self._query()
        return held({p.alias: p.position for p in snap.positions})

    def open_orders(self) -> list[str]:
        snap, _instance = self._query()
        return [o.client_id for o in snap.orders if o.client_id and o.status in mapping.OPEN]

    def close(self) -> None:
        self.server.stop()

    # ---- the add-on's frames (dispatcher thread) --------------------------------------------------

    def on_open(self, session: int, hello: ap.AddonHello) -> None:
        self.emit_market_data(self.books.disconnected())
        self._session, self._hello, self._can_trade = session, hello, hello.can_trade
        self._instruments = {}
        self.request_reconcile()  # every (re)connect: open orders, executions, positions
        try:
            raw = self.redis.set(self._instance_key, hello.instance_id, get=True)
            previous = as_str(raw) if isinstance(raw, bytes | str) else ""
        except redis.RedisError as exc:
            log.warning("could not compare the add-on's instance with the last one (%s)", exc)
            previous = ""
        if previous and previous != hello.instance_id:
            text = "the Bookmap add-on restarted (new instance); reconciling with Bookmap's records"
            self.emit_event("bookmap_addon_restarted", text, key=(hello.instance_id,), previous=previous)
        if not hello.can_trade:
            text = f"{self.venue} is connected for market data only: orders will be refused"
            self.emit_event("venue_data_only", text, key=(hello.instance_id,))

    def on_close(self, session: int) -> None:
        if session != self._session:
            return  # a replaced session
        self._session = None
        self.waiters.session_closed(session)
        self.emit_market_data(self.books.disconnected())

    def on_message(self, session: int, message: ap.AddonMessage) -> None:
        if session != self._session:
            return
        if isinstance(message, ap.AddonDepth):
            self.emit_market_data(self.books.depth(message))
        elif isinstance(message, ap.AddonTrade):
            self.emit_market_data(self.books.trade(message))
        elif isinstance(message, ap.AddonOrderUpdate):
            self._on_update(message)
        elif isinstance(message, ap.AddonExecution):
            self.emit_reports([mapping.execution(self._coid(message), message)])
        elif isinstance(message, ap.AddonInstrument):
            self._instruments = {**self._instruments, message.alias: message}  # copied: read by other threads
            self.emit_market_data(self.books.instrument(message))
        elif isinstance(message, ap.AddonInstrumentRemoved):
            self._instruments = {a: i for a, i in self._instruments.items() if a != message.alias}
            self.emit_market_data(self.books.removed(message.alias))
        elif isinstance(message, ap.AddonBalance) and message.currency:
            self._balances = {**self._balances, message.currency: message}  # copied: read by the loop
        elif isinstance(message, ap.AddonOrdersSnapshot):
            self.waiters.answer(message)
        elif isinstance(message, ap.AddonError):
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

    def _on_update(self, u: ap.AddonOrderUpdate) -> None:
        coid = self._coid(u)
        if mapping.answers_submit(u):
            self.waiters.answered(coid)
        report = mapping.state_report(coid, u)
        if report is not None:
            self.emit_reports([report])

    def _coid(self, msg: ap.AddonOrderUpdate | ap.AddonExecution) -> str:
        if msg.client_id and msg.order_id:
            self.orders.learn(msg.client_id, msg.order_id)
        return mapping.client_order_id(msg, self.orders.by_order_id)

    def _on_error(self, e: ap.AddonError) -> None:
        log.warning("add-on error %s: %s%s", e.code, e.message, f" ({e.client_id})" if e.client_id else "")
        hello = self._hello
        if e.code == "bookmap_disconnected" and hello is not None:
            text = "the add-on lost Bookmap and exits; re-enable it in Bookmap"
            self.emit_event(
                "bookmap_disconnected", text, key=(hello.instance_id,), severity=Severity.CRITICAL
            )

    def _refusal(self, order: VenueOrder, hello: ap.AddonHello) -> str | None:
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

    # ---- reconciliation ---------------------------------------------------------------------------

    def _query(self) -> tuple[ap.AddonOrdersSnapshot, str]:
        """A complete `open_orders_snapshot` from the add-on (raises if none within the timeout)."""
        deadline = time.monotonic() + self.settings.bookmap_query_timeout_s
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

    def _ask(self, session: int, deadline: float) -> ap.AddonOrdersSnapshot:
        with self.waiters.query(session) as (request_id, query):
            self.server.send(ap.AddonOrdersQuery(request_id=request_id), session)
            query.done.wait(max(0.0, deadline - time.monotonic()))
        if query.answer is None:
            raise TimeoutError(f"no open_orders_snapshot for {request_id}")
        return query.answer

    def _absorb(self) -> Absorbed:
        """What one snapshot says: its executions (counted in the ledger now, so what Bookmap counts
        beyond them is a fill that died with an earlier add-on process), open orders, final states."""
        snap, instance = self._query()
        out = Absorbed(positions={p.alias: p.position for p in snap.positions})
        for x in snap.executions:
            execution = mapping.execution(self._coid(x), x)
            out.reports.append(execution)
            if self.intents.order(execution.client_order_id) is not None:
                self.ledger.record(execution)
        for o in snap.orders:
            coid = self._coid(o)
            if self.intents.order(coid) is None:
                if o.status in mapping.OPEN:
                    out.working.append(mapping.working_report(coid, o))  # the base reports it as foreign
                continue
            out.found.add(coid)
            if o.order_id is not None and self.orders.instance(coid) != instance:
                missing = self.ledger.missing(
                    coid, o.filled, o.avg_price, exec_id=mapping.missing_fill_id(o),
                    fallback_price=o.limit_price, ts_ns=o.time_ms * 1_000_000, venue_order_id=o.order_id,
                )  # fmt: skip
                if missing is not None:
                    log.warning("%s: Bookmap counts %g filled, the ledger less: synthesizing %s",
                                coid, o.filled, missing.exec_id)  # fmt: skip
                    out.reports.append(missing)
            if o.status is OrderStatus.PENDING:
                continue  # Bookmap has not answered yet: neither working nor final
            if o.status in mapping.OPEN:
                out.working.append(mapping.working_report(coid, o))
            elif (state := mapping.state_report(coid, o)) is not None:
                out.reports.append(state)
        return out


@dataclass(slots=True)
class Absorbed:
    """What one `open_orders_snapshot` says, as the base's reconciliation wants it."""

    reports: list[PlatformReport] = field(default_factory=list)  # executions and final states
    working: list[PlatformReport] = field(default_factory=list)  # open orders (ours and foreign)
    positions: dict[str, float] = field(default_factory=dict)  # alias -> signed position
    found: set[str] = field(default_factory=set)  # our client order ids the add-on knows


class AddonOrders:
    """Per order: the add-on process it was sent to and Bookmap's order id (a Redis hash, field = client
    order id, written through), and Bookmap order id -> client order id in memory."""

    def __init__(self, client: redis.Redis, key: str) -> None:
        self._client = client
        self.key = key
        self.by_order_id: dict[str, str] = {}
        self._lock = threading.Lock()

    def sent(self, coid: str, instance: str) -> None:
        self._client.hset(self.key, coid, json.dumps([instance, None]))

    def learn(self, coid: str, order_id: str) -> None:
        if self.by_order_id.get(order_id) == coid:
            return
        with self._lock:
            self.by_order_id[order_id] = coid
            while len(self.by_order_id) > CACHE_SIZE:
                del self.by_order_id[next(iter(self.by_order_id))]
        try:
            instance = self.instance(coid)
            self._client.hset(self.key, coid, json.dumps([instance, order_id]))
        except redis.RedisError as exc:  # only the synthesis of lost fills needs it: logged, not fatal
            log.warning("Bookmap order id of %s not kept now (%s)", coid, exc)

    def instance(self, coid: str) -> str | None:
        raw = self._client.hget(self.key, coid)
        return json.loads(raw)[0] if raw is not None else None
