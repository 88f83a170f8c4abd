"""In-process simulated MT5 terminals: the `MetaTrader5`-shaped module plus its control surface, on a
manual clock set inside both profiles' trading hours (Monday 2025-12-01 14:00 UTC = 11:00 in São Paulo)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from types import ModuleType
from typing import Any

import pytest

from nexus_mt5.simulator import Control, Terminal, make_module, profile
from nexus_sim import ManualClock

OPEN_NS = int(datetime(2025, 12, 1, 14, 0, tzinfo=UTC).timestamp()) * 1_000_000_000


@dataclass
class Sim:
    mt5: ModuleType  # use it as `import MetaTrader5 as mt5`
    control: Control
    terminal: Terminal
    clock: ManualClock

    def tick(self, symbol: str) -> Any:
        return self.mt5.symbol_info_tick(symbol)

    def market(self, symbol: str, volume: float, side: int, **extra: Any) -> dict[str, Any]:
        """A market order request the way an adapter would build it."""
        filling = (
            self.mt5.ORDER_FILLING_RETURN
            if self.terminal.profile.name == "brazil"
            else self.mt5.ORDER_FILLING_IOC
        )
        tick = self.tick(symbol)
        return {
            "action": self.mt5.TRADE_ACTION_DEAL,
            "symbol": symbol,
            "volume": volume,
            "type": side,
            "price": tick.ask if side == self.mt5.ORDER_TYPE_BUY else tick.bid,
            "deviation": 20,
            "magic": 4242,
            "comment": "01JDX3K7Q8ZP4V5W6X7Y8Z9A0B.MT0",
            "type_time": self.mt5.ORDER_TIME_GTC,
            "type_filling": filling,
            **extra,
        }


SimFactory = Callable[..., Sim]


@pytest.fixture
def make_sim() -> SimFactory:
    def make(
        name: str = "global", *, initialize: bool = True, start_ns: int = OPEN_NS, **overrides: Any
    ) -> Sim:
        clock = ManualClock(start_ns)
        terminal = Terminal(replace(profile(name), **overrides), clock=clock)
        sim = Sim(make_module(terminal), Control(terminal), terminal, clock)
        if initialize:
            assert sim.mt5.initialize()
        return sim

    return make


@pytest.fixture
def fx(make_sim: SimFactory) -> Sim:
    """The hedging CFD account ('global')."""
    return make_sim("global")


@pytest.fixture
def b3(make_sim: SimFactory) -> Sim:
    """The netting B3 futures account ('brazil'), market open."""
    return make_sim("brazil")
