"""The mesh with the real MT5 adapter (`python -m nexus_mt5`) in place of a simulated venue, one
process per terminal, each talking rpyc to a simulated terminal process the way it talks to the
mt5linux bridge of a real one. Signals in, executions out."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis

sys.path.insert(0, str(Path(__file__).parents[1] / "integration" / "mt5"))

from mesh import Mesh
from mt5_helpers import TerminalView, start_adapter, venue_up

from nexus_mt5.simulator import SimulatorProcess
from nexus_protocol import Names, OrderStatus
from nexus_testing import Services, wait_for


@pytest.fixture
def global_sim() -> Iterator[SimulatorProcess]:
    with SimulatorProcess("global", "--always-open", "--real-pickling") as sim:
        yield sim


@pytest.fixture
def brazil_sim() -> Iterator[SimulatorProcess]:
    with SimulatorProcess("brazil", "--always-open") as sim:
        yield sim


@pytest.mark.slow
def test_both_terminals_in_one_mesh_nq_as_nas100_lots_and_scenario_5_on_b3(
    client: redis.Redis,
    names: Names,
    services: Services,
    global_sim: SimulatorProcess,
    brazil_sim: SimulatorProcess,
) -> None:
    fx, b3 = TerminalView(global_sim), TerminalView(brazil_sim)
    fx.control.set_quote("NAS100", 21_000.0, 21_001.0)
    b3.control.set_quote("WDOF26", 5_489.5, 5_490.5, 5_490.0)  # BRL per USD 1,000: USDBRL 5.49
    b3.control.set_quote("WINZ25", 130_000.0, 130_000.0, 130_000.0)
    mesh = Mesh(services, client, names, "dev", (), NX_FX_SOURCE="wdo").start(today="2025-12-01")
    start_adapter(services, "mt5-global", global_sim)
    start_adapter(services, "mt5-brazil", brazil_sim)
    for venue in ("mt5-global", "mt5-brazil"):
        wait_for(lambda v=venue: venue_up(client, names, v), timeout_s=20, what=f"{venue} connected")

    ex = mesh.final(mesh.signal("NQ", "buy", 1, venues=("mt5-global",)))
    assert ex.status is OrderStatus.FILLED
    [leg] = ex.legs
    assert (leg.venue, leg.venue_symbol, leg.venue_filled_qty, leg.avg_price) == (
        "mt5-global",
        "NAS100",
        20.0,
        21_001.0,
    )
    [order] = fx.orders_with(leg.client_order_id)
    assert (order["volume_initial"], order["type"]) == (20.0, 0)  # 1 NQ ($20/pt) = 20 lots of a $1/pt CFD
    [position] = fx("positions_get")
    assert (position["symbol"], position["volume"]) == ("NAS100", 20.0)

    # scenario 5 through the B3 terminal: WIN bought, sold 100 points higher, the profit in USD
    wait_for(lambda: client.xlen(names.md("WDO")) > 0, timeout_s=15, what="WDO quotes from the terminal")
    buy = mesh.final(mesh.signal("WIN", "buy", 1, venues=("mt5-brazil",)))
    assert buy.status is OrderStatus.FILLED
    assert (buy.legs[0].venue_symbol, buy.legs[0].avg_price) == ("WINZ25", 130_000.0)
    b3.control.set_quote("WINZ25", 130_100.0, 130_100.0, 130_100.0)
    sell = mesh.final(mesh.signal("WIN", "sell", 1, venues=("mt5-brazil",)))
    assert sell.status is OrderStatus.FILLED
    assert sell.realized_pnl_usd == 3.64  # 100 points x BRL 0.20 = BRL 20.00 = USD 3.64 at 5.49
    assert (sell.legs[0].currency, sell.legs[0].avg_price) == ("BRL", 130_100.0)
    assert sell.fees_usd == 0.05  # the terminal's R$0.25 commission, converted
    assert b3("positions_get") == ()
    fx.close()
    b3.close()
