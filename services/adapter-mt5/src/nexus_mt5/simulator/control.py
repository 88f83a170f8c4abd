"""The test control surface of a simulated terminal. Not part of the MetaTrader5 API.

In process: `Control(terminal)`. Served: the server process registers the same methods as the module
`nexus_sim_control`, so a client reaches them through the classic connection it already has:

    ctl = conn.modules.nexus_sim_control        # or conn.execute("import nexus_sim_control")
    ctl.set_market_open(True)
    ctl.drop_after_send()

Arguments and results are plain numbers, strings, booleans and tuples, so they cross rpyc by value.
Every method takes the terminal's lock: it never interleaves with an API call.
"""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal

from nexus_mt5.simulator import constants as c
from nexus_mt5.simulator.clock import AdvancingClock
from nexus_mt5.simulator.profiles import profile as named_profile
from nexus_mt5.simulator.terminal import Terminal
from nexus_mt5.simulator.venue import Venue
from nexus_sim import FaultEvent, Quote


def _q(quote: Quote) -> tuple[float, float, float]:
    return quote.bid, quote.ask, quote.last


class Control:
    """Drives one `Terminal`: prices, time, sessions, Algo Trading, fill behaviour and faults."""

    def __init__(self, terminal: Terminal) -> None:
        self.terminal = terminal

    @property
    def venue(self) -> Venue:
        return self.terminal.venue

    def __repr__(self) -> str:
        return f"Control({self.terminal!r})"

    # -- prices and time -----------------------------------------------------------------------------

    def quote(self, symbol: str) -> tuple[float, float, float]:
        """(bid, ask, last) now."""
        with self.terminal.lock:
            return _q(self.venue.quote(symbol))

    def set_price(self, symbol: str, price: float) -> tuple[float, float, float]:
        """Move `symbol` so its last is `price` (spread around it), then let resting orders match."""
        with self.terminal.lock:
            quote = self.venue.market.set_price(symbol, price)
            self.venue.process()
            return _q(quote)

    def set_quote(
        self, symbol: str, bid: float, ask: float, last: float | None = None
    ) -> tuple[float, float, float]:
        """Set the top of book exactly, then let resting orders match."""
        with self.terminal.lock:
            quote = self.venue.market.set_quote(symbol, bid=bid, ask=ask, last=last)
            self.venue.process()
            return _q(quote)

    def hold(self, symbol: str | None = None, held: bool = True) -> tuple[str, ...]:
        """Keep `symbol` (every symbol without one) where it is while the market ticks (`--tick-ms`),
        or let it move again (`held=False`); returns the symbols held."""
        with self.terminal.lock:
            return self.venue.market.hold(symbol, held)

    def step(self, count: int = 1) -> int:
        """`count` market steps (each walk moves, then one matching step); returns the fills made."""
        with self.terminal.lock:
            return sum(sum(1 for r in self.venue.step() if r.is_fill) for _ in range(count))

    def process(self, count: int = 1) -> int:
        """`count` matching steps at unchanged prices (working orders fill their next parts)."""
        with self.terminal.lock:
            return sum(sum(1 for r in self.venue.process() if r.is_fill) for _ in range(count))

    def now_ns(self) -> int:
        return self.terminal.clock.now_ns()

    def advance(self, seconds: float = 0.0, ms: float = 0.0) -> int:
        """Move the terminal's clock forward; returns the new time (ns)."""
        clock = self.terminal.clock
        if not isinstance(clock, AdvancingClock):
            raise TypeError(f"{clock!r} cannot be advanced")
        with self.terminal.lock:
            return clock.advance(s=seconds, ms=ms)

    # -- terminal and broker switches ----------------------------------------------------------------

    def set_autotrading(self, enabled: bool) -> None:
        """The terminal's Algo Trading button: off makes every trade request answer 10027."""
        with self.terminal.lock:
            self.venue.autotrading = bool(enabled)

    def set_market_open(self, is_open: bool | None, symbol: str | None = None) -> None:
        """Force a symbol (default: all) open or closed; None returns it to its trading hours."""
        with self.terminal.lock:
            self.venue.set_session(symbol, is_open)

    def set_partial_fills(self, parts: int, immediate: int | None = None) -> None:
        """Each new fill step gives an order 1/`parts` of its volume; `immediate` of those steps happen
        inside order_send (default all, so a market order returns DONE after `parts` deals)."""
        if parts < 1 or (immediate is not None and immediate < 1):
            raise ValueError("parts and immediate must be >= 1")
        with self.terminal.lock:
            engine = self.venue.engine
            engine.config = replace(engine.config, fill_parts=parts)
            self.venue.immediate_parts = immediate

    def set_commission(self, per_lot: float) -> None:
        """Commission per lot charged on every following deal (negative in TradeDeal.commission)."""
        with self.terminal.lock:
            self.venue.ledger.commission_per_lot = Decimal(str(per_lot))

    def expire_day_orders(self) -> int:
        """End of the trading day: every working ORDER_TIME_DAY order expires. Returns how many."""
        with self.terminal.lock:
            return len(self.venue.absorb(self.venue.engine.expire_day_orders()))

    # -- faults --------------------------------------------------------------------------------------

    def reject_next(
        self, count: int = 1, retcode: int = c.TRADE_RETCODE_REJECT, comment: str = "Request rejected"
    ) -> None:
        """The next `count` new orders are refused with `retcode` (any TRADE_RETCODE_*)."""
        with self.terminal.lock:
            self.venue.faults.reject_with(count, retcode, comment)

    def requote_next(self, count: int = 1, move_ticks: int = 2) -> None:
        """The next `count` market orders get TRADE_RETCODE_REQUOTE and the price moves `move_ticks`
        against the client (up for a buy, down for a sell) before the answer."""
        with self.terminal.lock:
            self.venue.faults.requote_with(count, move_ticks)

    def drop_after_send(self, times: int = 1) -> None:
        """The next `times` order_send calls place the order, then drop the client's connection before
        it gets the answer: the unknown-outcome case."""
        with self.terminal.lock:
            self.venue.faults.disconnect_on(FaultEvent.AFTER_SUBMIT, times=times)

    def drop_before_send(self, times: int = 1) -> None:
        """The next `times` order_send calls are lost before the venue sees them; the connection drops."""
        with self.terminal.lock:
            self.venue.faults.disconnect_on(FaultEvent.BEFORE_SUBMIT, times=times)

    def clear_faults(self) -> None:
        with self.terminal.lock:
            self.venue.faults.clear()

    # -- whole terminal ------------------------------------------------------------------------------

    def reset(self, profile: str | None = None) -> None:
        """A fresh terminal (optionally another built-in profile): no orders, not initialized."""
        self.terminal.reset(None if profile is None else named_profile(profile))

    def summary(self) -> dict[str, object]:
        """Counters for debugging a test: orders, deals, positions, money."""
        with self.terminal.lock:
            v = self.venue
            m = v.money()
            return {
                "profile": v.profile.name,
                "orders": len(v.ledger.orders()),
                "open_orders": len(v.engine.open_orders()),
                "deals": len(v.ledger.deals),
                "positions": len(v.engine.positions()),
                "balance": m.balance,
                "equity": m.equity,
                "autotrading": v.autotrading,
            }
