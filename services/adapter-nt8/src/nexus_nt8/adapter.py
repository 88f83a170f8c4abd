"""`Nt8Adapter`: the adapter base over the bridge protocol (NinjaTrader 8 AddOn, Quantower plugin).

The adapter is the server; the platform dials in (`server`), and every session starts with a sync
(`link`): the platform answers `open_orders_query` before the adapter sends anything new. On top,
this class keeps the base's guarantees for this platform:
- `submit` sends `order_submit` with our 30-character client order id as the platform's order name
  (NinjaTrader `Order.Name`, Quantower `Order.Comment`) and waits a bounded time for the platform to
  answer for that id. No answer, or a dropped connection, is an *unknown outcome* (`UnknownOutcome`):
  the base marks the intent and resolves it by client order id after the next handshake; the platform
  side is idempotent by that id too, so a resubmit can never place a second order.
- Fills come only from executions, keyed by the platform's execution id (`ExecutionBook`), so the
  live stream and a snapshot reporting the same execution yield one fill.
- `reconcile` uses the handshake's snapshot (open orders, executions since the marker, positions),
  or asks again; the marker is the last execution's `time_ns|execution_id`.
"""

from __future__ import annotations

import logging
import threading

import redis

from nexus_mesh.adapter import Adapter, IntentState, Reconciliation, UnknownOutcome, VenueReport
from nexus_mesh.config_files import load_symbols
from nexus_mesh.publish import Output
from nexus_nt8 import protocol
from nexus_nt8.config import Nt8Settings
from nexus_nt8.executions import ExecutionBook
from nexus_nt8.link import BridgeLink, LinkDown
from nexus_nt8.server import ServerConfig, wait_until
from nexus_protocol.bridge import (
    RETRYABLE_ERROR_CODES,
    ErrorMessage,
    ExecutionUpdate,
    OpenOrdersSnapshot,
    OrderCancel,
    OrderUpdate,
)
from nexus_protocol.bridge import Tick as BridgeTick
from nexus_protocol.bridge.messages import Execution
from nexus_protocol.codec import Envelope
from nexus_protocol.enums import OrderStatus, Severity
from nexus_protocol.errors import ConfigError, NexusError, VenueError
from nexus_protocol.ids import derived_id
from nexus_protocol.messages import Event, Tick, VenueOrder
from nexus_protocol.symbols import Contract

log = logging.getLogger(__name__)

Since = tuple[str | None, int | None]


class Nt8Adapter(Adapter):
    settings: Nt8Settings

    def __init__(self, settings: Nt8Settings, client: redis.Redis) -> None:
        super().__init__(settings, client)
        settings.check()
        self.profile = settings.profile
        self.account = settings.account
        self.book = ExecutionBook(client, self.names, self.venue)
        self.intents.expire_with(self.book.key)
        token = settings.nt8_auth_token
        assert token is not None  # settings.check() refuses bridge mode without one
        config = ServerConfig(
            host=settings.nt8_host, port=settings.nt8_port, auth_token=token, platform=self.profile.platform,
            heartbeat_interval_ms=settings.nt8_heartbeat_interval_ms,
            handshake_timeout_s=settings.nt8_handshake_timeout_s, ssl_context=settings.ssl_context(),
        )  # fmt: skip
        self.link = BridgeLink(config, self)
        self._started = False
        self._handshake: tuple[OpenOrdersSnapshot, Since] | None = None
        self._handshake_lock = threading.Lock()

    def __repr__(self) -> str:
        return (
            f"Nt8Adapter({self.profile.platform.value}, venue={self.venue}, account={self.account}, "
            f"port={self.link.server.port}, ready={self.link.ready}, sessions={self.link.sessions_opened})"
        )

    # ---- the platform part ----------------------------------------------------------------------

    def connect(self) -> None:
        """Listen (once); the first time, give the platform a moment to dial in and sync."""
        if self._started:
            return
        self.link.start()
        self._started = True
        if not wait_until(lambda: self.link.ready, self.settings.nt8_connect_wait_s):
            log.info("%s has not connected yet; orders are refused until it does", self.profile.title)

    def connected(self) -> bool:
        return self.link.ready

    def close(self) -> None:
        self.link.stop()

    def submit(self, order: VenueOrder) -> list[VenueReport]:
        msg = protocol.order_submit(order, self.account, self.profile)
        coid = order.client_order_id
        try:
            reply = self.link.request(
                msg, lambda m: protocol.answers_submit(m, coid), self.settings.nt8_submit_timeout_s
            )
        except LinkDown as exc:
            if not exc.sent:
                raise VenueError(f"{self.profile.title} not connected: {exc}", retryable=True) from exc
            raise UnknownOutcome(f"connection lost after sending {coid}: {exc}") from exc
        except TimeoutError as exc:
            raise UnknownOutcome(f"{coid}: {exc}") from exc
        if isinstance(reply, ErrorMessage):
            raise VenueError(
                f"{self.profile.title}: {reply.message}",
                code=reply.code.value,
                retryable=reply.code in RETRYABLE_ERROR_CODES,
            )
        if isinstance(reply, OrderUpdate):
            if reply.status is OrderStatus.REJECTED:
                raise VenueError(
                    f"{self.profile.title} rejected it: {reply.reason or 'no reason given'}", code="rejected"
                )
            report = protocol.status_report(reply, order.venue_quantity)
            return [report] if report is not None else []
        return []  # an execution answered first: already reported from the live stream

    def cancel(self, client_order_id: str) -> list[VenueReport]:
        try:
            reply = self.link.request(
                OrderCancel(client_order_id=client_order_id),
                lambda m: protocol.answers_cancel(m, client_order_id),
                self.settings.nt8_submit_timeout_s,
            )
        except LinkDown as exc:
            raise VenueError(f"cancel {client_order_id}: {exc}", retryable=True) from exc
        except TimeoutError:
            log.warning(
                "no final state for cancelled %s yet; it will arrive with the stream", client_order_id
            )
            return []
        if isinstance(reply, ErrorMessage):
            log.warning("cancel %s: %s %s", client_order_id, reply.code.value, reply.message)
            return []
        assert isinstance(reply, OrderUpdate)
        report = protocol.status_report(reply)
        return [report] if report is not None else []

    def lookup(self, client_order_id: str) -> list[VenueReport] | None:
        try:
            snap = self.link.query([client_order_id], self._since(), self.settings.nt8_query_timeout_s)
        except (LinkDown, TimeoutError) as exc:
            raise VenueError(f"cannot look up {client_order_id}: {exc}", retryable=True) from exc
        if client_order_id in snap.unknown_client_order_ids:
            return None
        reports = [self._execution_report(x) for x in snap.executions if x.client_order_id == client_order_id]
        for wo in snap.orders:
            if wo.client_order_id == client_order_id:
                rep = protocol.status_report(wo) if wo.status.terminal else protocol.working_report(wo)
                if rep is not None:
                    reports.append(rep)
        return reports

    def reconcile(self, since: str | None) -> Reconciliation:
        wanted = protocol.parse_marker(since)
        with self._handshake_lock:
            handshake, self._handshake = self._handshake, None
        if handshake is not None and handshake[1] == wanted:
            snap = handshake[0]
        else:
            try:
                snap = self.link.query(self._unsure(), wanted, self.settings.nt8_query_timeout_s)
            except (LinkDown, TimeoutError) as exc:
                raise VenueError(f"cannot reconcile: {exc}", retryable=True) from exc
        reports = [self._execution_report(x) for x in snap.executions]
        open_orders: list[VenueReport] = []
        for wo in snap.orders:
            if wo.status.terminal:
                rep = protocol.status_report(wo)
                if rep is not None:
                    reports.append(rep)
            else:
                open_orders.append(protocol.working_report(wo))
        marker = protocol.marker(snap.executions[-1]) if snap.executions else since
        positions = dict(self.link.positions.get(self.account, {}))
        return Reconciliation(open_orders=open_orders, reports=reports, positions=positions, marker=marker)

    # ---- what the link asks and tells (the session's thread) -------------------------------------

    def account_problem(self, accounts: list[str]) -> str | None:
        if self.account in accounts:
            return None
        return f"account {self.account!r} is not among this platform's accounts {accounts}"

    def sync_request(self) -> tuple[list[str], str | None, int | None]:
        since_id, since_ns = self._since()
        return self._unsure(), since_id, since_ns

    def instruments(self) -> list[str]:
        if self.settings.nt8_md_instruments:
            return list(self.settings.nt8_md_instruments)
        try:
            symbols = load_symbols(self.settings.config_dir)
            raw = self.redis.hgetall(self.names.contracts)
            active = {_text(k): _text(v) for k, v in raw.items()}
        except (ConfigError, redis.RedisError) as exc:
            log.warning("no market data subscriptions: %s", exc)
            return []
        out = []
        for root in symbols.roots_for(self.venue):
            if not symbols.venue_spec(root, self.venue).dated:
                out.append(symbols.venue_symbol(root, self.venue))
            elif root in active:
                out.append(symbols.venue_symbol(root, self.venue, Contract.parse(active[root])))
        return out

    def on_synced(self, snapshot: OpenOrdersSnapshot, since: Since) -> None:
        with self._handshake_lock:
            self._handshake = (snapshot, since)
        self.request_reconcile()

    def on_order_update(self, msg: OrderUpdate) -> None:
        try:
            order = self._order(msg.client_order_id)
            report = protocol.status_report(msg, order.venue_quantity if order else None)
            if report is not None:
                self._emit([report])
        except redis.RedisError as exc:  # never let Redis trouble end the platform's session
            log.warning(
                "update of %s not reported now (%s); reconciliation will bring it", msg.client_order_id, exc
            )
            self.request_reconcile()

    def on_execution(self, msg: ExecutionUpdate) -> None:
        try:
            self._emit([self._execution_report(msg)])
        except (redis.RedisError, NexusError) as exc:
            log.warning(
                "execution %s not recorded now (%s); reconciliation will bring it", msg.execution_id, exc
            )
            self.request_reconcile()

    def on_tick(self, msg: BridgeTick) -> None:
        self.emit_tick(
            Tick(
                venue=self.venue,
                symbol=msg.instrument,
                bid=msg.bid,
                ask=msg.ask,
                last=msg.last,
                bid_size=msg.bid_size,
                ask_size=msg.ask_size,
                last_size=msg.last_size,
                venue_ts_ns=msg.time_ns,
            )
        )

    # ---- helpers --------------------------------------------------------------------------------

    def _since(self) -> Since:
        return protocol.parse_marker(self.intents.marker())

    def _unsure(self) -> list[str]:
        """Orders whose outcome we do not know: recorded but never answered, or lost in a drop."""
        return sorted(self.intents.in_state(IntentState.SENDING, IntentState.UNKNOWN))

    def _order(self, coid: str) -> VenueOrder | None:
        return self.intents.order(coid) if coid else None

    def _execution_report(self, x: Execution | ExecutionUpdate) -> VenueReport:
        order = self._order(x.client_order_id)
        if order is None:  # not ours (placed by hand, another tool): reported as foreign, not booked
            return VenueReport(
                client_order_id=x.client_order_id,
                status=OrderStatus.FILLED,
                exec_id=x.execution_id,
                last_qty=float(x.quantity),
                last_price=x.price,
                cum_qty=float(x.quantity),
                avg_price=x.price,
                fee=x.commission,
                venue_order_id=x.platform_order_id,
                ts_ns=x.time_ns,
            )
        rec, amended = self.book.record(x.client_order_id, x.execution_id, x.quantity, x.price)
        if amended:
            self._amended(x, rec.quantity, rec.price)
        return self.book.report(
            x.client_order_id,
            rec,
            order.venue_quantity,
            venue_order_id=x.platform_order_id,
            fee=x.commission,
            ts_ns=x.time_ns,
        )

    def _amended(self, x: Execution | ExecutionUpdate, qty: float, price: float) -> None:
        log.warning(
            "%s amended execution %s of %s: %s @ %s, first reported %s @ %s",
            self.profile.title,
            x.execution_id,
            x.client_order_id,
            x.quantity,
            x.price,
            qty,
            price,
        )
        body = Event(
            kind="execution_amended",
            severity=Severity.WARNING,
            source=f"adapter-{self.venue}",
            message=f"{self.venue} amended execution {x.execution_id}; the first report stands",
            venue=self.venue,
            client_order_id=x.client_order_id,
            data={
                "execution_id": x.execution_id,
                "quantity": x.quantity,
                "price": x.price,
                "first_quantity": qty,
                "first_price": price,
            },
        )
        eid = derived_id("amend", self.venue, x.execution_id, x.quantity, repr(x.price))
        self.publisher.publish([Output(self.names.events, Envelope.new(body, id=eid))])

    def _emit(self, reports: list[VenueReport]) -> None:
        try:
            self.emit_reports(reports)
        except redis.RedisError as exc:  # reading the intents failed: reconciliation will bring them
            log.warning("could not report %d updates now (%s)", len(reports), exc)
            self.request_reconcile()


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value
