"""Order records and their life cycle inside the matching engine.

One `OrderRecord` per order the venue received, never deleted: PENDING (received, ack latency running)
-> ACCEPTED -> PARTIALLY_FILLED -> FILLED, or -> CANCELLED / EXPIRED / REJECTED. Each transition
produces exactly one report built from the record after the change, so a report and a later lookup of
the same order always agree. Each matching step gives an order at most one fill (`rules.slice_qty`).

Fill prices: market orders and triggered stops take the far side of the quote plus slippage; a limit
order that crosses on arrival (or after a replace) takes the quote, like an aggressive order; once it
has rested, it fills at its own limit price, like a passive order that the market traded through.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import TYPE_CHECKING

from nexus_protocol.enums import OrderStatus, OrderType, Side, TimeInForce
from nexus_sim.accounts import ZERO, Account
from nexus_sim.faults import FaultEvent
from nexus_sim.instruments import to_decimal
from nexus_sim.model import OrderState, RejectReason, Report, ReportKind, SimOrder
from nexus_sim.rules import (
    Problem,
    check_prices,
    check_quantity,
    limit_crosses,
    market_price,
    requote_needed,
    slice_qty,
    stop_triggered,
)

if TYPE_CHECKING:
    from nexus_sim.matching import MatchingEngine

_WORKING = (OrderStatus.ACCEPTED, OrderStatus.PARTIALLY_FILLED)
_CLOSING_KIND = {
    OrderStatus.CANCELLED: ReportKind.CANCELLED,
    OrderStatus.EXPIRED: ReportKind.EXPIRED,
    OrderStatus.REJECTED: ReportKind.REJECTED,
}


@dataclass(slots=True, eq=False)
class OrderRecord:
    order: SimOrder
    venue_order_id: str
    status: OrderStatus
    created_ts_ns: int
    updated_ts_ns: int
    arrive_ns: int  # when the venue processes it (ack latency)
    fillable_ns: int = 0  # when it may first fill (fill latency)
    cum: Decimal = ZERO
    notional: Decimal = ZERO  # sum of qty * price over fills, for the average price
    triggered: bool = False
    rested: bool = False
    orig_client_order_id: str | None = None
    reason: RejectReason | None = None
    text: str = ""

    @property
    def qty(self) -> Decimal:
        return to_decimal(self.order.quantity)

    @property
    def leaves(self) -> Decimal:
        return ZERO if self.status.terminal else self.qty - self.cum

    @property
    def avg_price(self) -> float:
        return float(self.notional / self.cum) if self.cum else 0.0

    def snapshot(self) -> OrderState:
        return OrderState(
            order=self.order,
            venue_order_id=self.venue_order_id,
            status=self.status,
            cum_qty=float(self.cum),
            avg_price=self.avg_price,
            leaves_qty=float(self.leaves),
            created_ts_ns=self.created_ts_ns,
            updated_ts_ns=self.updated_ts_ns,
            triggered=self.triggered,
            orig_client_order_id=self.orig_client_order_id,
            reason=self.reason,
            text=self.text,
        )


class EngineOrders:
    """Every order of one engine, indexed by client id and venue id, plus the fill journal."""

    def __init__(self, engine: MatchingEngine, *, first_order_id: int) -> None:
        self._engine = engine
        self._next_order_id = first_order_id
        self._all: list[OrderRecord] = []
        self._live: list[OrderRecord] = []
        self._by_client_id: dict[str, OrderRecord] = {}
        self._by_venue_id: dict[str, OrderRecord] = {}
        self.fills: list[Report] = []
        self._fill_index: dict[str, int] = {}

    # -- records -------------------------------------------------------------------------------------

    @property
    def order_count(self) -> int:
        return len(self._all)

    def record(self, order: SimOrder, now: int, *, arrive_ns: int) -> OrderRecord:
        venue_order_id = str(self._next_order_id)
        self._next_order_id += 1
        rec = OrderRecord(order, venue_order_id, OrderStatus.PENDING, now, now, arrive_ns)
        self._all.append(rec)
        self._live.append(rec)
        self._by_client_id[order.client_order_id] = rec
        self._by_venue_id[venue_order_id] = rec
        return rec

    def by_client_id(self, client_order_id: str) -> OrderRecord | None:
        return self._by_client_id.get(client_order_id)

    def by_venue_id(self, venue_order_id: str) -> OrderRecord | None:
        return self._by_venue_id.get(venue_order_id)

    def all(self) -> list[OrderRecord]:
        return list(self._all)

    def live(self) -> list[OrderRecord]:
        self._live = [rec for rec in self._live if not rec.status.terminal]
        return list(self._live)

    def fill_index(self, exec_id: str) -> int | None:
        return self._fill_index.get(exec_id)

    def find_open(
        self, client_order_id: str | None, venue_order_id: str | None
    ) -> tuple[OrderRecord | None, Problem | None]:
        rec = None
        if client_order_id is not None:
            rec = self.by_client_id(client_order_id)
        elif venue_order_id is not None:
            rec = self.by_venue_id(venue_order_id)
        if rec is None:
            return None, (RejectReason.UNKNOWN_ORDER, f"unknown order {client_order_id or venue_order_id!r}")
        if rec.status.terminal:
            return rec, (RejectReason.ORDER_NOT_OPEN, f"order is {rec.status}")
        return rec, None

    def working_margin(self, account: Account) -> Decimal:
        """Margin reserved by acknowledged working orders of `account` (their exposure-adding part)."""
        market = self._engine.market
        total = ZERO
        for rec in self.live():
            o = rec.order
            if o.account != account.account_id or rec.status not in _WORKING:
                continue
            spec, quote = market.instrument(o.symbol), market.quote(o.symbol)
            price = o.limit_price or o.stop_price or (quote.ask if o.side is Side.BUY else quote.bid)
            opening = account.opening_qty(o.symbol, o.side, rec.leaves, o.position_ticket)
            total += spec.margin_for(opening, price)
        return total

    # -- reports -------------------------------------------------------------------------------------

    def report(
        self,
        rec: OrderRecord,
        kind: ReportKind,
        now: int,
        *,
        last_qty: Decimal = ZERO,
        last_price: float = 0.0,
        reason: RejectReason | None = None,
        text: str = "",
        orig_client_order_id: str | None = None,
        position_ticket: int | None = None,
        realized_pnl: Decimal = ZERO,
    ) -> Report:
        o = rec.order
        return Report(
            kind=kind,
            exec_id=self._engine.next_exec_id(),
            client_order_id=o.client_order_id,
            venue_order_id=rec.venue_order_id,
            account=o.account,
            symbol=o.symbol,
            side=o.side,
            order_type=o.order_type,
            quantity=float(o.quantity),
            status=rec.status,
            ts_ns=now,
            limit_price=o.limit_price,
            stop_price=o.stop_price,
            last_qty=float(last_qty),
            last_price=last_price,
            cum_qty=float(rec.cum),
            avg_price=rec.avg_price,
            leaves_qty=float(rec.leaves),
            reason=reason,
            text=text,
            orig_client_order_id=orig_client_order_id,
            position_ticket=position_ticket,
            realized_pnl=realized_pnl,
        )

    def duplicate_reject(self, order: SimOrder, existing: OrderRecord, now: int) -> Report:
        """Refuse a reused client id without touching the order that owns it (not recorded)."""
        return Report(
            kind=ReportKind.REJECTED,
            exec_id=self._engine.next_exec_id(),
            client_order_id=order.client_order_id,
            venue_order_id="",
            account=order.account,
            symbol=order.symbol,
            side=order.side,
            order_type=order.order_type,
            quantity=float(order.quantity),
            status=OrderStatus.REJECTED,
            ts_ns=now,
            limit_price=order.limit_price,
            stop_price=order.stop_price,
            reason=RejectReason.DUPLICATE_CLIENT_ORDER_ID,
            text=f"client order id already used by venue order {existing.venue_order_id}",
        )

    def request_reject(
        self,
        kind: ReportKind,
        rec: OrderRecord | None,
        now: int,
        *,
        problem: Problem | None,
        client_order_id: str | None,
        venue_order_id: str | None,
    ) -> Report:
        """CANCEL_REJECTED / REPLACE_REJECTED. For an unknown order only the ids asked for are real:
        symbol and account are "", side and type placeholders (BUY, MARKET), status REJECTED."""
        reason, text = problem if problem is not None else (RejectReason.VENUE_REJECTED, "")
        if rec is not None:
            return self.report(rec, kind, now, reason=reason, text=text)
        return Report(
            kind=kind,
            exec_id=self._engine.next_exec_id(),
            client_order_id=client_order_id or "",
            venue_order_id=venue_order_id or "",
            account="",
            symbol="",
            side=Side.BUY,
            order_type=OrderType.MARKET,
            quantity=0.0,
            status=OrderStatus.REJECTED,
            ts_ns=now,
            reason=reason,
            text=text,
        )

    # -- transitions ---------------------------------------------------------------------------------

    def close(
        self,
        rec: OrderRecord,
        status: OrderStatus,
        now: int,
        *,
        text: str = "",
        reason: RejectReason | None = None,
    ) -> Report:
        """Move an order to a terminal state (CANCELLED, EXPIRED or REJECTED) and report it."""
        rec.status, rec.updated_ts_ns = status, now
        if reason is not None:
            rec.reason = reason
        if text:
            rec.text = text
        return self.report(rec, _CLOSING_KIND[status], now, reason=reason, text=text)

    def arrive(self, rec: OrderRecord, now: int) -> list[Report]:
        """The order reaches the venue: injected reject, validation, requote, then accept (+ match)."""
        engine, o = self._engine, rec.order
        problem = engine.faults.take_reject() or engine.validate(o, now)
        if problem is None and o.order_type is OrderType.MARKET:
            spec, quote = engine.market.instrument(o.symbol), engine.market.quote(o.symbol)
            price = market_price(spec, o.side, quote, engine.config.slippage_ticks)
            if engine.faults.take_requote() or requote_needed(
                spec, price, o.expected_price, o.deviation_ticks
            ):
                problem = RejectReason.REQUOTE, f"requote: bid {quote.bid} ask {quote.ask}"
        if problem is not None:
            return [self.close(rec, OrderStatus.REJECTED, now, text=problem[1], reason=problem[0])]
        rec.status, rec.updated_ts_ns = OrderStatus.ACCEPTED, now
        rec.fillable_ns = now + engine.faults.fill_latency_ns
        reports = [self.report(rec, ReportKind.NEW, now)]
        if rec.fillable_ns <= now:
            reports.extend(self.match(rec, now))
        return reports

    def process(self, now: int) -> list[Report]:
        reports: list[Report] = []
        for rec in self.live():
            if rec.status is OrderStatus.PENDING:
                if rec.arrive_ns <= now:
                    reports.extend(self.arrive(rec, now))
            elif rec.status in _WORKING and rec.fillable_ns <= now:
                reports.extend(self.match(rec, now))
        return reports

    def _price(self, rec: OrderRecord) -> float | None:
        """The price this order can trade at now, or None if it cannot."""
        engine, o = self._engine, rec.order
        spec, quote = engine.market.instrument(o.symbol), engine.market.quote(o.symbol)
        if o.order_type is OrderType.STOP and not rec.triggered:
            if o.stop_price is None or not stop_triggered(o.side, o.stop_price, quote):
                return None
            rec.triggered = True
        if o.order_type is OrderType.LIMIT:
            if o.limit_price is None or not limit_crosses(o.side, o.limit_price, quote):
                return None
            if rec.rested:
                return o.limit_price
            return quote.ask if o.side is Side.BUY else quote.bid
        return market_price(spec, o.side, quote, engine.config.slippage_ticks)

    def match(self, rec: OrderRecord, now: int) -> list[Report]:
        """One matching chance for a working order."""
        engine, o = self._engine, rec.order
        if not engine.market.is_open(o.symbol, now):
            return []
        price = self._price(rec)
        immediate = o.time_in_force in (TimeInForce.IOC, TimeInForce.FOK)
        if price is None:
            if immediate:
                return [self.close(rec, OrderStatus.CANCELLED, now, text=f"{o.time_in_force}: no match")]
            rec.rested = True
            return []
        spec = engine.market.instrument(o.symbol)
        size = slice_qty(
            spec,
            rec.qty,
            rec.leaves,
            fill_parts=engine.config.fill_parts,
            max_fill_qty_per_step=engine.config.max_fill_qty_per_step,
        )
        if o.time_in_force is TimeInForce.FOK and size < rec.leaves:
            return [self.close(rec, OrderStatus.CANCELLED, now, text="fok: not fillable in full")]
        reports = [self._fill(rec, size, price, now)]
        if immediate and rec.leaves > 0:
            reports.append(self.close(rec, OrderStatus.CANCELLED, now, text="ioc: remainder"))
        return reports

    def _fill(self, rec: OrderRecord, size: Decimal, price: float, now: int) -> Report:
        engine, o = self._engine, rec.order
        engine.faults.should_disconnect(FaultEvent.BEFORE_FILL)
        pnl, ticket = engine.account(o.account).apply_fill(
            engine.market.instrument(o.symbol),
            side=o.side,
            qty=size,
            price=to_decimal(price),
            ts_ns=now,
            opening_ticket=int(rec.venue_order_id),
            close_ticket=o.position_ticket,
        )
        rec.cum += size
        rec.notional += size * to_decimal(price)
        rec.status = OrderStatus.FILLED if rec.cum >= rec.qty else OrderStatus.PARTIALLY_FILLED
        rec.updated_ts_ns = now
        report = self.report(
            rec,
            ReportKind.FILL,
            now,
            last_qty=size,
            last_price=price,
            position_ticket=ticket,
            realized_pnl=pnl,
        )
        self._fill_index[report.exec_id] = len(self.fills)
        self.fills.append(report)
        for observer in engine.observers:
            observer.filled(report)
        return report

    # -- cancel-replace ------------------------------------------------------------------------------

    def check_replace(self, rec: OrderRecord, amended: SimOrder) -> Problem | None:
        o, market = rec.order, self._engine.market
        if rec.status is OrderStatus.PENDING:
            return RejectReason.ORDER_NOT_OPEN, "order not yet acknowledged"
        if o.order_type is OrderType.MARKET:
            return RejectReason.UNSUPPORTED, "a market order cannot be replaced"
        if amended == o:
            return RejectReason.UNSUPPORTED, "nothing to change"
        new_id = amended.client_order_id
        if new_id != o.client_order_id and new_id in self._by_client_id:
            return RejectReason.DUPLICATE_CLIENT_ORDER_ID, f"client order id {new_id!r} in use"
        spec, quote = market.instrument(o.symbol), market.quote(o.symbol)
        if amended.quantity != o.quantity:
            problem = check_quantity(spec, amended.quantity)
            if problem is not None:
                return problem
            if to_decimal(amended.quantity) <= rec.cum:
                return (
                    RejectReason.INVALID_QUANTITY,
                    f"quantity {amended.quantity} must exceed filled {rec.cum}",
                )
        return check_prices(spec, o.order_type, amended.limit_price, amended.stop_price, quote)

    def apply_replace(self, rec: OrderRecord, amended: SimOrder, now: int) -> list[Report]:
        old_id = rec.order.client_order_id
        rec.order = amended
        if amended.client_order_id != old_id:
            rec.orig_client_order_id = old_id
            self._by_client_id[amended.client_order_id] = rec
        rec.rested = False  # a new price that crosses trades like a fresh aggressive order
        rec.updated_ts_ns = now
        reports = [self.report(rec, ReportKind.REPLACED, now, orig_client_order_id=old_id)]
        if rec.fillable_ns <= now:
            reports.extend(self.match(rec, now))
        return reports
