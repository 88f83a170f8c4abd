"""The simulated broker behind one terminal: market, matching engine, faults and the terminal's ledger.

`Venue` is the shared state that the MT5 API (`terminal.Terminal`), the trade logic (`trading.Trader`)
and the test control surface (`control.Control`) all work on. It owns the one rule that keeps the
records consistent: every report the engine produces goes through `absorb`, whoever caused it (an
order_send, a price move, a market step, the background ticker), so deals are recorded exactly once
and in order.

Fault injection reuses `nexus_sim.Faults`: rejects and requotes are the engine's own, armed with the
MT5 retcode or price move the terminal should report, and a disconnect rule on `after_submit`
(`before_submit`) makes the engine place (or lose) the order and then flags the terminal to drop the
client's connection before the answer goes out.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from decimal import Decimal

from nexus_mt5.simulator import constants as c
from nexus_mt5.simulator.ledger import Ledger, money
from nexus_mt5.simulator.profiles import Profile, SymbolSpec
from nexus_protocol.enums import Side
from nexus_sim import (
    Faults,
    Market,
    MatchingConfig,
    MatchingEngine,
    Quote,
    RejectReason,
    Report,
    SimClock,
    SimPosition,
)
from nexus_sim.journal import attach_from_env


class TerminalFaults(Faults):
    """`Faults` that also remember which MT5 answer an injected reject or requote should produce."""

    def reset(self) -> None:
        super().reset()
        self._codes: deque[tuple[int, str]] = deque()
        self._moves: deque[int] = deque()
        self.last_reject: tuple[int, str] | None = None
        self.last_requote_move: int | None = None

    def clear(self) -> None:
        super().clear()
        self._codes.clear()
        self._moves.clear()

    def reject_with(self, count: int, retcode: int, comment: str) -> None:
        self.reject_next(count, RejectReason.VENUE_REJECTED, comment)
        self._codes.extend([(retcode, comment)] * count)

    def requote_with(self, count: int, move_ticks: int) -> None:
        self.requote_next(count)
        self._moves.extend([move_ticks] * count)

    def take_reject(self) -> tuple[RejectReason, str] | None:
        taken = super().take_reject()
        if taken is not None:
            self.last_reject = self._codes.popleft() if self._codes else (c.TRADE_RETCODE_REJECT, taken[1])
        return taken

    def take_requote(self) -> bool:
        hit = super().take_requote()
        if hit:
            self.last_requote_move = self._moves.popleft() if self._moves else 0
        return hit


@dataclass(frozen=True, slots=True)
class Money:
    balance: float
    equity: float
    profit: float
    margin: float
    margin_free: float
    margin_level: float


class Venue:
    """Everything one simulated terminal trades against."""

    def __init__(self, profile: Profile, clock: SimClock) -> None:
        self.profile = profile
        self.clock = clock
        self.market = Market(seed=profile.seed, clock=clock)
        self.specs: dict[str, SymbolSpec] = {}
        for spec in profile.symbols:
            self.market.add_instrument(spec.instrument, session=spec.session)
            self.specs[spec.name] = spec
        self.faults = TerminalFaults()
        self.engine = MatchingEngine(
            self.market,
            config=MatchingConfig(
                fill_parts=profile.fill_parts,
                hedging=profile.hedging,
                cash=profile.balance,
                currency=profile.currency,
                first_order_id=profile.first_order_ticket,
            ),
            faults=self.faults,
        )
        self.ledger = Ledger(
            hedging=profile.hedging,
            first_deal_ticket=profile.first_deal_ticket,
            commission_per_lot=profile.commission_per_lot,
        )
        self.ledger.deposit(profile.balance, clock.now_ns())
        self.autotrading = True
        self.immediate_parts = profile.immediate_parts
        self.selected = {spec.name for spec in profile.symbols if spec.visible}
        self.drop_pending = False  # a disconnect rule fired: drop the client once the call is done
        self.faults.on_disconnect(self._disconnect_fired)
        # NX_SIM_JOURNAL: what this terminal received and filled, named by comment (MT5 has no client ids)
        attach_from_env(self.engine, name_of=self.ledger.comment_of)

    def __repr__(self) -> str:
        return f"Venue(profile={self.profile.name!r}, {self.engine!r})"

    def _disconnect_fired(self, event: str) -> None:
        self.drop_pending = True

    # -- symbols and prices --------------------------------------------------------------------------

    def spec(self, symbol: str) -> SymbolSpec | None:
        return self.specs.get(symbol)

    def quote(self, symbol: str) -> Quote:
        return self.market.quote(symbol)

    def is_open(self, symbol: str) -> bool:
        return self.market.is_open(symbol)

    def set_session(self, symbol: str | None, is_open: bool | None) -> None:
        """Force one symbol (or all) open / closed, or back to its schedule with None."""
        for spec in self.specs.values():
            if symbol is None or spec.name == symbol:
                self.market.set_session(spec.name, spec.session if is_open is None else is_open)

    def move(self, symbol: str, ticks: int) -> Quote:
        """Shift bid, ask and last by whole ticks (a requote's price move)."""
        spec = self.market.instrument(symbol)
        q = self.market.quote(symbol)
        delta = spec.from_ticks(ticks)
        return self.market.set_quote(
            symbol,
            bid=spec.round_price(q.bid + delta),
            ask=spec.round_price(q.ask + delta),
            last=spec.round_price(q.last + delta),
        )

    # -- engine --------------------------------------------------------------------------------------

    def absorb(self, reports: list[Report]) -> list[Report]:
        for report in reports:
            self.ledger.on_report(report)
        return reports

    def process(self) -> list[Report]:
        """One matching step at the current quotes."""
        return self.absorb(self.engine.process())

    def step(self) -> list[Report]:
        """Move every walk one step, then match."""
        self.market.step()
        return self.process()

    # -- money ---------------------------------------------------------------------------------------

    def money(self) -> Money:
        info = self.engine.account_info()
        balance = (info.balance or Decimal(0)) + self.ledger.commission_total
        equity = balance + info.unrealized_pnl
        margin = info.margin_used
        level = equity / margin * 100 if margin else Decimal(0)
        return Money(
            balance=money(balance),
            equity=money(equity),
            profit=money(info.unrealized_pnl),
            margin=money(margin),
            margin_free=money(equity - margin),
            margin_level=money(level),
        )

    def position_profit(self, position: SimPosition) -> float:
        """Open P&L of one position, marked where it could be closed now (longs at bid, shorts at ask)."""
        spec = self.market.instrument(position.symbol)
        q = self.quote(position.symbol)
        side = Side.BUY if position.quantity > 0 else Side.SELL
        mark = Decimal(str(q.bid if side is Side.BUY else q.ask))
        pnl = spec.pnl(side, Decimal(str(abs(position.quantity))), Decimal(str(position.avg_price)), mark)
        return money(pnl)
