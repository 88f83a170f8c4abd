"""`Nt8Adapter`: the adapter base over the bridge protocol (NinjaTrader 8 AddOn, Quantower plugin).

The adapter is the server; the platform dials in (`server`), and every session starts with a sync
(`link`): the platform answers `open_orders_query` before the adapter sends anything new. On top,
this class keeps the base's guarantees for this platform:
- `submit` sends `order_submit` with our 30-character client order id as the platform's order name
  (NinjaTrader `Order.Name`, Quantower `Order.Comment`) and waits a bounded time for the platform to
  answer for that id. No answer, or a dropped connection, is an *unknown outcome* (`UnknownOutcome`):
  the base marks the intent and resolves it by client order id after the next handshake; the platform
  side is idempotent by that id too, so a resubmit can never place a second order.
- Fills come only from executions, keyed by the platform's execution id and counted in the base's
  execution ledger, so the live stream and a snapshot reporting the same execution yield one fill.
- `reconcile` uses the handshake's snapshot (open orders, executions since the marker, positions),
  or asks again; the marker is the last execution's `time_ns|execution_id`. The handshake asks about
  every order whose outcome is open (recorded, sent and never acknowledged, or unknown).
- `flatten` reports the account's positions as the platform last pushed them (`position_snapshot`).
"""

from __future__ import annotations

import logging
import threading
import time

import redis

from nexus_mesh import contracts
from nexus_mesh.adapter import (
    Adapter,
    HeldPosition,
    IntentState,
    PlatformReport,
    Reconciliation,
    UnknownOutcome,
    held,
)
from nexus_nt8 import mapping
from nexus_nt8.client import BridgeLink, LinkDown
from nexus_nt8.config import Nt8Settings
from nexus_nt8.server import BridgeServerConfig, wait_until
from nexus_protocol.bridge import (
    RETRYABLE_ERROR_CODES,
    BridgeTick,
    ErrorMessage,
    ExecutionUpdate,
    OpenOrdersSnapshot,
    OrderCancel,
    OrderUpdate,
)
from nexus_protocol.enums import OrderStatus
from nexus_protocol.errors import ConfigError, NexusError, VenueError
from nexus_protocol.messages import Tick, VenueOrder

log = logging.getLogger(__name__)

Since = tuple[str | None, int | None]


class Nt8Adapter(Adapter):
    settings: Nt8Settings

    def __init__(self, settings: Nt8Settings, client: redis.Redis) -> None:
        super().__init__(settings, client)
        settings.check()
        self.profile = settings.profile
        self.account = settings.account
        token = settings.nt8_auth_token
        assert token is not None  # settings.check() refuses bridge mode without one
        config = BridgeServerConfig(
            host=settings.nt8_host, port=settings.nt8_port, auth_token=token, platform=self.profile.platform,
            heartbeat_interval_ms=settings.nt8_heartbeat_interval_ms,
            handshake_timeout_s=settings.nt8_handshake_timeout_s, ssl_context=settings.ssl_context(),
        )  # fmt: skip
        self.link = BridgeLink(config, self)
        self._started = False
        self._handshake: tuple[OpenOrdersSnapshot, Since] | None = None
        self._handshake_lock = threading.Lock()
        self._md_checked = 0.0

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

    def submit(self, order: VenueOrder) -> list[PlatformReport]:
        msg = mapping.order_submit(order, self.account, self.profile)
        coid = order.client_order_id
        try:
            reply = self.link.request(
                msg, lambda m: mapping.answers_submit(m, coid), self.settings.nt8_submit_timeout_s
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
            report = mapping.status_report(reply)
            return [report] if report is not None else []
        assert isinstance(reply, ExecutionUpdate)  # an execution answered first
        return [mapping.execution(reply)]

    def cancel(self, client_order_id: str) -> list[PlatformReport]:
        try:
            reply = self.link.request(
                OrderCancel(client_order_id=client_order_id),
                lambda m: mapping.answers_cancel(m, client_order_id),
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
        report = mapping.status_report(reply)
        return [report] if report is not None else []

    def lookup(self, client_order_id: str) -> list[PlatformReport] | None:
        try:
            snap = self.link.query([client_order_id], self._since(), self.settings.nt8_query_timeout_s)
        except (LinkDown, TimeoutError) as exc:
            raise VenueError(f"cannot look up {client_order_id}: {exc}", retryable=True) from exc
        if client_order_id in snap.unknown_client_order_ids:
            return None
        reports: list[PlatformReport] = [
            mapping.execution(x) for x in snap.executions if x.client_order_id == client_order_id
        ]
        for wo in snap.orders:
            if wo.client_order_id == client_order_id:
                rep = mapping.status_report(wo) if wo.status.terminal else mapping.working_report(wo)
                if rep is not None:
                    reports.append(rep)
        return reports

    def reconcile(self, since: str | None) -> Reconciliation:
        wanted = mapping.parse_marker(since)
        with self._handshake_lock:
            handshake, self._handshake = self._handshake, None
        if handshake is not None and handshake[1] == wanted:
            snap = handshake[0]
        else:
            try:
                snap = self.link.query(self._unsure(), wanted, self.settings.nt8_query_timeout_s)
            except (LinkDown, TimeoutError) as exc:
                raise VenueError(f"cannot reconcile: {exc}", retryable=True) from exc
        reports: list[PlatformReport] = [mapping.execution(x) for x in snap.executions]
        open_orders: list[PlatformReport] = []
        for wo in snap.orders:
            if wo.status.terminal:
                rep = mapping.status_report(wo)
                if rep is not None:
                    reports.append(rep)
            else:
                open_orders.append(mapping.working_report(wo))
        marker = mapping.marker(snap.executions[-1]) if snap.executions else since
        positions = dict(self.link.positions.get(self.account, {}))
        return Reconciliation(open_orders=open_orders, reports=reports, positions=positions, marker=marker)

    def flatten(self) -> list[HeldPosition]:
        return held(self.link.positions.get(self.account, {}))

    # ---- what the link asks and tells (the session's thread) -------------------------------------

    def account_equity(self) -> tuple[float, str] | None:
        """The account's value from the platform's last `account_snapshot`: cash plus open P&L (what
        NinjaTrader calls net liquidation, Quantower the balance with its open P&L)."""
        snap = self.link.accounts.get(self.account)
        return None if snap is None else (snap.cash + snap.unrealized_pnl, snap.currency)

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
            return contracts.market_symbols(self.redis, self.names, self.registry, self.venue)[0]
        except (ConfigError, NexusError, redis.RedisError) as exc:
            log.warning("no market data subscriptions: %s", exc)
            return []

    def poll(self) -> None:
        """Market data follows the active contracts (published after we start, changed by a roll)."""
        now = time.monotonic()
        if now - self._md_checked >= contracts.REFRESH_S:
            self._md_checked = now
            self.link.subscribe(self.instruments())

    def on_synced(self, snapshot: OpenOrdersSnapshot, since: Since) -> None:
        with self._handshake_lock:
            self._handshake = (snapshot, since)
        self.request_reconcile()

    def on_order_update(self, msg: OrderUpdate) -> None:
        report = mapping.status_report(msg)
        if report is not None:
            self.emit_reports([report])

    def on_execution(self, msg: ExecutionUpdate) -> None:
        self.emit_reports([mapping.execution(msg)])

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
        return mapping.parse_marker(self.intents.marker())

    def _unsure(self) -> list[str]:
        """Orders whose outcome is open: recorded but never answered, never acknowledged, lost in a drop."""
        return sorted(self.intents.in_state(IntentState.SENDING, IntentState.SENT, IntentState.UNKNOWN))
