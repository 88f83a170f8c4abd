"""`AtiAdapter`: NinjaTrader 8 through its Automated Trading Interface, for installs without the AddOn.

Degraded, and documented as such (README.md, docs/nt8.md): the ATI reports an order's state,
cumulative filled quantity and average price, and nothing else. So:
- there are no execution ids: each increase of the filled quantity becomes one fill the base's ledger
  synthesizes (`synthetic=True`), whose id derives from the order and the new cumulative quantity
  (`mapping.ati_execution_id`), so re-reading the same state, after a restart too, yields the same id;
- the price of such a fill is inferred from the change of the average price; a partial fill and the
  next one seen in the same poll merge into one fill;
- state arrives by polling (NX_TICK_INTERVAL_S), there are no rejection reasons, no market data,
  and NinjaTrader clears its outgoing folder on restart (an order it no longer reports is found
  only through positions: the base raises `position_mismatch`).
What it keeps: intent before send, lookup by client order id (its ATI ORDER ID) before any resend,
unknown outcomes resolved by lookup, fills counted in the ledger before they are published (the base
republishes the ledger of unfinished orders at each reconcile, so a crash in between loses nothing).
Transports (`ati_client`): `OifFolder` (files, any host) or `DllTransport` (NinjaTrader.Client.dll via
pythonnet, Windows only), chosen by NX_NT8_MODE.
"""

from __future__ import annotations

import logging
import time

import redis

from nexus_mesh.adapter import (
    Adapter,
    HeldPosition,
    IntentState,
    PlatformReport,
    Reconciliation,
    UnknownOutcome,
    VenueReport,
    held,
)
from nexus_nt8 import mapping
from nexus_nt8.ati_client import AtiState, AtiTransport, DllTransport, OifFolder
from nexus_nt8.config import Nt8Mode, Nt8Settings
from nexus_nt8.server import wait_until
from nexus_protocol.enums import OrderStatus
from nexus_protocol.errors import VenueError
from nexus_protocol.messages import VenueOrder

log = logging.getLogger(__name__)


class AtiAdapter(Adapter):
    settings: Nt8Settings

    def __init__(
        self, settings: Nt8Settings, client: redis.Redis, transport: AtiTransport | None = None
    ) -> None:
        super().__init__(settings, client)
        settings.check()
        self.account = settings.account
        if transport is None:
            dll = settings.nt8_mode is Nt8Mode.DLL
            transport = DllTransport(settings.nt8_ati_dll) if dll else OifFolder(settings.nt8_ati_dir)
        self.transport = transport
        self._published: dict[str, str] = {}  # coid -> the state text last published (skip unchanged)
        self._tracked: set[str] = set(
            self.intents.in_state(
                IntentState.SENDING, IntentState.SENT, IntentState.WORKING, IntentState.UNKNOWN
            )
        )

    def __repr__(self) -> str:
        return f"AtiAdapter({self.transport!r}, account={self.account}, tracked={len(self._tracked)})"

    # ---- the platform part ----------------------------------------------------------------------

    def connect(self) -> None:
        self.transport.check()

    def connected(self) -> bool:
        try:
            return self.transport.connected()
        except OSError:
            return False

    def submit(self, order: VenueOrder) -> list[PlatformReport]:
        cmd = mapping.place_command(order, self.account)
        self.transport.place(cmd)  # OSError: unknown outcome (the base looks it up)
        self._tracked.add(cmd.order_id)
        state = self._state(cmd.order_id, self.settings.nt8_submit_timeout_s, pending_counts=False)
        if state is None:
            raise UnknownOutcome(
                f"no ATI state for {cmd.order_id} within {self.settings.nt8_submit_timeout_s}s"
            )
        if state.status is OrderStatus.REJECTED:
            raise VenueError("NinjaTrader rejected the order (the ATI gives no reason)", code="rejected")
        status = mapping.ati_status(order.client_order_id, state)
        return [status] if status is not None else []  # fills: counted and published by poll()

    def cancel(self, client_order_id: str) -> list[PlatformReport]:
        self.transport.cancel(client_order_id)
        return []  # the state change arrives through poll()

    def lookup(self, client_order_id: str) -> list[PlatformReport] | None:
        state = self._state(client_order_id, self.settings.nt8_ati_grace_s, pending_counts=True)
        if state is None:
            return None
        self._tracked.add(client_order_id)
        if state is _WAITING:
            return []  # still waiting in NinjaTrader's incoming folder: it will be placed, once
        return self._reports(client_order_id, state)

    def reconcile(self, since: str | None) -> Reconciliation:
        open_orders: list[PlatformReport] = []
        reports: list[PlatformReport] = []
        for coid in sorted(self._tracked):
            state = self.transport.order_state(coid)
            if state is None:
                continue
            reports += self._reports(coid, state)
            if not state.status.terminal:
                open_orders.append(
                    VenueReport(
                        client_order_id=coid, status=OrderStatus.ACCEPTED, cum_qty=float(state.filled)
                    )
                )
        return Reconciliation(open_orders=open_orders, reports=reports,
                              positions=self.transport.positions(self.account))  # fmt: skip

    def flatten(self) -> list[HeldPosition]:
        return held(self.transport.positions(self.account))

    def open_orders(self) -> list[str]:
        return [
            c
            for c in sorted(self._tracked)
            if (s := self.transport.order_state(c)) is not None and not s.status.terminal
        ]

    def poll(self) -> None:
        """Read every tracked order's state file; publish what changed."""
        if not self.emit_reports(()):  # what could not go out before goes first (the ledger counts on it)
            return
        for coid in sorted(self._tracked):
            state = self.transport.order_state(coid)
            if state is None or self._published.get(coid) == state.raw:
                continue
            if not self.emit_reports(self._reports(coid, state)):
                log.warning("ATI progress of %s not published now; retried on the next poll", coid)
                return
            self._published[coid] = state.raw
            if state.status.terminal:
                self._tracked.discard(coid)
                self._published.pop(coid, None)

    # ---- helpers --------------------------------------------------------------------------------

    def _state(self, coid: str, timeout_s: float, *, pending_counts: bool) -> AtiState | None:
        """The order's state file within `timeout_s`; `_WAITING` when only its place file is there
        (`pending_counts`: it proves the order will be placed)."""
        found: list[AtiState] = []

        def seen() -> bool:
            state = self.transport.order_state(coid)
            if state is not None:
                found.append(state)
                return True
            if pending_counts and self.transport.pending(coid):
                found.append(_WAITING)
                return True
            return False

        return found[-1] if wait_until(seen, timeout_s, 0.02) else None

    def _reports(self, coid: str, state: AtiState) -> list[PlatformReport]:
        out: list[PlatformReport] = []
        fill = self.ledger.missing(
            coid, state.filled, state.avg_price if state.filled else None,
            exec_id=mapping.ati_execution_id(coid, state.filled), ts_ns=time.time_ns(),
        )  # fmt: skip
        if fill is not None:
            out.append(fill.completed() if state.status is OrderStatus.FILLED else fill)
        status = mapping.ati_status(coid, state)
        if status is not None:
            out.append(status)
        return out


_WAITING = AtiState(OrderStatus.PENDING, 0, 0.0, "")  # the place file is still in incoming/
