"""The real platform adapters end to end with the gateway, each a process beside the gateway's core
services: one NQ signal reaches NinjaTrader 8 ("NQ 03-25"), Quantower ("NQH25") over the bridge
protocol and Sierra Chart ("NQH25") over DTC, each played by its simulator (a real peer on a real
socket), and comes back as one final execution with every leg filled."""

from __future__ import annotations

import sys

import redis
from mesh import Mesh

from nexus_nt8.config import PROFILES
from nexus_nt8.simulator import BridgeSimulator, SimPlatform
from nexus_protocol import Names, OrderStatus, VenueOrder
from nexus_protocol.bridge import Platform
from nexus_testing import REPO_ROOT, Services, read_stream, wait_for

sys.path.insert(0, str(REPO_ROOT / "tests" / "integration" / "sierra"))
from sierra_helpers import free_port, start_adapter, start_simulator

TOKEN = "e2e-token"
VENUES = ("nt8", "quantower", "sierra")


def start_bridge_platform(services: Services, venue: str, sims: list[BridgeSimulator]) -> None:
    platform = Platform.QUANTOWER if venue == "quantower" else Platform.NT8
    port = free_port()
    services.start("nexus_nt8", name=f"adapter-{venue}", NX_VENUE=venue, NX_NT8_PORT=str(port),
                   NX_NT8_AUTH_TOKEN=TOKEN, NX_TICK_INTERVAL_S="0.05", NX_ENVIRONMENT="dev")  # fmt: skip
    profile = PROFILES[platform]
    platform_sim = SimPlatform(profile, config_dir=REPO_ROOT / "deploy" / "config", step_ticks=0)
    sim = BridgeSimulator(profile, port=port, token=TOKEN, venue=platform_sim, backoff_initial_s=0.05,
                          backoff_max_s=0.3).start()  # fmt: skip
    sims.append(sim)


def test_one_signal_on_ninjatrader_quantower_and_sierra(
    client: redis.Redis, names: Names, services: Services
) -> None:
    sims: list[BridgeSimulator] = []
    try:
        _sim, port, control = start_simulator(services)
        control.set_price("NQH25", 21000.0)
        start_adapter(services, port, NX_ENVIRONMENT="dev")
        for venue in ("nt8", "quantower"):
            start_bridge_platform(services, venue, sims)
        mesh = Mesh(services, client, names, "dev", ()).start()
        wait_for(lambda: all(client.exists(names.control("venue", v)) for v in VENUES), timeout_s=30,
                 what="the three adapters' venue heartbeats")  # fmt: skip
        ex = mesh.final(mesh.signal("NQ", "buy", 1, venues=VENUES), timeout_s=40)
        assert ex.status is OrderStatus.FILLED, ex
        legs = {leg.venue: leg for leg in ex.legs}
        assert {v: legs[v].venue_symbol for v in VENUES} == {
            "nt8": "NQ 03-25",
            "quantower": "NQH25",
            "sierra": "NQH25",
        }
        assert all(legs[v].venue_filled_qty == 1 for v in VENUES)
        for v in VENUES:
            orders = [e.body for e in read_stream(client, names.orders(v)) if isinstance(e.body, VenueOrder)]
            assert len(orders) == 1
        assert control.submits(legs["sierra"].client_order_id) == 1
    finally:
        for sim in sims:
            sim.stop()
