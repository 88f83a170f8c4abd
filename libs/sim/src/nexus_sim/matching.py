"""The matching engine: orders against the simulated market, with the venue's own records.

Guarantees:
- Synchronous and clock-driven: `submit`, `cancel`, `replace` answer at once with the reports they cause;
  anything delayed (injected latency, partial fills over several steps, resting orders) happens in
  `process()`, which the platform simulator calls after each `market.step`. Same inputs and same clock
  readings give the same reports, ids included.
- Deterministic ids: venue order ids and exec ids are decimal counters per engine (so an MT5 simulator can
  use them as tickets); every report has a unique exec id, fills are the reports of kind FILL.
- The venue's duplicate check: a client order id seen before (any account) is refused, the existing order
  untouched. Rejected orders are recorded too, so a client that lost the answer can look them up.
- Fills are whole lots and sum exactly to the order quantity (`Decimal` inside); average prices and P&L
  are `Decimal` computations exposed as float prices and `Decimal` money.
- Recovery lookups (`order_by_client_id`, `open_orders`, `fills_since`, `positions`) answer from the
  same records the reports came from, so an adapter reconciling after a dropped connection sees exactly
  what happened while it was away.
- Observers (`observers`, e.g. the file `journal.Journal` a chaos test reads) hear of every order that
  reached the venue, its refusal when the venue refused it on arrival (a requote, a duplicate), and
  every fill, after the engine recorded it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from decimal import Decimal

from nexus_protocol.enums import OrderStatus, Side, TimeInForce
from nexus_sim.accounts import ZERO, Account
from nexus_sim.clock import SimClock
from nexus_sim.faults import FaultConfig, FaultEvent, Faults
from nexus_sim.instruments import to_decimal
from nexus_sim.journal import EngineObserver
from nexus_sim.market import Market
from nexus_sim.model import (
    DEFAULT_ACCOUNT,
    OrderState,
    RejectReason,
    Report,
    ReportKind,
    SimAccountInfo,
    SimOrder,
    SimPosition,
)
from nexus_sim.orders import EngineOrders, OrderRecord
from nexus_sim.rules import Problem, check_prices, check_quantity


@dataclass(frozen=True, kw_only=True, slots=True)
class MatchingConfig:
    fill_parts: int = 1  # split each order into this many fills over successive steps
    max_fill_qty_per_step: float | None = None  # and/or cap what one step may fill
    slippage_ticks: int = 0  # market (and triggered stop) fills this many ticks worse than the quote
    hedging: bool = False  # mode of the default account
    cash: float | None = None  # the default account's cash; None switches the margin check off
    currency: str = "USD"
    default_account: str = DEFAULT_ACCOUNT
    first_order_id: int = 1
    first_exec_id: int = 1
    reuse_rejected_client_ids: bool = False  # let a rejected order's client id be used again

    def __post_init__(self) -> None:
        if self.fill_parts < 1:
            raise ValueError("fill_parts must be >= 1")
        if self.max_fill_qty_per_step is not None and self.max_fill_qty_per_step <= 0:
            raise ValueError("max_fill_qty_per_step must be > 0")
        if self.slippage_ticks < 0:
            raise ValueError("slippage_ticks must be >= 0")


class MatchingEngine:
    """One simulated venue's order handling over a `Market`."""

    def __init__(
        self,
        market: Market,
        *,
        config: MatchingConfig | None = None,
        faults: Faults | FaultConfig | None = None,
        clock: SimClock | None = None,
    ) -> None:
        self.market = market
        self.config = config if config is not None else MatchingConfig()
        self.faults = faults if isinstance(faults, Faults) else Faults(faults)
        self.clock = clock if clock is not None else market.clock
        self._accounts: dict[str, Account] = {}
        self._book = EngineOrders(self, first_order_id=self.config.first_order_id)
        self._next_exec_id = self.config.first_exec_id
        self.observers: list[EngineObserver] = []  # told of every order received and every fill
        self.add_account(
            self.config.default_account,
            hedging=self.config.hedging,
            cash=self.config.cash,
            currency=self.config.currency,
        )

    def __repr__(self) -> str:
        return (
            f"MatchingEngine(orders={self._book.order_count}, open={len(self.open_orders())}, "
            f"fills={len(self._book.fills)}, accounts={list(self._accounts)})"
        )

    # -- accounts ------------------------------------------------------------------------------------

    def add_account(
        self,
        account_id: str,
        *,
        hedging: bool = False,
        cash: float | Decimal | None = None,
        currency: str = "USD",
    ) -> None:
        if account_id in self._accounts:
            raise ValueError(f"account {account_id!r} already exists")
        self._accounts[account_id] = Account(
            account_id, hedging=hedging, cash=None if cash is None else to_decimal(cash), currency=currency
        )

    @property
    def accounts(self) -> tuple[str, ...]:
        return tuple(self._accounts)

    def account(self, account_id: str | None = None) -> Account:
        return self._accounts[self.config.default_account if account_id is None else account_id]

    def next_exec_id(self) -> str:
        exec_id = str(self._next_exec_id)
        self._next_exec_id += 1
        return exec_id

    # -- requests ------------------------------------------------------------------------------------

    def submit(self, order: SimOrder) -> list[Report]:
        """Send a new order. Returns its reports so far: NEW (+ fills) or REJECTED, or PENDING_NEW when
        acknowledgement latency is injected; [] when a `before_submit` disconnect ate the request."""
        if self.faults.should_disconnect(FaultEvent.BEFORE_SUBMIT):
            return []
        now = self.clock.now_ns()
        existing = self._book.by_client_id(order.client_order_id)
        duplicate = existing is not None and not (
            self.config.reuse_rejected_client_ids and existing.status is OrderStatus.REJECTED
        )
        for observer in self.observers:
            observer.received(order, duplicate=duplicate)
        if existing is not None and duplicate:
            reports = [self._book.duplicate_reject(order, existing, now)]
        else:
            rec = self._book.record(order, now, arrive_ns=now + self.faults.ack_latency_ns)
            if rec.arrive_ns > now:
                reports = [self._book.report(rec, ReportKind.PENDING_NEW, now)]
            else:
                reports = self._book.arrive(rec, now)
        for r in reports:
            if r.kind is ReportKind.REJECTED and r.client_order_id == order.client_order_id:
                for observer in self.observers:
                    observer.rejected(r)
        self.faults.should_disconnect(FaultEvent.AFTER_SUBMIT)
        return reports

    def cancel(
        self, client_order_id: str | None = None, *, venue_order_id: str | None = None
    ) -> list[Report]:
        """Cancel a working (or not yet acknowledged) order, by client id or venue id."""
        if self.faults.should_disconnect(FaultEvent.BEFORE_CANCEL):
            return []
        now = self.clock.now_ns()
        rec, problem = self._book.find_open(client_order_id, venue_order_id)
        return self._answer(
            ReportKind.CANCEL_REJECTED,
            (rec, problem),
            now,
            (client_order_id, venue_order_id),
            lambda found: [self._book.close(found, OrderStatus.CANCELLED, now)],
        )

    def replace(
        self,
        client_order_id: str | None = None,
        *,
        venue_order_id: str | None = None,
        new_client_order_id: str | None = None,
        quantity: float | None = None,
        limit_price: float | None = None,
        stop_price: float | None = None,
    ) -> list[Report]:
        """Cancel-replace a working LIMIT or STOP order: new quantity (total, must exceed what has filled)
        and/or prices, optionally under a new client id (FIX style; the venue id stays). Returns
        REPLACED (+ fills if the new price crosses) or REPLACE_REJECTED."""
        if self.faults.should_disconnect(FaultEvent.BEFORE_CANCEL):
            return []
        now = self.clock.now_ns()
        rec, problem = self._book.find_open(client_order_id, venue_order_id)
        amended: SimOrder | None = None
        if rec is not None and problem is None:
            o = rec.order
            amended = replace(
                o,
                client_order_id=o.client_order_id if new_client_order_id is None else new_client_order_id,
                quantity=o.quantity if quantity is None else quantity,
                limit_price=o.limit_price if limit_price is None else limit_price,
                stop_price=o.stop_price if stop_price is None else stop_price,
            )
            problem = self._book.check_replace(rec, amended)
        return self._answer(
            ReportKind.REPLACE_REJECTED,
            (rec, problem),  # no amendment: rec is None or problem is set
            now,
            (client_order_id, venue_order_id),
            lambda found: self._book.apply_replace(found, amended, now) if amended is not None else [],
        )

    def _answer(
        self,
        refusal: ReportKind,
        found: tuple[OrderRecord | None, Problem | None],
        now: int,
        ids: tuple[str | None, str | None],
        apply: Callable[[OrderRecord], list[Report]],
    ) -> list[Report]:
        """A cancel's or replace's reports: `apply` to the open order found, else the refusal."""
        rec, problem = found
        if rec is None or problem is not None:
            reject = self._book.request_reject
            reports = [
                reject(refusal, rec, now, problem=problem, client_order_id=ids[0], venue_order_id=ids[1])
            ]
        else:
            reports = apply(rec)
        self.faults.should_disconnect(FaultEvent.AFTER_CANCEL)
        return reports

    def process(self) -> list[Report]:
        """One matching step at the clock's time: acknowledge orders whose latency has passed, then give
        every working order one chance to fill against the current quotes."""
        return self._book.process(self.clock.now_ns())

    def expire_day_orders(self) -> list[Report]:
        """End of session: every open DAY order expires."""
        now = self.clock.now_ns()
        return [
            self._book.close(rec, OrderStatus.EXPIRED, now, text="end of day")
            for rec in self._book.live()
            if rec.order.time_in_force is TimeInForce.DAY
        ]

    def cancel_all(self, *, account: str | None = None, symbol: str | None = None) -> list[Report]:
        """Cancel every open order (of one account / symbol): the kill switch's venue side."""
        now = self.clock.now_ns()
        return [
            self._book.close(rec, OrderStatus.CANCELLED, now, text="cancel all")
            for rec in self._book.live()
            if (account is None or rec.order.account == account)
            and (symbol is None or rec.order.symbol == symbol)
        ]

    # -- validation (called by the book when an order reaches the venue) -----------------------------

    def validate(self, order: SimOrder, now_ns: int) -> Problem | None:
        """Every check a new order passes before it is accepted, in the venue's order."""
        account = self._accounts.get(order.account)
        if account is None:
            return RejectReason.UNKNOWN_ACCOUNT, f"unknown account {order.account!r}"
        if not self.market.has_instrument(order.symbol):
            return RejectReason.UNKNOWN_SYMBOL, f"unknown symbol {order.symbol!r}"
        spec = self.market.instrument(order.symbol)
        quote = self.market.quote(order.symbol)
        problem = check_quantity(spec, order.quantity) or check_prices(
            spec, order.order_type, order.limit_price, order.stop_price, quote
        )
        if problem is not None:
            return problem
        if not self.market.is_open(order.symbol, now_ns):
            return RejectReason.MARKET_CLOSED, f"{order.symbol} is closed"
        qty = to_decimal(order.quantity)
        if order.position_ticket is not None:
            problem = account.close_problem(order.position_ticket, order.symbol, order.side, qty)
            if problem is not None:
                return problem
        if account.cash is not None:
            return self._check_margin(account, order, qty)
        return None

    def _check_margin(self, account: Account, order: SimOrder, qty: Decimal) -> Problem | None:
        spec = self.market.instrument(order.symbol)
        quote = self.market.quote(order.symbol)
        price = order.limit_price or order.stop_price or (quote.ask if order.side is Side.BUY else quote.bid)
        opening = account.opening_qty(order.symbol, order.side, qty, order.position_ticket)
        required = spec.margin_for(opening, price)
        info = self.account_info(account.account_id)
        if info.free_margin is not None and required > info.free_margin:
            return (
                RejectReason.INSUFFICIENT_MARGIN,
                f"needs margin {required}, free {info.free_margin}",
            )
        return None

    # -- lookups (what adapters use to recover) ------------------------------------------------------

    def order_by_client_id(self, client_order_id: str) -> OrderState | None:
        """The order that has (or had, before a replace) this client id, in any account."""
        rec = self._book.by_client_id(client_order_id)
        return None if rec is None else rec.snapshot()

    def order_by_venue_id(self, venue_order_id: str) -> OrderState | None:
        rec = self._book.by_venue_id(venue_order_id)
        return None if rec is None else rec.snapshot()

    def open_orders(self, *, account: str | None = None, symbol: str | None = None) -> list[OrderState]:
        """Orders not yet in a terminal state (pending acknowledgement included), oldest first."""
        return [
            rec.snapshot()
            for rec in self._book.live()
            if (account is None or rec.order.account == account)
            and (symbol is None or rec.order.symbol == symbol)
        ]

    def orders(self, *, account: str | None = None) -> list[OrderState]:
        """Every recorded order, terminal ones included (order history), oldest first."""
        return [rec.snapshot() for rec in self._book.all() if account is None or rec.order.account == account]

    def fills_since(
        self, *, exec_id: str | None = None, ts_ns: int | None = None, account: str | None = None
    ) -> list[Report]:
        """Fills after the fill `exec_id` (exclusive) and/or at or after `ts_ns` (inclusive), oldest
        first. An exec id the engine never issued gives every fill: the caller dedupes by exec id."""
        fills = self._book.fills
        start = 0
        if exec_id is not None:
            index = self._book.fill_index(exec_id)
            start = 0 if index is None else index + 1
        return [
            f
            for f in fills[start:]
            if (ts_ns is None or f.ts_ns >= ts_ns) and (account is None or f.account == account)
        ]

    def positions(self, *, account: str | None = None, include_flat: bool = False) -> list[SimPosition]:
        """Open positions (all accounts unless one is named): net per symbol, or one per hedging ticket."""
        chosen = self._accounts.values() if account is None else [self._accounts[account]]
        return [p for acc in chosen for p in acc.positions(include_flat=include_flat)]

    def net_position(self, symbol: str, account: str | None = None) -> float:
        """Signed net quantity (hedging tickets summed) in `account` (default: the default account)."""
        return float(self.account(account).net_qty(symbol))

    def realized_pnl(self, symbol: str | None = None, *, account: str | None = None) -> Decimal:
        """Realized P&L in account currency (instrument point value applied), all accounts by default."""
        chosen = self._accounts.values() if account is None else [self._accounts[account]]
        return sum((acc.realized(symbol) for acc in chosen), ZERO)

    def unrealized_pnl(self, symbol: str | None = None, *, account: str | None = None) -> Decimal:
        chosen = self._accounts.values() if account is None else [self._accounts[account]]
        return sum(
            (acc.unrealized(self.market.instrument, self.market.quote, symbol) for acc in chosen), ZERO
        )

    def account_info(self, account: str | None = None) -> SimAccountInfo:
        """Balance, equity and margin of `account` (default: the default account)."""
        acc = self.account(account)
        realized = acc.realized()
        unrealized = acc.unrealized(self.market.instrument, self.market.quote)
        margin = acc.position_margin(self.market.instrument) + self._book.working_margin(acc)
        balance = None if acc.cash is None else acc.cash + realized
        equity = None if balance is None else balance + unrealized
        return SimAccountInfo(
            account=acc.account_id,
            currency=acc.currency,
            hedging=acc.hedging,
            balance=balance,
            equity=equity,
            margin_used=margin,
            free_margin=None if equity is None else equity - margin,
            realized_pnl=realized,
            unrealized_pnl=unrealized,
        )
