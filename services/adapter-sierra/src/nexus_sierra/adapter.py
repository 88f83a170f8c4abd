"""The Sierra Chart adapter: the adapter base (`nexus_mesh.adapter`) over a DTC client.

What it adds to the base's guarantees (intent before send, lookup on redelivery, unknown outcomes,
reconcile on every reconnect, deterministic fill ids):
- A VenueOrder becomes one SUBMIT_NEW_SINGLE_ORDER whose ClientOrderID is the gateway's client
  order id (30 characters; DTC carries 31), IsAutomatedOrder set, FreeFormText "NEXUS {signal}".
  An order DTC cannot carry (id too long, a limit without a price) is refused before anything is sent.
- Every ServerOrderID -> ClientOrderID pair the client learns is written to Redis at once
  (`{ns}:{state:adapter-sierra}:server_ids`), so a restarted process can attribute the fill
  history (which names orders by ServerOrderID only) to its own orders.
- Reports Sierra pushes go through the base (`emit_reports`): those for an order whose submit is still
  running are published with its result, after it; what cannot be published now is retried.
- The client reconciles at every (re)connect before it sends anything; the base's next
  `reconcile` publishes that recovery (and moves the fill marker), later ones query afresh.
- Market data: NX_SIERRA_SYMBOLS, or else the registry's active contracts for this venue, followed
  as the rollover service publishes and rolls them.
"""

from __future__ import annotations

import logging
import threading
import time

import redis

from nexus_mesh import contracts
from nexus_mesh.adapter import Adapter, HeldPosition, Reconciliation, VenueReport, held
from nexus_mesh.connection import as_str
from nexus_protocol.errors import NexusError, VenueError
from nexus_protocol.messages import Tick, VenueOrder
from nexus_sierra import mapping
from nexus_sierra.client import ClientHooks, DtcClient
from nexus_sierra.config import SierraSettings
from nexus_sierra.mapping import OrderRef

log = logging.getLogger(__name__)


class SierraAdapter(Adapter):
    settings: SierraSettings

    def __init__(self, settings: SierraSettings, client: redis.Redis) -> None:
        super().__init__(settings, client)
        self._ids_key = self.names.state(f"adapter-{self.venue}", "server_ids")
        self._lock = threading.Lock()
        self._recovery: Reconciliation | None = None
        self._waited = False
        self._md_checked = 0.0
        self.dtc = DtcClient(settings.client_config(), _Hooks(self))

    def __repr__(self) -> str:
        return f"<SierraAdapter {self.venue} {self.dtc!r}>"

    def account_equity(self) -> tuple[float, str] | None:
        """The last ACCOUNT_BALANCE_UPDATE's cash balance plus open positions' P&L, in its currency (an
        update without a currency is not used: the amount alone could be in anything)."""
        b = self.dtc.balance
        if b is None or not b.account_currency:
            return None
        return b.cash_balance + b.open_positions_profit_loss, b.account_currency

    # ---- the platform part ----------------------------------------------------------------------

    def connect(self) -> None:
        self.dtc.start()
        if not self._waited:  # the first call waits for the first session, so early orders find it up
            self._waited = True
            self.dtc.wait_ready(
                self.settings.sierra_connect_timeout_s + self.settings.sierra_response_timeout_s
            )
        if not self.dtc.ready:
            raise VenueError(
                f"Sierra Chart not ready at {self.dtc.peer}: {self.dtc.last_error}", retryable=True
            )

    def connected(self) -> bool:
        return self.dtc.ready

    def submit(self, order: VenueOrder) -> list[VenueReport]:
        cfg = self.dtc.cfg
        return self.dtc.submit(
            mapping.dtc_order(order, cfg.wire_symbol(order.venue_symbol), cfg.exchange, self.dtc.account)
        )

    def cancel(self, client_order_id: str) -> list[VenueReport]:
        return self.dtc.cancel(client_order_id)

    def lookup(self, client_order_id: str) -> list[VenueReport] | None:
        return self.dtc.lookup(client_order_id)

    def reconcile(self, since: str | None) -> Reconciliation:
        with self._lock:
            recovery, self._recovery = self._recovery, None
        return recovery if recovery is not None else self.dtc.reconcile(since)

    def flatten(self) -> list[HeldPosition]:
        return held(self.dtc.positions())

    def open_orders(self) -> list[str]:
        return [r.client_order_id for r in self.dtc.open_orders()]

    def poll(self) -> None:
        """Without NX_SIERRA_SYMBOLS, market data follows the registry's active contracts."""
        now = time.monotonic()
        if self.settings.sierra_symbols or now - self._md_checked < contracts.REFRESH_S:
            return
        self._md_checked = now
        try:
            symbols, _waiting = contracts.market_symbols(self.redis, self.names, self.registry, self.venue)
        except (NexusError, redis.RedisError) as exc:
            log.warning("market data subscriptions unchanged: %s", exc)
            return
        self.dtc.watch(symbols)

    def close(self) -> None:
        self.dtc.stop()

    # ---- helpers --------------------------------------------------------------------------------

    def _session(self, recovery: Reconciliation) -> None:
        with self._lock:
            self._recovery = recovery
        self.request_reconcile()

    def _remember(self, sid: str, ref: OrderRef) -> None:
        try:
            self.redis.hset(
                self._ids_key, mapping={f"s:{sid}": ref.client_order_id, f"c:{ref.client_order_id}": sid}
            )
        except redis.RedisError as exc:
            log.warning(
                "could not persist Sierra order %s = %s (%s); kept in memory", sid, ref.client_order_id, exc
            )

    def _resolve(self, sid: str) -> OrderRef | None:
        raw = self.redis.hget(self._ids_key, f"s:{sid}")
        if raw is None:
            return None
        coid = as_str(raw)
        order = self.intents.order(coid)
        return OrderRef(coid, order.venue_quantity if order is not None else None)

    def _server_order_id(self, coid: str) -> str | None:
        raw = self.redis.hget(self._ids_key, f"c:{coid}")
        return as_str(raw) if raw is not None else None


class _Hooks(ClientHooks):
    """The client's callbacks into the adapter (from the client's threads)."""

    def __init__(self, adapter: SierraAdapter) -> None:
        self._a = adapter

    def on_reports(self, reports: list[VenueReport]) -> None:
        self._a.emit_reports(reports)

    def on_tick(self, tick: Tick) -> None:
        self._a.emit_tick(tick)

    def on_session(self, recovery: Reconciliation) -> None:
        self._a._session(recovery)

    def fill_marker(self) -> str | None:
        return self._a.intents.marker()

    def remember(self, server_order_id: str, ref: OrderRef) -> None:
        self._a._remember(server_order_id, ref)

    def resolve(self, server_order_id: str) -> OrderRef | None:
        return self._a._resolve(server_order_id)

    def server_order_id(self, client_order_id: str) -> str | None:
        return self._a._server_order_id(client_order_id)
