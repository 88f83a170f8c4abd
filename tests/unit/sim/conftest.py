"""Fixtures for the simulated market and matching engine: a manual clock, a market with a future
(NQ-like, tick 0.25, $20/point) and a CFD (lot step 0.01), and an engine factory."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from nexus_sim import (
    FaultConfig,
    Faults,
    InstrumentSpec,
    ManualClock,
    Market,
    MatchingConfig,
    MatchingEngine,
)

NQ = InstrumentSpec(symbol="NQZ5", tick_size=0.25, start_price=21000.0, point_value=20.0, step_ticks=2)
CFD = InstrumentSpec(
    symbol="NAS100", tick_size=0.1, start_price=20950.0, lot_step=0.01, point_value=1.0, spread_ticks=2
)

EngineFactory = Callable[..., MatchingEngine]


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
def market(clock: ManualClock) -> Market:
    m = Market(seed=42, clock=clock)
    m.add_instrument(NQ)
    m.add_instrument(CFD)
    return m


@pytest.fixture
def make_engine(market: Market) -> EngineFactory:
    def make(faults: Faults | FaultConfig | None = None, **config: object) -> MatchingEngine:
        return MatchingEngine(market, config=MatchingConfig(**config), faults=faults)  # type: ignore[arg-type]

    return make


@pytest.fixture
def engine(make_engine: EngineFactory) -> MatchingEngine:
    return make_engine()
