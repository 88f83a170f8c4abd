"""Simulated market and matching engine shared by every platform simulator.

Pure Python, in memory, synchronous and clock-driven: no Redis, no sockets, no threads. A platform
simulator owns a `Market` and a `MatchingEngine`, translates its wire protocol into `SimOrder`s and engine
calls, and translates `Report`s back; it calls `market.step()` then `engine.process()` on its own loop.

    clock = ManualClock()
    market = Market(seed=7, clock=clock)
    market.add_instrument(InstrumentSpec(symbol="NQZ5", tick_size=0.25, start_price=21000.0, point_value=20))
    engine = MatchingEngine(market, config=MatchingConfig(fill_parts=2))
    engine.submit(SimOrder(client_order_id="01J...A.MT0", symbol="NQZ5", side=Side.BUY, quantity=2))
    clock.advance(ms=100); market.step(); engine.process()
"""

from nexus_protocol.enums import OrderStatus, OrderType, Side, TimeInForce
from nexus_sim.accounts import Account
from nexus_sim.clock import ManualClock, SimClock, SystemClock
from nexus_sim.faults import DisconnectRule, FaultConfig, FaultEvent, Faults
from nexus_sim.instruments import InstrumentSpec
from nexus_sim.market import Market, Session, UnknownSymbolError
from nexus_sim.matching import MatchingConfig, MatchingEngine
from nexus_sim.model import (
    DEFAULT_ACCOUNT,
    Depth,
    DepthLevel,
    OrderState,
    Quote,
    RejectReason,
    Report,
    ReportKind,
    SimAccountInfo,
    SimOrder,
    SimPosition,
)
from nexus_sim.replay import TickFileError, load_ticks, parse_ts_ns, quotes_from_rows

__all__ = [
    "DEFAULT_ACCOUNT",
    "Account",
    "Depth",
    "DepthLevel",
    "DisconnectRule",
    "FaultConfig",
    "FaultEvent",
    "Faults",
    "InstrumentSpec",
    "ManualClock",
    "Market",
    "MatchingConfig",
    "MatchingEngine",
    "OrderState",
    "OrderStatus",
    "OrderType",
    "Quote",
    "RejectReason",
    "Report",
    "ReportKind",
    "Session",
    "Side",
    "SimAccountInfo",
    "SimClock",
    "SimOrder",
    "SimPosition",
    "SystemClock",
    "TickFileError",
    "TimeInForce",
    "UnknownSymbolError",
    "load_ticks",
    "parse_ts_ns",
    "quotes_from_rows",
]
