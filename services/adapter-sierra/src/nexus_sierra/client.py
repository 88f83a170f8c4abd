"""A DTC client for Sierra Chart's DTC server: one session at a time, reconnected for ever.

A session: TCP connect -> ENCODING_REQUEST (binary) -> LOGON_REQUEST (heartbeat interval, trade
mode, account) -> TRADE_ACCOUNTS_REQUEST (the configured account must be offered; with none
configured, the only one) -> recovery (`recovery.Recoverer.reconcile`: open orders, positions,
fills since the last one seen), handed to `hooks.on_session` -> MARKET_DATA_REQUEST per symbol ->
ACCOUNT_BALANCE_REQUEST (its answer and the server's unsolicited updates kept in `balance`) -> ready.

Guarantees:
- Nothing new goes out before recovery: `submit` and `cancel` refuse with a retryable VenueError
  (nothing was sent) until the session is ready.
- An order's outcome is never guessed. `submit` returns with the first ORDER_UPDATE for its
  ClientOrderID (a rejection raises VenueError with Sierra's InfoText). A drop, or no answer within
  `response_timeout_s`, raises UnknownOutcome; a silent server is also dropped, so the reconnect's
  recovery is what finds the order.
- Every other ORDER_UPDATE becomes VenueReports for `hooks.on_reports` (fills carry the execution id
  rule of `reports`); market data becomes Ticks for `hooks.on_tick`.
- A decode error, missed heartbeats, a LOGOFF, a socket error or a refused logon closes the
  connection and the client reconnects with capped exponential backoff (reset once a session
  reached ready; straight to the cap when the server says not to reconnect). No exception ends
  the client's thread; `last_error` says what happened last.
"""

from __future__ import annotations

import contextlib
import itertools
import logging
import socket
import threading
import time
from collections.abc import Callable

from nexus_mesh.adapter import Reconciliation, UnknownOutcome, VenueReport
from nexus_protocol.enums import OrderStatus
from nexus_protocol.errors import VenueError
from nexus_protocol.messages import Tick
from nexus_sierra.config import ClientConfig
from nexus_sierra.dtc.codec import (
    AccountBalanceReject,
    AccountBalanceRequest,
    AccountBalanceUpdate,
    AlertMessage,
    CancelOrder,
    CurrentPositionsReject,
    DtcMessage,
    EncodingResponse,
    GeneralLogMessage,
    HistoricalOrderFillResponse,
    HistoricalOrderFillsReject,
    Logoff,
    LogonResponse,
    MarketDataReject,
    MarketDataRequest,
    Message,
    OpenOrdersReject,
    OrderStatusEnum,
    OrderUpdate,
    OrderUpdateReasonEnum,
    PositionUpdate,
    RequestActionEnum,
    SubmitNewSingleOrder,
    TradeAccountResponse,
    UserMessage,
)
from nexus_sierra.dtc.connection import ConnectionClosed, DtcConnection, NotSent
from nexus_sierra.dtc.handshake import SessionError, handshake
from nexus_sierra.dtc.waiters import Done, RequestRejected, Waiters
from nexus_sierra.mapping import MarketDataBook, OrderRef, open_order_report, order_update_reports
from nexus_sierra.recovery import OrderIds, Recoverer

log = logging.getLogger(__name__)
Reason = OrderUpdateReasonEnum
_REJECTS = (OpenOrdersReject, CurrentPositionsReject, HistoricalOrderFillsReject)
_REPLIES = (HistoricalOrderFillResponse, PositionUpdate, TradeAccountResponse)
_CANCEL_ANSWERS = (Reason.ORDER_CANCELED, Reason.ORDER_CANCEL_REJECTED)
_FINAL = (OrderStatusEnum.CANCELED, OrderStatusEnum.FILLED, OrderStatusEnum.REJECTED)


class ClientHooks:
    """What the client tells its owner and asks it. The defaults keep nothing; the adapter (and
    tests) override them. Called from the client's threads."""

    def on_reports(self, reports: list[VenueReport]) -> None:
        """ORDER_UPDATEs no `submit`/`cancel` call was waiting for."""

    def on_tick(self, tick: Tick) -> None:
        """Market data for a subscribed symbol."""

    def on_session(self, recovery: Reconciliation) -> None:
        """A new session's recovery, before anything new is sent on it."""

    def fill_marker(self) -> str | None:
        """Where the last recovery's fills ended (the adapter keeps it in Redis)."""
        return None

    def remember(self, server_order_id: str, ref: OrderRef) -> None:
        """A newly learned ServerOrderID -> ClientOrderID pair, to persist."""

    def resolve(self, server_order_id: str) -> OrderRef | None:
        return None

    def server_order_id(self, client_order_id: str) -> str | None:
        return None


def _cancel_done(m: Message) -> bool:
    return isinstance(m, OrderUpdate) and (
        m.order_update_reason in _CANCEL_ANSWERS or m.order_status in _FINAL
    )


class DtcClient:
    def __init__(self, cfg: ClientConfig, hooks: ClientHooks | None = None) -> None:
        self.cfg = cfg
        self.hooks = hooks if hooks is not None else ClientHooks()
        self.ids = OrderIds(self.hooks.remember, self.hooks.resolve, self.hooks.server_order_id)
        self.peer = f"{cfg.host}:{cfg.port}"
        self.account = cfg.trade_account
        self.server_name = ""
        self.sessions = 0  # sessions that reached ready
        self.last_error: str | None = None
        self.balance: AccountBalanceUpdate | None = None  # the account's, as the server last said
        self._lock = threading.Lock()
        self._conn: DtcConnection | None = None
        self._recoverer: Recoverer | None = None
        self._ready = threading.Event()
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None
        self._waiting = Waiters(cfg.response_timeout_s)
        self._request_ids = itertools.count(1)
        self._book = MarketDataBook(cfg.venue)
        self._straight_to_max = False
        self._md_lock = threading.Lock()  # one (un)subscriber at a time: the session or `watch`
        self._symbol_ids: dict[str, int] = {}  # venue symbol -> its DTC SymbolID, for good
        self._wanted: frozenset[str] = frozenset(cfg.symbols)
        self._subscribed: tuple[DtcConnection | None, frozenset[str]] = (None, frozenset())

    def __repr__(self) -> str:
        return (
            f"<DtcClient {self.peer} account={self.account!r} ready={self.ready} sessions={self.sessions} "
            f"last_error={self.last_error!r}>"
        )

    # ---- life cycle ------------------------------------------------------------------------------

    @property
    def ready(self) -> bool:
        conn = self._conn
        return self._ready.is_set() and conn is not None and not conn.closed

    def wait_ready(self, timeout_s: float) -> bool:
        deadline = time.monotonic() + timeout_s
        while not self.ready:
            left = deadline - time.monotonic()
            if left <= 0:
                return False
            if self._ready.is_set():  # the connection is closing: `_on_closed` is about to clear it
                time.sleep(0.001)
            else:
                self._ready.wait(left)
        return True

    def start(self) -> None:
        """Start connecting (idempotent); the session comes up on the client's own thread."""
        if self._thread is not None and self._thread.is_alive():
            return
        self._stopping.clear()
        self._thread = threading.Thread(target=self._run, name=f"dtc-client {self.peer}", daemon=True)
        self._thread.start()

    def stop(self, timeout_s: float = 5.0) -> None:
        self._stopping.set()
        with self._lock:
            conn = self._conn
        if conn is not None and not conn.closed:
            with contextlib.suppress(ConnectionClosed):
                conn.send(Logoff(reason="NEXUS gateway stopping"))
            conn.close("client stopped")
        if self._thread is not None:
            self._thread.join(timeout_s)

    def drop(self, reason: str) -> None:
        """Close the current connection (the client reconnects and recovers)."""
        with self._lock:
            conn = self._conn
        if conn is not None:
            conn.close(reason)

    # ---- orders ----------------------------------------------------------------------------------

    def submit(self, order: SubmitNewSingleOrder) -> list[VenueReport]:
        conn = self._ready_conn()
        coid = order.client_order_id
        try:
            updates = self._waiting.exchange(
                conn, self._waiting.orders, coid, order, lambda _m: True, what=f"new order {coid}"
            )
        except NotSent as exc:
            raise VenueError(f"{coid} not sent: {exc}", retryable=True) from exc
        except (ConnectionClosed, TimeoutError) as exc:
            raise UnknownOutcome(f"{coid}: {exc}") from exc
        reports = [r for u in updates if isinstance(u, OrderUpdate) for r in order_update_reports(u)]
        if len(reports) == 1 and reports[0].status is OrderStatus.REJECTED:
            raise VenueError(reports[0].reason or "rejected by Sierra Chart")
        return reports

    def cancel(self, coid: str) -> list[VenueReport]:
        conn = self._ready_conn()
        msg = CancelOrder(
            server_order_id=self.ids.server_id(coid) or "", client_order_id=coid, trade_account=self.account
        )
        try:
            updates = self._waiting.exchange(
                conn, self._waiting.orders, coid, msg, _cancel_done, what=f"cancel {coid}"
            )
        except NotSent as exc:
            raise VenueError(f"cancel of {coid} not sent: {exc}", retryable=True) from exc
        except (ConnectionClosed, TimeoutError) as exc:
            log.warning(
                "cancel of %s: outcome unknown (%s); recovery will report the order's state", coid, exc
            )
            return []
        return [r for u in updates if isinstance(u, OrderUpdate) for r in order_update_reports(u)]

    def reconcile(self, since: str | None) -> Reconciliation:
        return self._ready_recoverer().reconcile(since)

    def open_orders(self) -> list[VenueReport]:
        return [open_order_report(u) for u in self._ready_recoverer().open_orders()]

    def positions(self) -> dict[str, float]:
        return self._ready_recoverer().positions()

    def lookup(self, coid: str) -> list[VenueReport] | None:
        return self._ready_recoverer().lookup(coid)

    def _ready_conn(self) -> DtcConnection:
        with self._lock:
            conn = self._conn
            if conn is None or conn.closed or not self._ready.is_set():
                raise VenueError(
                    f"Sierra Chart DTC session with {self.peer} is not ready ({self.last_error})",
                    retryable=True,
                )
            return conn

    def _ready_recoverer(self) -> Recoverer:
        self._ready_conn()
        with self._lock:
            rec = self._recoverer
        if rec is None:
            raise VenueError(f"Sierra Chart DTC session with {self.peer} is not ready", retryable=True)
        return rec

    # ---- sessions --------------------------------------------------------------------------------

    def _run(self) -> None:
        delay = self.cfg.reconnect_initial_s
        while not self._stopping.is_set():
            reached = False
            try:
                reached = self._session()
            except Exception:  # a bug must not end reconnection
                log.exception("DTC session with %s failed unexpectedly", self.peer)
            if self._stopping.is_set():
                break
            if reached:
                delay = self.cfg.reconnect_initial_s
            if self._straight_to_max:
                self._straight_to_max = False
                delay = self.cfg.reconnect_max_s
            log.info("reconnecting to the DTC server %s in %.2fs", self.peer, delay)
            self._stopping.wait(delay)
            delay = min(delay * 2, self.cfg.reconnect_max_s)

    def _session(self) -> bool:
        """One connection, from connect to close; True if it reached ready."""
        try:
            sock = socket.create_connection(
                (self.cfg.host, self.cfg.port), timeout=self.cfg.connect_timeout_s
            )
        except OSError as exc:
            self.last_error = f"cannot connect: {exc!r}"
            log.warning("cannot connect to the DTC server %s: %r", self.peer, exc)
            return False
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        conn = DtcConnection(
            sock,
            dispatch=self._dispatch,
            peer=self.peer,
            send_timeout_s=self.cfg.response_timeout_s,
            on_closed=self._on_closed,
        )
        with self._lock:
            self._conn = conn
        conn.start()
        try:
            try:
                logon = handshake(conn, self.cfg, self._waiting, lambda: next(self._request_ids))
            except SessionError as exc:
                self._straight_to_max = exc.no_reconnect
                raise
            self.server_name, self.account = logon.server_name, logon.account
            rec = Recoverer(
                lambda build, done, what: self._request(conn, build, done, what),
                self.cfg,
                self.ids,
                self.account,
            )
            recovery = rec.reconcile(self.hooks.fill_marker())
            self.hooks.on_session(recovery)
            self._subscribe(conn)
            rid = next(self._request_ids)
            conn.send(AccountBalanceRequest(request_id=rid, trade_account=self.account or ""))
            with self._lock:
                if conn.closed:
                    raise ConnectionClosed(conn.reason or "closed")
                self._recoverer = rec
                self._ready.set()
        except Exception as exc:
            self.last_error = f"session not established: {exc}"
            if isinstance(exc, SessionError | OSError | RequestRejected | VenueError):
                log.error("DTC session with %s not established: %s", self.peer, exc)
            else:
                log.exception("DTC session with %s not established", self.peer)
            conn.close(str(exc))
            conn.join()
            return False
        self.sessions += 1
        log.info(
            "DTC session %d with %s ready (server %r, account %r): %d working orders, %d fill reports, "
            "%d positions recovered",
            self.sessions,
            self.peer,
            self.server_name,
            self.account,
            len(recovery.open_orders),
            len(recovery.reports),
            len(recovery.positions),
        )
        conn.wait_closed()
        conn.join()
        self.last_error = conn.reason
        if not self._stopping.is_set():
            log.warning("DTC session with %s ended: %s", self.peer, conn.reason)
        return True

    def watch(self, symbols: list[str]) -> None:
        """Market data for exactly these venue symbols from now on: (un)subscribed at once on the live
        session, all of them on every new one."""
        with self._lock:
            self._wanted = frozenset(symbols)
            conn = self._conn if self._ready.is_set() else None
        if conn is not None:
            with contextlib.suppress(ConnectionClosed, NotSent):  # the next session subscribes afresh
                self._subscribe(conn)

    def _subscribe(self, conn: DtcConnection) -> None:
        with self._md_lock:
            wanted = self._wanted
            sent_on, sent = self._subscribed
            sent = sent if sent_on is conn else frozenset()
            for sym in sorted(wanted - sent):
                self._book.subscribe(self._symbol_id(sym), sym)
                conn.send(self._md_request(RequestActionEnum.SUBSCRIBE, sym))
            for sym in sorted(sent - wanted):
                conn.send(self._md_request(RequestActionEnum.UNSUBSCRIBE, sym))
            self._subscribed = (conn, wanted)

    def _symbol_id(self, sym: str) -> int:
        return self._symbol_ids.setdefault(sym, len(self._symbol_ids) + 1)

    def _md_request(self, action: RequestActionEnum, sym: str) -> MarketDataRequest:
        return MarketDataRequest(
            request_action=action,
            symbol_id=self._symbol_id(sym),
            symbol=self.cfg.wire_symbol(sym),
            exchange=self.cfg.exchange,
        )

    def _on_closed(self, conn: DtcConnection, reason: str) -> None:
        with self._lock:
            if conn is not self._conn:
                return
            self._ready.clear()
            self._recoverer = None
        self._waiting.fail_all(reason)

    # ---- request and answer ----------------------------------------------------------------------

    def _request(
        self, conn: DtcConnection, build: Callable[[int], DtcMessage], done: Done, what: str
    ) -> list[Message]:
        rid = next(self._request_ids)
        return self._waiting.exchange(conn, self._waiting.requests, rid, build(rid), done, what=what)

    # ---- what the server sends (reader thread) ---------------------------------------------------

    def _dispatch(self, conn: DtcConnection, msg: Message) -> None:
        if isinstance(msg, OrderUpdate):
            self._on_order_update(msg)
        elif isinstance(msg, AccountBalanceUpdate):
            if not msg.no_account_balances and msg.trade_account in ("", self.account or msg.trade_account):
                self.balance = msg
        elif isinstance(msg, AccountBalanceReject):
            log.warning("the DTC server gives no account balance: %s", msg.reject_text)
        elif isinstance(msg, _REPLIES):
            if not self._waiting.route(self._waiting.requests, msg.request_id, msg):
                log.debug("unsolicited or late %r ignored", msg)
        elif isinstance(msg, _REJECTS):
            self._waiting.reject(msg.request_id, f"{type(msg).__name__}: {msg.reject_text}")
        elif isinstance(msg, EncodingResponse | LogonResponse):
            self._waiting.route(self._waiting.replies, msg.TYPE, msg)
        elif isinstance(msg, Logoff):
            log.error(
                "the DTC server %s logged us off: %r%s",
                self.peer,
                msg.reason,
                " (and asks not to reconnect; retrying at the slowest pace)" if msg.do_not_reconnect else "",
            )
            self._straight_to_max = msg.do_not_reconnect
            conn.close(f"logged off by the server: {msg.reason!r}")
        elif isinstance(msg, MarketDataReject):
            log.warning("market data refused for symbol id %d: %s", msg.symbol_id, msg.reject_text)
        elif isinstance(msg, UserMessage | GeneralLogMessage | AlertMessage):
            log.info("DTC server says: %r", msg)
        else:
            tick = self._book.apply(msg)
            if tick is not None:
                self.hooks.on_tick(tick)
            else:
                log.debug("ignored %r", msg)

    def _on_order_update(self, u: OrderUpdate) -> None:
        if u.request_id:
            if self._waiting.route(self._waiting.requests, u.request_id, u):
                return
            if u.order_update_reason is Reason.OPEN_ORDERS_REQUEST_RESPONSE:
                return  # a late restatement of a request that timed out
        self.ids.learn(u)
        if u.order_update_reason in (Reason.ORDER_CANCEL_REJECTED, Reason.ORDER_CANCEL_REPLACE_REJECTED):
            log.warning("Sierra Chart refused to cancel %s: %s", u.client_order_id, u.info_text)
        if self._waiting.route(self._waiting.orders, u.client_order_id, u):
            return
        reports = order_update_reports(u)
        if reports:
            self.hooks.on_reports(reports)
