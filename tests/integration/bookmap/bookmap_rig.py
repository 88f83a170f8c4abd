"""Test rig: the Bookmap adapter as a real process (`python -m nexus_bookmap`), the simulated Bookmap
host, and the real add-on script that the host starts on the real `bookmap` package.

    rig = BookmapRig(services, client, names).start()      # adapter, host, add-on; waits until connected
    rig.host.set_price("NQH5", 20990.0)                    # drive the simulated market
    rig.adapter.sigkill(); rig.start_adapter()             # the adapter restarts on the same port

Shared by the Bookmap integration and e2e tests (they put this folder on the path). No fakes: Redis,
the adapter, the add-on and the `bookmap` package are the real ones; only Bookmap itself is simulated.
"""

from __future__ import annotations

from typing import Any

import redis

from nexus_bookmap.simulator import ADDON_SCRIPT, BookmapHost, BookmapVenue, SimInstrument
from nexus_mesh.embedded import free_port
from nexus_protocol.codec import unpack
from nexus_protocol.messages import Heartbeat
from nexus_protocol.streams import Names
from nexus_sim import InstrumentSpec
from nexus_testing import ServiceProcess, Services, wait_for

ALIAS = "NQH5"  # NQ March 2025 as symbols.yaml spells it for Bookmap ({root}{month_code}{y})
TOKEN = "rig-token"


class BookmapRig:
    def __init__(
        self, services: Services, client: redis.Redis, names: Names, *, can_trade: bool = True,
        price: float = 21000.0, venue: str = "bookmap", **adapter_env: str,
    ) -> None:  # fmt: skip
        self.services, self.client, self.names, self.venue = services, client, names, venue
        self.port = free_port()
        self.adapter_env = {
            "NX_VENUE": venue, "NX_BOOKMAP_PORT": str(self.port), "NX_BOOKMAP_TOKEN": TOKEN,
            "NX_BOOKMAP_CONNECT_WAIT_S": "0", "NX_BOOKMAP_HEARTBEAT_S": "1", "NX_TICK_INTERVAL_S": "0.1",
            "NX_HEARTBEAT_TTL_MS": "1500", **adapter_env,
        }  # fmt: skip
        self.scheme = "wss" if self.adapter_env.get("NX_BOOKMAP_TLS_CERT") else "ws"
        spec = InstrumentSpec(symbol=ALIAS, tick_size=0.25, start_price=price, point_value=20.0)
        venue_sim = BookmapVenue([SimInstrument(spec=spec, full_name="NQ Mar 25")], can_trade=can_trade)
        self.host = BookmapHost(venue_sim, tick_interval_s=0.05)
        self.adapter: ServiceProcess | None = None

    def start(self, *, connected: bool = True) -> BookmapRig:
        self.start_adapter()
        self.host.start()
        self.launch_addon()
        if connected:
            self.wait_connected()
        return self

    def start_adapter(self, **env: str) -> ServiceProcess:
        self.adapter = self.services.start("nexus_bookmap", name=f"adapter-{self.venue}",
                                           **{**self.adapter_env, **env})  # fmt: skip
        return self.adapter

    def launch_addon(self, **env: str) -> None:
        self.host.launch_addon(ADDON_SCRIPT, env={
            "NX_BOOKMAP_URL": f"{self.scheme}://127.0.0.1:{self.port}/addon", "NX_BOOKMAP_TOKEN": TOKEN,
            "NX_BOOKMAP_BACKOFF_INITIAL_S": "0.1", "NX_BOOKMAP_BACKOFF_MAX_S": "0.5",
            "NX_BOOKMAP_HEARTBEAT_S": "1", **env,
        })  # fmt: skip
        assert self.host.wait_initialized(15), f"add-on did not start: {list(self.host.addon_log)[-20:]}"

    def heartbeat(self) -> Heartbeat | None:
        raw = self.client.get(self.names.control("venue", self.venue))
        hb = unpack(raw) if raw is not None else None  # type: ignore[arg-type]
        return hb if isinstance(hb, Heartbeat) else None

    def wait_connected(self, timeout_s: float = 20.0, **detail: Any) -> Heartbeat:
        """Until the adapter's venue heartbeat says connected (and carries `detail`)."""

        def up() -> Heartbeat | None:
            hb = self.heartbeat()
            ok = (
                hb is not None
                and hb.venue_connected
                and all(hb.detail.get(k) == v for k, v in detail.items())
            )
            return hb if ok else None

        return wait_for(up, timeout_s=timeout_s, what=f"{self.venue} adapter connected to the add-on")  # type: ignore[no-any-return]

    def addon_log(self) -> str:
        return "\n".join(self.host.addon_log)

    def stop(self) -> None:
        self.host.stop()
