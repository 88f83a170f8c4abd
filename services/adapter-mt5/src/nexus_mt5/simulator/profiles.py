"""Broker profiles: what one simulated MT5 terminal is connected to.

A `Profile` is plain frozen data (account, symbols, trading rules), so a test changes one rule with
`dataclasses.replace` and the CLI picks one by name. Two come built in:

- `brazil`: a B3 futures account at a Brazilian broker. Netting (ACCOUNT_MARGIN_MODE_EXCHANGE, one net
  position per symbol), BRL, exchange execution: ORDER_FILLING_RETURN only (filling_mode 0), whole
  contracts, marketable limit orders allowed, trading 09:00-18:25 America/Sao_Paulo on weekdays.
  Dated mini contracts WINZ25 / WDOF26 trade (or, with `series_from`, the next WIN and WDO contracts
  from that day on, as a broker lists them: `nexus_sim.listing`); the continuous WIN$ / WDO$ exist for
  charts and refuse orders (trade_mode DISABLED -> TRADE_RETCODE_TRADE_DISABLED).
- `global`: a retail CFD account. Hedging (one position per opening order), USD, instant execution with
  deviation and requotes, FOK/IOC only (RETURN -> TRADE_RETCODE_INVALID_FILL), 0.01-lot steps, 24/5
  (BTCUSD 24/7).

Contract facts (WIN R$0.20/point tick 5, WDO R$10/point tick 0.5) are from reference/platforms.md 3.4;
CFD contract sizes, margins, spreads and account numbers are illustrative, not any broker's.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time
from typing import NamedTuple
from zoneinfo import ZoneInfo

from nexus_mt5.simulator import constants as c
from nexus_sim import InstrumentSpec
from nexus_sim.listing import listed_contracts

SessionRule = Callable[[int], bool]  # open at ts_ns?

_SAO_PAULO = ZoneInfo("America/Sao_Paulo")


def b3_hours(ts_ns: int) -> bool:
    """B3 mini futures: weekdays 09:00-18:25 São Paulo time (holidays not modelled)."""
    local = datetime.fromtimestamp(ts_ns / 1e9, tz=_SAO_PAULO)
    return local.weekday() < 5 and time(9, 0) <= local.time() < time(18, 25)


def fx_24x5(ts_ns: int) -> bool:
    """CFDs: Sunday 22:00 UTC to Friday 21:00 UTC."""
    utc = datetime.fromtimestamp(ts_ns / 1e9, tz=UTC)
    day, t = utc.weekday(), utc.time()
    if day == 5:
        return False
    if day == 4:
        return t < time(21, 0)
    if day == 6:
        return t >= time(22, 0)
    return True


def always(ts_ns: int) -> bool:
    return True


@dataclass(frozen=True, kw_only=True)
class SymbolSpec:
    """One symbol of the terminal: the matching engine's instrument plus what MT5 reports about it."""

    instrument: InstrumentSpec
    digits: int
    contract_size: float
    description: str
    path: str
    currency_base: str
    currency_profit: str
    currency_margin: str
    filling_flags: int  # SYMBOL_FILLING_* bits; 0 = exchange execution, ORDER_FILLING_RETURN only
    exemode: int
    calc_mode: int
    trade_mode: int = c.SYMBOL_TRADE_MODE_FULL
    order_mode: int = 127
    expiration_mode: int = 15
    session: SessionRule = always
    visible: bool = True
    exchange: str = ""

    @property
    def name(self) -> str:
        return self.instrument.symbol

    @property
    def point(self) -> float:
        return float(10**-self.digits) if self.digits else 1.0

    @property
    def tick_size(self) -> float:
        return self.instrument.tick_size

    @property
    def tick_value(self) -> float:
        """Value of one tick for one lot in the account currency (profit currency = deposit currency)."""
        return self.instrument.tick_size * self.instrument.point_value

    @property
    def volume_min(self) -> float:
        return self.instrument.effective_min_qty

    @property
    def allowed_fillings(self) -> frozenset[int]:
        if self.filling_flags == 0:
            return frozenset({c.ORDER_FILLING_RETURN})
        allowed = set()
        if self.filling_flags & c.SYMBOL_FILLING_FOK:
            allowed.add(c.ORDER_FILLING_FOK)
        if self.filling_flags & c.SYMBOL_FILLING_IOC:
            allowed.add(c.ORDER_FILLING_IOC)
        return frozenset(allowed)


@dataclass(frozen=True, kw_only=True)
class Profile:
    """One broker account as the terminal sees it, with the broker's trading rules."""

    name: str
    login: int
    password: str | None
    server: str
    company: str
    account_name: str
    currency: str
    leverage: int
    balance: float
    margin_mode: int
    symbols: tuple[SymbolSpec, ...]
    commission_per_lot: float = 0.0  # charged on every deal, negative in TradeDeal.commission
    marketable_limits: bool = False  # exchange style: a limit through the market trades at once
    deviation_applies: bool = True  # instant execution: requote when the fill is beyond `deviation`
    pending_retcode: int = c.TRADE_RETCODE_DONE  # what placing a resting pending order answers
    comment_max_len: int = 31
    comment_overflow: str = "truncate"  # or "reject" (Invalid "comment" argument), as some builds do
    fill_parts: int = 1  # each order fills in this many deals ...
    immediate_parts: int | None = None  # ... of which this many inside order_send (None: all)
    first_order_ticket: int = 100_000_001
    first_deal_ticket: int = 200_000_001
    build: int = 4755
    build_date: str = "20 Dec 2024"
    seed: int = 7

    @property
    def hedging(self) -> bool:
        return self.margin_mode == c.ACCOUNT_MARGIN_MODE_RETAIL_HEDGING

    def symbol(self, name: str) -> SymbolSpec | None:
        return next((s for s in self.symbols if s.name == name), None)


class _Contract(NamedTuple):
    tick: float
    start: float
    point_value: float  # BRL per point per contract (= MT5 contract size for B3 minis)
    digits: int
    margin: float  # day-trade margin per contract, BRL


_WIN = _Contract(tick=5.0, start=125_000.0, point_value=0.2, digits=0, margin=100.0)
_WDO = _Contract(tick=0.5, start=5_400.0, point_value=10.0, digits=1, margin=150.0)


def _b3(root: str, symbol: str, k: _Contract, description: str, *, tradable: bool = True) -> SymbolSpec:
    return SymbolSpec(
        instrument=InstrumentSpec(
            symbol=symbol,
            tick_size=k.tick,
            start_price=k.start,
            spread_ticks=1,
            step_ticks=2,
            base_size=50.0,
            lot_step=1.0,
            min_qty=1.0,
            max_qty=500.0,
            point_value=k.point_value,
            margin_per_unit=k.margin,
        ),
        digits=k.digits,
        contract_size=k.point_value,
        description=description,
        path=f"BMF\\{root}\\{symbol}",
        currency_base="BRL",
        currency_profit="BRL",
        currency_margin="BRL",
        filling_flags=0,
        exemode=c.SYMBOL_TRADE_EXECUTION_EXCHANGE,
        calc_mode=c.SYMBOL_CALC_MODE_EXCH_FUTURES,
        trade_mode=c.SYMBOL_TRADE_MODE_FULL if tradable else c.SYMBOL_TRADE_MODE_DISABLED,
        order_mode=63,
        session=b3_hours,
        exchange="BMF",
    )


_MONTHS_PT = ("Jan", "Fev", "Mar", "Abr", "Mai", "Jun", "Jul", "Ago", "Set", "Out", "Nov", "Dez")


def _b3_series(series_from: date | None) -> tuple[SymbolSpec, ...]:
    """The dated minis: the fixed WINZ25 / WDOF26, or the next three of each from `series_from`."""
    if series_from is None:
        return _b3("WIN", "WINZ25", _WIN, "Mini Ibovespa Dec/25"), _b3(
            "WDO", "WDOF26", _WDO, "Mini Dolar Jan/26"
        )
    out = []
    for root, k, name, calendar in (("WIN", _WIN, "Mini Ibovespa", "b3_even_month"),
                                    ("WDO", _WDO, "Mini Dolar", "b3_monthly")):  # fmt: skip
        for ct in listed_contracts(root, calendar, series_from, count=3):  # type: ignore[arg-type]
            out.append(_b3(root, ct.code, k, f"{name} {_MONTHS_PT[ct.month - 1]}/{ct.year % 100:02d}"))
    return tuple(out)


def brazil_profile(series_from: date | None = None) -> Profile:
    return Profile(
        name="brazil",
        login=5_100_201,
        password="sim",
        server="NexusSim-B3",
        company="NEXUS Simulated Broker (B3)",
        account_name="NEXUS B3 simulated account",
        currency="BRL",
        leverage=1,
        balance=50_000.0,
        margin_mode=c.ACCOUNT_MARGIN_MODE_EXCHANGE,
        marketable_limits=True,
        deviation_applies=False,  # exchange execution: no requotes, the deviation is ignored
        commission_per_lot=0.25,
        symbols=(
            *_b3_series(series_from),
            _b3("WIN", "WIN$", _WIN, "Mini Ibovespa continuous", tradable=False),
            _b3("WDO", "WDO$", _WDO, "Mini Dolar continuous", tradable=False),
        ),
    )


def _cfd(
    symbol: str,
    *,
    start: float,
    spread_ticks: int,
    step_ticks: int,
    contract: float,
    margin_rate: float,
    description: str,
    path: str,
    base: str,
    session: SessionRule,
) -> SymbolSpec:
    return SymbolSpec(
        instrument=InstrumentSpec(
            symbol=symbol,
            tick_size=0.01,
            start_price=start,
            spread_ticks=spread_ticks,
            step_ticks=step_ticks,
            base_size=20.0,
            lot_step=0.01,
            min_qty=0.01,
            max_qty=100.0,
            point_value=contract,
            margin_rate=margin_rate,
        ),
        digits=2,
        contract_size=contract,
        description=description,
        path=path,
        currency_base=base,
        currency_profit="USD",
        currency_margin="USD",
        filling_flags=c.SYMBOL_FILLING_FOK | c.SYMBOL_FILLING_IOC,
        exemode=c.SYMBOL_TRADE_EXECUTION_INSTANT,
        calc_mode=c.SYMBOL_CALC_MODE_CFD,
        session=session,
    )


def global_profile() -> Profile:
    return Profile(
        name="global",
        login=7_300_101,
        password="sim",
        server="NexusSim-Global",
        company="NEXUS Simulated Broker (CFD)",
        account_name="NEXUS CFD simulated account",
        currency="USD",
        leverage=100,
        balance=100_000.0,
        margin_mode=c.ACCOUNT_MARGIN_MODE_RETAIL_HEDGING,
        symbols=(
            _cfd(
                "NAS100",
                start=21_000.0,
                spread_ticks=150,
                step_ticks=50,
                contract=1.0,
                margin_rate=0.01,
                description="US Tech 100 Index",
                path="Indices\\NAS100",
                base="USD",
                session=fx_24x5,
            ),
            _cfd(
                "US500",
                start=6_000.0,
                spread_ticks=50,
                step_ticks=20,
                contract=1.0,
                margin_rate=0.01,
                description="US 500 Index",
                path="Indices\\US500",
                base="USD",
                session=fx_24x5,
            ),
            _cfd(
                "US30",
                start=44_000.0,
                spread_ticks=200,
                step_ticks=80,
                contract=1.0,
                margin_rate=0.01,
                description="Wall Street 30 Index",
                path="Indices\\US30",
                base="USD",
                session=fx_24x5,
            ),
            _cfd(
                "XAUUSD",
                start=2_650.0,
                spread_ticks=20,
                step_ticks=10,
                contract=100.0,
                margin_rate=0.01,
                description="Gold vs US Dollar",
                path="Metals\\XAUUSD",
                base="XAU",
                session=fx_24x5,
            ),
            _cfd(
                "BTCUSD",
                start=95_000.0,
                spread_ticks=2_000,
                step_ticks=500,
                contract=1.0,
                margin_rate=0.5,
                description="Bitcoin vs US Dollar",
                path="Crypto\\BTCUSD",
                base="BTC",
                session=always,
            ),
        ),
    )


PROFILES: dict[str, Callable[[], Profile]] = {"brazil": brazil_profile, "global": global_profile}


def profile(name: str, *, series_from: date | None = None) -> Profile:
    """A built-in profile by name; `series_from` lists the dated contracts around that day (brazil)."""
    if name not in PROFILES:
        raise ValueError(f"unknown profile {name!r}; known: {sorted(PROFILES)}")
    return brazil_profile(series_from) if name == "brazil" else PROFILES[name]()
