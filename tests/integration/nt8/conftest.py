"""Helpers for the NinjaTrader 8 / Quantower adapter tests: the adapter as a real process (`services`),
the platform simulator in the test's process (a real peer on a real socket), mesh orders and fills."""

from __future__ import annotations

import ssl
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import redis

from nexus_mesh.embedded import free_port
from nexus_nt8.config import PROFILES, PlatformProfile
from nexus_nt8.simulator import BridgeSimulator, SimPlatform
from nexus_protocol import Envelope, Fill, Names, OrderStatus, Side, VenueOrder
from nexus_protocol.bridge import Platform
from nexus_protocol.enums import OrderType
from nexus_protocol.ids import client_order_id, new_signal_id
from nexus_testing import (
    REPO_ROOT,
    ServiceProcess,
    Services,
    read_stream,
    venue_connected,
    wait_for,
    xadd,
)

TOKEN = "nt8-test-token"
CONFIG_DIR = REPO_ROOT / "deploy" / "config"
INSTRUMENT = {Platform.NT8: "NQ 03-25", Platform.QUANTOWER: "NQH25"}
CODE = {"nt8": "n8", "quantower": "qt"}


def venue_order(
    venue: str,
    instrument: str,
    *,
    qty: float = 2.0,
    order_type: OrderType = OrderType.MARKET,
    limit_price: float | None = None,
    side: Side = Side.BUY,
) -> VenueOrder:
    sid = new_signal_id()
    return VenueOrder(
        client_order_id=client_order_id(sid, CODE.get(venue, "n8")),
        signal_id=sid,
        venue=venue,
        symbol="NQ",
        side=side,
        quantity=qty,
        venue_symbol=instrument,
        contract="NQH25",
        venue_quantity=qty,
        order_type=order_type,
        limit_price=limit_price,
        point_value=20.0,
    )


def send_order(client: redis.Redis, names: Names, order: VenueOrder) -> None:
    xadd(
        client,
        names.orders(order.venue),
        Envelope.new(order, id=order.client_order_id, trace=order.signal_id),
    )


def fills(client: redis.Redis, names: Names, coid: str | None = None) -> list[Fill]:
    out = [e.body for e in read_stream(client, names.fills_raw) if isinstance(e.body, Fill)]
    return [f for f in out if coid is None or f.client_order_id == coid]


@dataclass
class Rig:
    """One adapter process and one simulated platform dialing it."""

    venue: str
    profile: PlatformProfile
    port: int
    sim: BridgeSimulator
    adapter: ServiceProcess
    client: redis.Redis
    names: Names
    start_adapter: Callable[[], ServiceProcess]

    @property
    def instrument(self) -> str:
        return INSTRUMENT[self.profile.platform]

    def wait_connected(self, timeout_s: float = 15.0) -> None:
        wait_for(
            lambda: self.sim.ready and venue_connected(self.client, self.names, self.venue),
            timeout_s,
            what=f"{self.venue} adapter connected to its platform",
        )

    def order(self, **kw: object) -> VenueOrder:
        return venue_order(self.venue, self.instrument, **kw)  # type: ignore[arg-type]

    def send(self, order: VenueOrder) -> None:
        send_order(self.client, self.names, order)

    def fills(self, coid: str | None = None) -> list[Fill]:
        return fills(self.client, self.names, coid)

    def filled(self, coid: str) -> list[Fill]:
        return [f for f in self.fills(coid) if f.status is OrderStatus.FILLED]


@pytest.fixture
def rig_factory(client: redis.Redis, names: Names, services: Services) -> Iterator[Callable[..., Rig]]:
    sims: list[BridgeSimulator] = []

    def make(
        venue: str = "nt8", *, heartbeat_ms: int = 1000, tls: ssl.SSLContext | None = None, **env: str
    ) -> Rig:
        profile = PROFILES[Platform.QUANTOWER if venue.startswith("quantower") else Platform.NT8]
        port = free_port()
        instrument = INSTRUMENT[profile.platform]
        settings = dict(
            NX_VENUE=venue,
            NX_NT8_PORT=str(port),
            NX_NT8_AUTH_TOKEN=TOKEN,
            NX_TICK_INTERVAL_S="0.05",
            NX_NT8_HEARTBEAT_INTERVAL_MS=str(heartbeat_ms),
            NX_NT8_MD_INSTRUMENTS=f'["{instrument}"]',
            NX_NT8_SUBMIT_TIMEOUT_S="3",
            NX_NT8_CONNECT_WAIT_S="2",
        )
        settings.update(env)

        def start_adapter() -> ServiceProcess:
            return services.start("nexus_nt8", name=f"adapter-{venue}", **settings)

        adapter = start_adapter()
        venue_sim = SimPlatform(profile, config_dir=CONFIG_DIR, step_ticks=0)
        sim = BridgeSimulator(
            profile,
            port=port,
            token=TOKEN,
            venue=venue_sim,
            commission=2.15,
            backoff_initial_s=0.05,
            backoff_max_s=0.3,
            tls=tls,
            server_hostname="localhost",
        ).start()
        sims.append(sim)
        return Rig(venue, profile, port, sim, adapter, client, names, start_adapter)

    yield make
    for sim in sims:
        sim.stop()


def log_of(sp: ServiceProcess) -> str:
    return Path(sp.log_path).read_text(errors="replace") if sp.log_path.exists() else ""
