"""The terminal protocol's native side over the simulated MetaTrader5 module, in process: the same
calls the rpyc side makes, with results as plain data."""

from __future__ import annotations

from nexus_mt5.client import NativeTerminal, plain
from nexus_mt5.simulator.types import TradeDeal

from .conftest import SimFactory


def test_results_are_plain_data(make_sim: SimFactory) -> None:
    sim = make_sim("brazil", initialize=False)
    t = NativeTerminal(sim.mt5)
    assert t.up
    assert t.account_info() is None
    assert t.last_error() == (-10004, "No IPC connection")
    assert t.initialize(path=None, login=5_100_201, password="sim", server="NexusSim-B3", timeout_ms=1000)
    info = t.symbol_info("WINZ25")
    assert isinstance(info, dict) and (info["filling_mode"], info["volume_step"]) == (0, 1.0)
    assert t.ticks(["WINZ25", "NOPE"]) == {"WINZ25": t.ticks(["WINZ25"])["WINZ25"], "NOPE": None}
    result = t.order_send(sim.market("WINZ25", 2, 0))
    assert result is not None and result["retcode"] == 10009
    assert (
        isinstance(result["request"], dict)
        and result["request"]["comment"] == "01JDX3K7Q8ZP4V5W6X7Y8Z9A0B.MT0"
    )
    [deal] = t.history_deals_get(ticket=result["order"]) or []
    assert deal["volume"] == 2.0 and deal["commission"] == -0.5
    [position] = t.positions_get() or []
    assert position["type"] == 0
    assert t.orders_get() == []
    t.close()
    assert not t.up


def test_plain_converts_nested_named_tuples() -> None:
    value = (TradeDeal(ticket=1, symbol="X"), [TradeDeal(ticket=2)], 3)
    out = plain(value)
    assert out[0]["ticket"] == 1 and out[0]["symbol"] == "X"
    assert out[1][0]["ticket"] == 2 and out[2] == 3
