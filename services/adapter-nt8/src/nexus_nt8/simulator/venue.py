"""The simulated platform's market and books: nexus_sim's Market and MatchingEngine, named the way
the platform names instruments ("NQ 03-25" on NinjaTrader, "NQH25" on Quantower).

It lives as long as the simulator process (or the test that built it), not as long as a connection:
a dropped bridge connection or a restarted adapter finds every order, execution and position where
it left them, as on a real platform. Thread-safe: the simulator's loop and a test share it.
"""

from __future__ import annotations

import threading
from pathlib import Path

from pydantic import BaseModel, ConfigDict

from nexus_mesh.config_files import load_model, load_symbols
from nexus_nt8.config import PlatformProfile
from nexus_protocol.errors import NexusError
from nexus_protocol.symbols import SymbolRegistry
from nexus_sim import (
    InstrumentSpec,
    Market,
    MatchingConfig,
    MatchingEngine,
    OrderState,
    Quote,
    Report,
    SimOrder,
    SimPosition,
)
from nexus_sim.journal import attach_from_env


class _SimFile(BaseModel):
    """The part of deploy/config/sim.yaml a platform simulator uses."""

    model_config = ConfigDict(extra="ignore")
    seed: int = 7
    spread_ticks: int = 1
    step_ticks: int = 1
    start_prices: dict[str, float] = {}


class UnknownInstrument(NexusError):
    pass


class SimPlatform:
    def __init__(
        self,
        profile: PlatformProfile,
        *,
        accounts: tuple[str, ...] = (),
        config_dir: Path | None = None,
        step_ticks: int | None = None,
        fill_parts: int = 1,
        cash: float = 100_000.0,
    ) -> None:
        self.profile = profile
        self.cash = cash  # each account's starting cash, as its account_snapshot reports it (no margin check)
        self.accounts = accounts or (profile.default_account,)
        config_dir = config_dir or Path("deploy/config")
        self.symbols: SymbolRegistry = load_symbols(config_dir)
        self.sim = load_model(config_dir / "sim.yaml", _SimFile)
        self.step_ticks = self.sim.step_ticks if step_ticks is None else step_ticks
        self.market = Market(seed=self.sim.seed)
        self.engine = MatchingEngine(
            self.market, config=MatchingConfig(fill_parts=fill_parts, default_account=self.accounts[0])
        )
        for extra in self.accounts[1:]:
            self.engine.add_account(extra)
        attach_from_env(self.engine)  # NX_SIM_JOURNAL: what this platform received and filled
        self.lock = threading.RLock()

    def __repr__(self) -> str:
        return f"SimPlatform({self.profile.platform.value}, {self.engine!r})"

    def ensure(self, instrument: str) -> None:
        """Add the instrument on first use; UnknownInstrument if the registry cannot name it."""
        with self.lock:
            if self.market.has_instrument(instrument):
                return
            try:
                root, _contract = self.symbols.parse(instrument, self.profile.venue)
            except NexusError as exc:
                raise UnknownInstrument(f"{self.profile.title} has no instrument {instrument!r}") from exc
            spec = self.symbols.spec(root)
            vs = spec.venues[self.profile.venue]
            self.market.add_instrument(
                InstrumentSpec(
                    symbol=instrument,
                    tick_size=spec.tick_size,
                    start_price=self.sim.start_prices.get(root, 100.0),
                    spread_ticks=self.sim.spread_ticks,
                    step_ticks=self.step_ticks,
                    lot_step=vs.lot_step,
                    min_qty=vs.min_qty,
                    point_value=spec.venue_point_value(self.profile.venue),
                )
            )

    def set_price(self, instrument: str, price: float) -> list[Report]:
        """Lock the book at `price` (bid = ask = last) and let resting orders trade against it."""
        with self.lock:
            self.ensure(instrument)
            self.market.set_quote(instrument, bid=price, ask=price, last=price)
            return self.engine.process()

    def submit(self, order: SimOrder) -> list[Report]:
        with self.lock:
            return self.engine.submit(order)

    def cancel(self, client_order_id: str) -> list[Report]:
        with self.lock:
            return self.engine.cancel(client_order_id)

    def step(self) -> list[Report]:
        """One market step and one matching pass."""
        with self.lock:
            if self.step_ticks:
                self.market.step()
            return self.engine.process()

    def quote(self, instrument: str) -> Quote:
        with self.lock:
            return self.market.quote(instrument)

    def order(self, client_order_id: str) -> OrderState | None:
        with self.lock:
            return self.engine.order_by_client_id(client_order_id)

    def orders(self) -> list[OrderState]:
        with self.lock:
            return self.engine.orders()

    def positions(self, account: str) -> list[SimPosition]:
        with self.lock:
            return self.engine.positions(account=account)
