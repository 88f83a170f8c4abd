"""Equity sizing from a real platform's account: the MT5 adapter reports the simulated terminal's
`account_info()` equity (USD 100,000) in its venue heartbeat, and the router sizes the account's leg by
it (reference USD 200,000: half the exposure, 10 NAS100 lots for 1 NQ), every service its own process."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis
from mesh import Mesh

sys.path.insert(0, str(Path(__file__).parents[1] / "integration" / "mt5"))
from mt5_helpers import TerminalView, start_adapter, venue_up

from nexus_mt5.simulator import SimulatorProcess
from nexus_protocol import Names, OrderStatus
from nexus_testing import Services, edited_config, venue_equity, wait_for


@pytest.fixture
def sim() -> Iterator[SimulatorProcess]:
    with SimulatorProcess("global", "--always-open") as s:
        view = TerminalView(s).reset()
        view.close()
        yield s


def test_the_leg_is_sized_by_the_equity_the_terminal_reports(
    client: redis.Redis, names: Names, services: Services, sim: SimulatorProcess, tmp_path: Path
) -> None:
    sizing = {"mode": "equity", "reference_equity_usd": 200_000}
    config = str(edited_config(tmp_path, "venues.yaml", {"environments.dev.mt5-global.sizing": sizing}))
    mesh = Mesh(services, client, names, "dev", (), NX_CONFIG_DIR=config).start()
    start_adapter(services, "mt5-global", sim, NX_ENVIRONMENT="dev", NX_CONFIG_DIR=config)
    wait_for(lambda: venue_up(client, names, "mt5-global"), timeout_s=30, what="the MT5 adapter linked")
    wait_for(lambda: venue_equity(client, names, "mt5-global").get("equity_usd") == 100_000.0,
             what="the terminal's equity in the heartbeat")  # fmt: skip

    ex = mesh.final(mesh.signal("NQ", "buy", 1, venues=["mt5-global"], reference_price=21000.0), timeout_s=30)
    assert ex.status is OrderStatus.FILLED, ex
    [leg] = ex.legs
    assert (leg.venue, leg.venue_symbol, leg.quantity, leg.venue_filled_qty) == (
        "mt5-global",
        "NAS100",
        0.5,
        10.0,
    )
