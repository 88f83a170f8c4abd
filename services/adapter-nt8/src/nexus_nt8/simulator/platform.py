"""What the AddOn (plugin) does with the adapter's requests, played on the simulated platform.

The Python twin of the C# `PlatformBridge` (BridgeCore/PlatformBridge.cs): a submit is recorded in the
`Registry` before it is placed (a repeated id places nothing and is answered with the order's state),
requests the platform cannot serve are refused up front with the protocol's error codes, and every
engine report becomes registry state and an execution journal entry first and a message second, so
what could not be sent (no connection) is still there for `open_orders_query`.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from nexus_nt8.config import PlatformProfile
from nexus_nt8.simulator.registry import Registry, RegistryEntry
from nexus_nt8.simulator.venue import SimPlatform, UnknownInstrument
from nexus_protocol.bridge import (
    AccountSnapshot,
    BridgeErrorCode,
    BridgeMessage,
    ErrorMessage,
    ExecutionRecord,
    ExecutionUpdate,
    OpenOrdersQuery,
    OpenOrdersSnapshot,
    OrderCancel,
    OrderSubmit,
    PositionRecord,
    PositionSnapshot,
)
from nexus_protocol.enums import OrderStatus, OrderType
from nexus_sim import Report, ReportKind, SimOrder

_STATUS = {
    ReportKind.NEW: OrderStatus.ACCEPTED,
    ReportKind.PENDING_NEW: OrderStatus.PENDING,
    ReportKind.CANCELLED: OrderStatus.CANCELLED,
    ReportKind.EXPIRED: OrderStatus.EXPIRED,
    ReportKind.REJECTED: OrderStatus.REJECTED,
}


class PlatformSide:
    def __init__(self, profile: PlatformProfile, venue: SimPlatform, registry: Registry, *,
                 send: Callable[[BridgeMessage], None], commission: float = 0.0) -> None:  # fmt: skip
        self.profile = profile
        self.venue = venue
        self.registry = registry
        self.send = send  # to the adapter when a session is up; otherwise the message is not sent
        self.commission = commission

    def submit(self, msg: OrderSubmit) -> list[Report] | None:
        """Place a new order and return the engine's reports (not yet applied), or None when it was
        answered already: a repeated client order id, or a refusal."""
        entry, new = self.registry.add(msg)
        if not new:  # a replayed submit places nothing: report where the order stands
            self.send(entry.update())
            return None
        problem = self._refusal(msg)
        if problem is not None:
            self.registry.remove(msg.client_order_id)
            self.send(ErrorMessage(code=problem[0], message=problem[1], ref_seq=msg.seq,
                                   client_order_id=msg.client_order_id))  # fmt: skip
            return None
        limit = msg.limit_price if msg.order_type is OrderType.LIMIT else None
        return self.venue.submit(SimOrder(
            client_order_id=msg.client_order_id, symbol=msg.instrument, side=msg.side, quantity=msg.quantity,
            order_type=msg.order_type, limit_price=limit, stop_price=msg.stop_price,
            time_in_force=msg.time_in_force, account=msg.account,
        ))  # fmt: skip

    def cancel(self, msg: OrderCancel) -> None:
        entry = self.registry.find(msg.client_order_id)
        if entry is None:
            self.send(ErrorMessage(code=BridgeErrorCode.UNKNOWN_ORDER, ref_seq=msg.seq,
                                   message=f"no order named {msg.client_order_id}",
                                   client_order_id=msg.client_order_id))  # fmt: skip
            return
        reports = [] if entry.status.terminal else self.venue.cancel(msg.client_order_id)
        if not any(r.kind is ReportKind.CANCELLED for r in reports):
            self.send(entry.update())  # already final, or the cancel was refused: say where it stands
        self.apply(reports)

    def answer(self, query: OpenOrdersQuery) -> OpenOrdersSnapshot:
        return self.registry.answer(query, time.time_ns())

    def subscribe_problem(self, instrument: str) -> str | None:
        try:
            self.venue.ensure(instrument)
        except UnknownInstrument as exc:
            return str(exc)
        return None

    def snapshots(self) -> list[BridgeMessage]:
        """What the platform side sends after every handshake: positions and account, per account."""
        out: list[BridgeMessage] = []
        for account in self.venue.accounts:
            out += [self.positions(account), self._account(account)]
        return out

    def apply(self, reports: list[Report], *, quiet: bool = False) -> None:
        """Engine reports -> registry and journal (always) -> messages (when connected and not `quiet`)."""
        send = _discard if quiet else self.send
        for r in reports:
            entry = self.registry.find(r.client_order_id)
            if entry is None:
                continue
            if r.venue_order_id:
                entry.platform_order_id = f"{self.profile.execution_prefix}-O{r.venue_order_id}"
            if r.kind is ReportKind.FILL:
                self._fill(entry, r, send)
                continue
            status = _STATUS.get(r.kind)
            if status is None:
                continue
            entry.status = status
            entry.reason = (r.text or (r.reason.value if r.reason else None)) if status.terminal else None
            send(entry.update(r.ts_ns))

    def positions(self, account: str) -> PositionSnapshot:
        held = [PositionRecord(instrument=p.symbol, quantity=round(p.quantity), avg_price=p.avg_price)
                for p in self.venue.positions(account) if p.quantity]  # fmt: skip
        return PositionSnapshot(account=account, positions=held, time_ns=time.time_ns())

    def _refusal(self, msg: OrderSubmit) -> tuple[BridgeErrorCode, str] | None:
        if msg.account not in self.venue.accounts:
            return BridgeErrorCode.UNKNOWN_ACCOUNT, f"no account {msg.account!r}"
        if msg.time_in_force not in self.profile.time_in_force:
            return (
                BridgeErrorCode.INVALID_ORDER,
                f"{self.profile.title} has no {msg.time_in_force.value} orders",
            )
        problem = self.subscribe_problem(msg.instrument)
        return None if problem is None else (BridgeErrorCode.UNKNOWN_INSTRUMENT, problem)

    def _fill(self, entry: RegistryEntry, r: Report, send: Callable[[BridgeMessage], None]) -> None:
        qty, s = round(r.last_qty), entry.submit
        x = ExecutionRecord(
            execution_id=f"{self.profile.execution_prefix}-X{r.exec_id}", account=s.account,
            client_order_id=s.client_order_id, platform_order_id=entry.platform_order_id or "",
            instrument=s.instrument, side=s.side, quantity=qty, price=r.last_price,
            commission=self.commission * qty, time_ns=r.ts_ns,
        )  # fmt: skip
        self.registry.record(x)
        entry.filled_quantity = round(r.cum_qty)
        entry.avg_fill_price = r.avg_price
        entry.status = OrderStatus.FILLED if r.status is OrderStatus.FILLED else OrderStatus.PARTIALLY_FILLED
        send(ExecutionUpdate(**x.model_dump()))
        send(entry.update(r.ts_ns))
        send(self.positions(s.account))
        send(self._account(s.account))  # its values changed with the fill

    def _account(self, account: str) -> AccountSnapshot:
        info = self.venue.engine.account_info(account)
        return AccountSnapshot(
            account=account, currency=info.currency, cash=self.venue.cash + float(info.realized_pnl),
            realized_pnl=float(info.realized_pnl), unrealized_pnl=float(info.unrealized_pnl),
            time_ns=time.time_ns(),
        )  # fmt: skip


def _discard(_msg: BridgeMessage) -> None:
    """A muted platform: the state is kept, nothing is said."""
