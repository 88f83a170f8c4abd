"""The simulated MetaTrader5 module API: one `Terminal` is one MT5 terminal logged in to one account.

Every public method has the name, parameters and return shape of the MetaTrader5 package function of
the same name (see `module.make_module`, which puts them on a module object with the constants). As in
the real package, nothing raises for a refused call: it returns None (or False) and `last_error()` says
why, with the package's own codes (RES_E_*) and texts. Trade refusals are not errors: order_send returns
an OrderSendResult whose retcode says what happened.

Calls are serialised by one re-entrant lock (an rpyc server serves each client in its own thread; the
real terminal also handles one request at a time per connection). The state lives in a `Venue`;
`reset()` replaces it, which is what tests sharing one served terminal use between cases.

The unknown-outcome fault: when an armed disconnect fires during order_send, the order is placed (or,
for `before_submit`, lost) and then `on_drop` is called and ConnectionAbortedError raised instead of
returning. The rpyc server's `on_drop` shuts the calling client's socket, so the client sees its
connection die mid-call; in process the exception itself is what the caller sees.
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Callable
from decimal import Decimal
from typing import Any, Concatenate, ParamSpec, TypeVar

from nexus_mt5.simulator import constants as c
from nexus_mt5.simulator.profiles import Profile
from nexus_mt5.simulator.profiles import profile as named_profile
from nexus_mt5.simulator.requests import RequestError, parse_request
from nexus_mt5.simulator.trading import Trader
from nexus_mt5.simulator.types import (
    AccountInfo,
    BookInfo,
    MqlTick,
    OrderCheckResult,
    OrderSendResult,
    SymbolInfo,
    TerminalInfo,
    TradeDeal,
    TradeOrder,
    TradePosition,
    TradeRequest,
)
from nexus_mt5.simulator.venue import Venue
from nexus_mt5.simulator.views import Views, epoch_ms, in_group
from nexus_protocol.enums import Side
from nexus_sim import ManualClock, SimClock

P = ParamSpec("P")
R = TypeVar("R")

_OK = (c.RES_S_OK, c.ERROR_TEXT[c.RES_S_OK])


class SimulatedDisconnect(ConnectionAbortedError):
    """Raised by order_send when an injected disconnect fires (the in-process 'connection lost')."""


def _api(fn: Callable[Concatenate[Terminal, P], R]) -> Callable[Concatenate[Terminal, P], R | None]:
    """Lock, require initialize(), and reset last_error to success before the call."""

    def call(self: Terminal, /, *args: P.args, **kwargs: P.kwargs) -> R | None:
        with self.lock:
            if not self._initialized:
                self._fail(c.RES_E_INTERNAL_FAIL_CONNECT)
                return None
            self._error = _OK
            return fn(self, *args, **kwargs)

    functools.update_wrapper(call, fn)
    return call


class Terminal:
    """A simulated MT5 terminal with the MetaTrader5 package's functions as methods."""

    def __init__(self, profile: Profile | str = "global", *, clock: SimClock | None = None) -> None:
        self.profile = named_profile(profile) if isinstance(profile, str) else profile
        self.clock: SimClock = clock if clock is not None else ManualClock()
        self.lock = threading.RLock()
        self.on_drop: Callable[[], None] | None = None
        self.reset()

    def reset(self, profile: Profile | None = None) -> None:
        """A fresh terminal: new market, no orders, not initialized (the clock keeps running)."""
        with self.lock:
            if profile is not None:
                self.profile = profile
            self.venue = Venue(self.profile, self.clock)
            self.trader = Trader(self.venue)
            self.views = Views(self.venue)
            self._initialized = False
            self._error: tuple[int, str] = _OK
            self._request_id = 0

    def __repr__(self) -> str:
        return f"Terminal(profile={self.profile.name!r}, initialized={self._initialized}, {self.venue!r})"

    def _fail(self, code: int, text: str | None = None) -> None:
        self._error = (code, c.ERROR_TEXT.get(code, "") if text is None else text)

    # -- session -------------------------------------------------------------------------------------

    def _authorize(self, login: int | None, password: str | None, server: str | None) -> bool:
        p = self.profile
        if (
            (login is not None and login != p.login)
            or (server is not None and server != p.server)
            or (password is not None and p.password is not None and password != p.password)
        ):
            self._fail(c.RES_E_AUTH_FAILED)
            return False
        return True

    def initialize(
        self,
        path: str | None = None,
        *,
        login: int | None = None,
        password: str | None = None,
        server: str | None = None,
        timeout: int | None = None,
        portable: bool = False,
    ) -> bool:
        with self.lock:
            if not self._authorize(login, password, server):
                return False
            self._initialized, self._error = True, _OK
            return True

    def login(
        self, login: int, password: str | None = None, server: str | None = None, timeout: int | None = None
    ) -> bool:
        with self.lock:
            if not self._initialized:
                self._fail(c.RES_E_INTERNAL_FAIL_CONNECT)
                return False
            if not self._authorize(login, password, server):
                return False
            self._error = _OK
            return True

    def shutdown(self) -> None:
        with self.lock:
            self._initialized = False

    def last_error(self) -> tuple[int, str]:
        with self.lock:
            return self._error

    @_api
    def version(self) -> tuple[int, int, str]:
        return 500, self.profile.build, self.profile.build_date

    @_api
    def terminal_info(self) -> TerminalInfo:
        return self.views.terminal_info()

    @_api
    def account_info(self) -> AccountInfo:
        return self.views.account_info()

    # -- symbols -------------------------------------------------------------------------------------

    @_api
    def symbols_total(self) -> int:
        return len(self.venue.specs)

    @_api
    def symbols_get(self, group: str | None = None) -> tuple[SymbolInfo, ...]:
        return tuple(self.views.symbol_info(s) for s in self.venue.specs.values() if in_group(s.name, group))

    @_api
    def symbol_info(self, symbol: str) -> SymbolInfo | None:
        spec = self.venue.spec(str(symbol))
        if spec is None:
            self._fail(c.RES_E_NOT_FOUND)
            return None
        return self.views.symbol_info(spec)

    @_api
    def symbol_info_tick(self, symbol: str) -> MqlTick | None:
        name = str(symbol)
        if self.venue.spec(name) is None or name not in self.venue.selected:
            self._fail(c.RES_E_NOT_FOUND)  # unknown, or not in Market Watch
            return None
        return self.views.tick(name)

    @_api
    def symbol_select(self, symbol: str, enable: bool | None = None) -> bool:
        name = str(symbol)
        if self.venue.spec(name) is None:
            self._fail(c.RES_E_NOT_FOUND)
            return False
        if enable is None or enable:
            self.venue.selected.add(name)
            return True
        if self.venue.engine.open_orders(symbol=name) or any(
            p.symbol == name for p in self.venue.engine.positions()
        ):
            self._fail(c.RES_E_FAIL)
            return False  # the terminal keeps symbols with orders or positions in Market Watch
        self.venue.selected.discard(name)
        return True

    @_api
    def market_book_add(self, symbol: str) -> bool:
        return self.venue.spec(str(symbol)) is not None

    @_api
    def market_book_get(self, symbol: str) -> tuple[BookInfo, ...] | None:
        name = str(symbol)
        if self.venue.spec(name) is None:
            self._fail(c.RES_E_NOT_FOUND)
            return None
        depth = self.venue.market.depth(name)
        sells = [BookInfo(c.BOOK_TYPE_SELL, lv.price, int(lv.size), lv.size) for lv in reversed(depth.asks)]
        buys = [BookInfo(c.BOOK_TYPE_BUY, lv.price, int(lv.size), lv.size) for lv in depth.bids]
        return tuple(sells + buys)

    @_api
    def market_book_release(self, symbol: str) -> bool:
        return self.venue.spec(str(symbol)) is not None

    # -- orders and positions ------------------------------------------------------------------------

    @_api
    def orders_total(self) -> int:
        return len(self.views.orders(active=True))

    @_api
    def orders_get(
        self, symbol: str | None = None, group: str | None = None, ticket: int | None = None
    ) -> tuple[TradeOrder, ...]:
        return tuple(
            o
            for _, o in self.views.orders(active=True)
            if (symbol is None or o.symbol == symbol)
            and in_group(o.symbol, group)
            and (ticket is None or o.ticket == ticket)
        )

    @_api
    def positions_total(self) -> int:
        return len(self.venue.engine.positions())

    @_api
    def positions_get(
        self, symbol: str | None = None, group: str | None = None, ticket: int | None = None
    ) -> tuple[TradePosition, ...]:
        return tuple(
            p
            for p in self.views.positions()
            if (symbol is None or p.symbol == symbol)
            and in_group(p.symbol, group)
            and (ticket is None or p.ticket == ticket)
        )

    def _window(self, date_from: Any, date_to: Any) -> tuple[int, int] | None:
        try:
            return epoch_ms(date_from), epoch_ms(date_to)
        except (AttributeError, TypeError, ValueError, OverflowError):
            self._fail(c.RES_E_INVALID_PARAMS, "Invalid arguments")
            return None

    @_api
    def history_orders_get(
        self,
        date_from: Any = None,
        date_to: Any = None,
        group: str | None = None,
        ticket: int | None = None,
        position: int | None = None,
    ) -> tuple[TradeOrder, ...] | None:
        """Finished orders: by `ticket`, by `position` id, or set up within [date_from, date_to]."""
        orders = [o for _, o in self.views.orders(active=False)]
        if ticket is not None:
            return tuple(o for o in orders if o.ticket == ticket)
        if position is not None:
            return tuple(o for o in orders if o.position_id == position)
        window = self._window(date_from, date_to)
        if window is None:
            return None
        return tuple(
            o for o in orders if window[0] <= o.time_setup_msc <= window[1] and in_group(o.symbol, group)
        )

    @_api
    def history_orders_total(self, date_from: Any, date_to: Any) -> int | None:
        window = self._window(date_from, date_to)
        if window is None:
            return None
        return sum(
            1 for _, o in self.views.orders(active=False) if window[0] <= o.time_setup_msc <= window[1]
        )

    @_api
    def history_deals_get(
        self,
        date_from: Any = None,
        date_to: Any = None,
        group: str | None = None,
        ticket: int | None = None,
        position: int | None = None,
    ) -> tuple[TradeDeal, ...] | None:
        """Deals: of the order `ticket`, of the `position` id, or made within [date_from, date_to]."""
        deals = self.venue.ledger.deals
        if ticket is not None:
            return tuple(d for d in deals if d.order == ticket)
        if position is not None:
            return tuple(d for d in deals if d.position_id == position)
        window = self._window(date_from, date_to)
        if window is None:
            return None
        return tuple(
            d
            for d in deals
            if window[0] <= d.time_msc <= window[1] and (group is None or in_group(d.symbol, group))
        )

    @_api
    def history_deals_total(self, date_from: Any, date_to: Any) -> int | None:
        window = self._window(date_from, date_to)
        if window is None:
            return None
        return sum(1 for d in self.venue.ledger.deals if window[0] <= d.time_msc <= window[1])

    # -- trading -------------------------------------------------------------------------------------

    def _parse(self, request: Any) -> TradeRequest | None:
        try:
            return parse_request(
                request,
                comment_max_len=self.profile.comment_max_len,
                comment_overflow=self.profile.comment_overflow,
            )
        except RequestError as exc:
            self._fail(c.RES_E_INVALID_PARAMS, str(exc))
            return None

    @_api
    def order_check(self, request: Any) -> OrderCheckResult | None:
        req = self._parse(request)
        return None if req is None else self.trader.check(req)

    @_api
    def order_send(self, request: Any) -> OrderSendResult | None:
        req = self._parse(request)
        if req is None:
            return None
        if req.symbol in self.venue.specs:
            self.venue.selected.add(req.symbol)  # trading a symbol puts it in Market Watch
        self._request_id += 1
        result = self.trader.send(req, self._request_id)
        if self.venue.drop_pending:
            self.venue.drop_pending = False
            if self.on_drop is not None:
                self.on_drop()
            raise SimulatedDisconnect("simulated connection loss after order_send (outcome unknown)")
        return result

    @_api
    def order_calc_margin(self, action: int, symbol: str, volume: float, price: float) -> float | None:
        spec = self.venue.spec(str(symbol))
        if spec is None or action not in (c.ORDER_TYPE_BUY, c.ORDER_TYPE_SELL):
            self._fail(c.RES_E_INVALID_PARAMS, "Invalid arguments")
            return None
        return round(float(spec.instrument.margin_for(_dec(volume), float(price))), 2)

    @_api
    def order_calc_profit(
        self, action: int, symbol: str, volume: float, price_open: float, price_close: float
    ) -> float | None:
        spec = self.venue.spec(str(symbol))
        if spec is None or action not in (c.ORDER_TYPE_BUY, c.ORDER_TYPE_SELL):
            self._fail(c.RES_E_INVALID_PARAMS, "Invalid arguments")
            return None
        side = Side.BUY if action == c.ORDER_TYPE_BUY else Side.SELL
        return round(float(spec.instrument.pnl(side, _dec(volume), _dec(price_open), _dec(price_close))), 2)

    # -- not simulated: history bars and ticks -------------------------------------------------------

    def _unsupported(self, *args: Any, **kwargs: Any) -> None:
        with self.lock:
            self._fail(c.RES_E_UNSUPPORTED)

    copy_rates_from = copy_rates_from_pos = copy_rates_range = _unsupported
    copy_ticks_from = copy_ticks_range = _unsupported


def _dec(value: float) -> Decimal:
    return Decimal(str(value))


# Every function of the MetaTrader5 package that the simulated module provides.
# fmt: off
API_FUNCTIONS: tuple[str, ...] = (
    "initialize", "login", "shutdown", "last_error", "version", "terminal_info", "account_info",
    "symbols_total", "symbols_get", "symbol_info", "symbol_info_tick", "symbol_select",
    "market_book_add", "market_book_get", "market_book_release",
    "orders_total", "orders_get", "positions_total", "positions_get",
    "history_orders_total", "history_orders_get", "history_deals_total", "history_deals_get",
    "order_check", "order_send", "order_calc_margin", "order_calc_profit",
    "copy_rates_from", "copy_rates_from_pos", "copy_rates_range", "copy_ticks_from", "copy_ticks_range",
)
# fmt: on
