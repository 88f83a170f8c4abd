"""`AtiAdapter`: NinjaTrader 8 through its Automated Trading Interface, for installs without the AddOn.

Degraded, and documented as such (docs/nt8.md): the ATI reports an order's state, cumulative filled
quantity and average price, and nothing else. So:
- there are no execution ids: each increase of the filled quantity becomes one synthesized fill
  (`synthetic=True`) whose id derives from the order id and the new cumulative quantity
  (`ati-{coid}-{cum}`), so re-reading the same state, after a restart too, yields the same id;
- the price of such a fill is inferred from the change of the average price; a partial fill and the
  next one seen in the same poll merge into one fill;
- state arrives by polling (NX_TICK_INTERVAL_S), there are no rejection reasons, no market data,
  and NinjaTrader clears its outgoing folder on restart (an order it no longer reports is found
  only through positions: the base raises `position_mismatch`).
What it keeps: intent before send, lookup by client order id (its ATI ORDER ID) before any resend,
unknown outcomes resolved by lookup, and fills published before their progress is remembered (Redis
hash `...:ati`), so a crash between the two re-synthesizes the same fill, which dedupes.
Transports: `OifFolder` (files, any host) or `DllTransport` (NinjaTrader.Client.dll via pythonnet,
Windows only), chosen by NX_NT8_MODE.
"""

from __future__ import annotations

import importlib
import logging
import sys
import time
from decimal import Decimal
from pathlib import Path
from typing import Any, Protocol

import redis

from nexus_mesh.adapter import Adapter, IntentState, Reconciliation, UnknownOutcome, VenueReport
from nexus_nt8.config import Nt8Mode, Nt8Settings
from nexus_nt8.oif import NT_STATES, AtiState, OifFolder, PlaceCommand
from nexus_nt8.server import wait_until
from nexus_protocol.enums import OrderStatus, OrderType, Side, TimeInForce
from nexus_protocol.errors import ConfigError, VenueError
from nexus_protocol.messages import VenueOrder

log = logging.getLogger(__name__)
ATI_TIF = {TimeInForce.DAY: "DAY", TimeInForce.GTC: "GTC"}
ATI_TYPE = {OrderType.MARKET: "MARKET", OrderType.LIMIT: "LIMIT", OrderType.STOP: "STOPMARKET"}
REPORTED = {OrderStatus.ACCEPTED, OrderStatus.CANCELLED, OrderStatus.REJECTED, OrderStatus.EXPIRED}


class AtiTransport(Protocol):
    def check(self) -> None: ...
    def connected(self) -> bool: ...
    def place(self, cmd: PlaceCommand) -> None: ...
    def cancel(self, order_id: str) -> None: ...
    def pending(self, order_id: str) -> bool: ...
    def order_state(self, order_id: str) -> AtiState | None: ...
    def positions(self, account: str) -> dict[str, float]: ...


class DllTransport:
    """NinjaTrader.Client.dll (`Client`: Command, OrderStatus, Filled, AvgFillPrice, MarketPosition)."""

    def __init__(self, settings: Nt8Settings) -> None:
        if sys.platform != "win32":
            raise ConfigError("NX_NT8_MODE=dll needs Windows and NinjaTrader.Client.dll; use oif elsewhere")
        self._dll: Path = settings.nt8_ati_dll
        self._client: Any = None
        self._instruments: set[str] = set()

    def check(self) -> None:
        if self._client is None:
            clr: Any = importlib.import_module("clr")  # pythonnet
            clr.AddReference(str(self._dll))
            self._client = importlib.import_module("NinjaTrader.Client").Client()
        if self._client.Connected(0) != 0:
            raise ConnectionError("NinjaTrader's ATI is not connected (Tools > Options > ATI enabled?)")

    def connected(self) -> bool:
        return self._client is not None and self._client.Connected(0) == 0

    def place(self, c: PlaceCommand) -> None:
        self._instruments.add(c.instrument)
        if (
            self._client.Command(
                "PLACE",
                c.account,
                c.instrument,
                c.action,
                c.quantity,
                c.order_type,
                c.limit_price or 0.0,
                c.stop_price or 0.0,
                c.tif,
                "",
                c.order_id,
                "",
                "",
            )
            != 0
        ):
            raise ConnectionError(f"ATI Command PLACE {c.order_id} returned an error")

    def cancel(self, order_id: str) -> None:
        if self._client.Command("CANCEL", "", "", "", 0, "", 0.0, 0.0, "", "", order_id, "", "") != 0:
            raise ConnectionError(f"ATI Command CANCEL {order_id} returned an error")

    def pending(self, order_id: str) -> bool:
        return False

    def order_state(self, order_id: str) -> AtiState | None:
        text = str(self._client.OrderStatus(order_id) or "")
        status = NT_STATES.get(text.strip().upper())
        if status is None:
            return None
        return AtiState(
            status, int(self._client.Filled(order_id)), float(self._client.AvgFillPrice(order_id)), text
        )

    def positions(self, account: str) -> dict[str, float]:
        out = {i: float(self._client.MarketPosition(i, account)) for i in sorted(self._instruments)}
        return {i: q for i, q in out.items() if q}


class AtiAdapter(Adapter):
    settings: Nt8Settings

    def __init__(
        self, settings: Nt8Settings, client: redis.Redis, transport: AtiTransport | None = None
    ) -> None:
        super().__init__(settings, client)
        settings.check()
        self.account = settings.account
        if transport is None:
            transport = (
                DllTransport(settings)
                if settings.nt8_mode is Nt8Mode.DLL
                else OifFolder(settings.nt8_ati_dir)
            )
        self.transport = transport
        self._progress = self.names.state(f"adapter-{self.venue}", "ati")  # coid -> "cum|avg" published
        self.intents.expire_with(self._progress)
        self._published: dict[str, str] = {}  # coid -> the state text last published (skip unchanged)
        self._tracked: set[str] = set(
            self.intents.in_state(IntentState.SENDING, IntentState.SENT, IntentState.UNKNOWN)
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

    def submit(self, order: VenueOrder) -> list[VenueReport]:
        cmd = _place(order, self.account)
        self.transport.place(cmd)  # OSError: unknown outcome (the base looks it up)
        self._tracked.add(cmd.order_id)
        found: list[AtiState] = []
        if not wait_until(
            lambda: _append(found, self.transport.order_state(cmd.order_id)),
            self.settings.nt8_submit_timeout_s,
            0.02,
        ):
            raise UnknownOutcome(
                f"no ATI state for {cmd.order_id} within {self.settings.nt8_submit_timeout_s}s"
            )
        state = found[-1]
        if state.status is OrderStatus.REJECTED:
            raise VenueError("NinjaTrader rejected the order (the ATI gives no reason)", code="rejected")
        return [r for r in self._reports(order, state) if not r.is_fill]  # fills: published by poll()

    def cancel(self, client_order_id: str) -> list[VenueReport]:
        self.transport.cancel(client_order_id)
        return []  # the state change arrives through poll()

    def lookup(self, client_order_id: str) -> list[VenueReport] | None:
        order = self.intents.order(client_order_id)
        found: list[AtiState] = []
        if not wait_until(
            lambda: (
                _append(found, self.transport.order_state(client_order_id))
                or self.transport.pending(client_order_id)
            ),
            self.settings.nt8_ati_grace_s,
            0.05,
        ):
            return None
        self._tracked.add(client_order_id)
        if not found or order is None:
            return []  # still waiting in NinjaTrader's incoming folder: it will be placed, once
        return self._reports(order, found[-1])

    def reconcile(self, since: str | None) -> Reconciliation:
        open_orders, reports = [], []
        for coid in sorted(self._tracked):
            order, state = self.intents.order(coid), self.transport.order_state(coid)
            if order is None or state is None:
                continue
            reports += self._reports(order, state)
            if not state.status.terminal:
                open_orders.append(
                    VenueReport(
                        client_order_id=coid,
                        status=OrderStatus.ACCEPTED,
                        cum_qty=float(state.filled),
                        leaves_qty=order.venue_quantity - state.filled,
                    )
                )
        return Reconciliation(
            open_orders=open_orders,
            reports=reports,
            positions=self.transport.positions(self.account),
            marker=None,
        )

    def open_orders(self) -> list[str]:
        return [
            c
            for c in sorted(self._tracked)
            if (s := self.transport.order_state(c)) is not None and not s.status.terminal
        ]

    def poll(self) -> None:
        """Read every tracked order's state file; publish what changed, then remember it."""
        for coid in sorted(self._tracked):
            state = self.transport.order_state(coid)
            if state is None or self._published.get(coid) == state.raw:
                continue
            order = self.intents.order(coid)
            if order is None:
                continue
            reports = self._reports(order, state)
            try:
                self.publisher.publish(self._fill_outputs(reports, order))
                self.redis.hset(self._progress, coid, f"{state.filled}|{state.avg_price}")
            except redis.RedisError as exc:
                log.warning("ATI progress of %s not published now (%s)", coid, exc)
                return
            self._published[coid] = state.raw
            if state.status.terminal:
                self._tracked.discard(coid)
                self._published.pop(coid, None)

    # ---- fills from states ----------------------------------------------------------------------

    def _reports(self, order: VenueOrder, state: AtiState) -> list[VenueReport]:
        coid = order.client_order_id
        raw = self.redis.hget(self._progress, coid)
        prev_cum, prev_avg = (Decimal(x) for x in _text(raw).split("|")) if raw else (Decimal(0), Decimal(0))
        out: list[VenueReport] = []
        cum, avg = Decimal(state.filled), Decimal(repr(state.avg_price))
        if cum > prev_cum:
            last_qty = cum - prev_cum
            last_px = float(round((avg * cum - prev_avg * prev_cum) / last_qty, 10))
            done = state.status is OrderStatus.FILLED or cum >= Decimal(repr(order.venue_quantity))
            leaves = max(0.0, order.venue_quantity - state.filled)
            out.append(VenueReport(
                client_order_id=coid, status=OrderStatus.FILLED if done else OrderStatus.PARTIALLY_FILLED,
                exec_id=f"ati-{coid}-{state.filled}", last_qty=float(last_qty), last_price=last_px,
                cum_qty=float(cum), avg_price=state.avg_price, leaves_qty=leaves, ts_ns=time.time_ns(),
                synthetic=True,
            ))  # fmt: skip
        if state.status in REPORTED:
            out.append(
                VenueReport(
                    client_order_id=coid,
                    status=state.status,
                    cum_qty=float(state.filled),
                    avg_price=state.avg_price or None,
                    leaves_qty=0.0 if state.status.terminal else order.venue_quantity - state.filled,
                    reason="rejected by NinjaTrader (the ATI gives no reason)"
                    if state.status is OrderStatus.REJECTED
                    else None,
                )
            )
        return out


def _append(found: list[AtiState], state: AtiState | None) -> bool:
    """Collect a state when there is one: any state, pending included, proves the order arrived."""
    if state is not None:
        found.append(state)
        return True
    return False


def _place(order: VenueOrder, account: str) -> PlaceCommand:
    tif = ATI_TIF.get(order.time_in_force)
    if tif is None:
        raise VenueError(
            f"NinjaTrader's ATI has no {order.time_in_force.value} orders (DAY, GTC only)",
            code="invalid_order",
        )
    qty = order.venue_quantity
    if qty != int(qty) or qty < 1:
        raise VenueError(f"NinjaTrader trades whole contracts; got quantity {qty}", code="invalid_order")
    return PlaceCommand(
        account=account,
        instrument=order.venue_symbol,
        action="BUY" if order.side is Side.BUY else "SELL",
        quantity=int(qty),
        order_type=ATI_TYPE[order.order_type],
        limit_price=order.limit_price if order.order_type is OrderType.LIMIT else None,
        stop_price=order.stop_price if order.order_type is OrderType.STOP else None,
        tif=tif,
        order_id=order.client_order_id,
    )


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value
