"""Start the gateway mesh as processes for an end-to-end test, and drive it like NEXUS would."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import redis

from nexus_protocol import Envelope, Execution, Names, Signal
from nexus_protocol.ids import new_signal_id
from nexus_testing import ServiceProcess, Services, read_stream, wait_for, xadd

CORE = ("router", "normalizer", "fx", "rollover", "fills")


class Mesh:
    def __init__(
        self,
        services: Services,
        client: redis.Redis,
        names: Names,
        environment: str,
        venues: tuple[str, ...],
        **env: str,
    ) -> None:
        self.services = services
        self.client = client
        self.names = names
        self.environment = environment
        self.venues = venues
        self.env = {"NX_ENVIRONMENT": environment, **env}
        self.procs: dict[str, ServiceProcess] = {}

    def start(self, today: str = "2025-03-01", clock_file: str | None = None, **rollover_env: str) -> Mesh:
        for v in self.venues:
            self.start_venue(v)
        for svc in CORE:
            extra = {"NX_ROLLOVER_TODAY": today} if svc == "rollover" else {}
            if svc == "rollover" and clock_file:
                extra["NX_ROLLOVER_CLOCK_FILE"] = clock_file
            if svc == "rollover":
                extra.update(rollover_env)
            self.procs[svc] = self.services.start(f"nexus_gateway.{svc}", name=svc, **self.env, **extra)
        wait_for(
            lambda: self.client.hlen(self.names.contracts) > 0,
            timeout_s=40,
            what="rollover to publish contracts",
        )
        wait_for(self._venues_up, timeout_s=30, what="venue heartbeats")
        return self

    def start_venue(self, venue: str) -> ServiceProcess:
        proc = self.services.start(
            "nexus_gateway.sim_venue", name=f"venue-{venue}", NX_VENUE=venue, **self.env
        )
        self.procs[f"venue-{venue}"] = proc
        return proc

    def start_bridge(self, **env: str) -> ServiceProcess:
        """The nexus-bridge service, once its status key (what clients wait for) is there."""
        proc = self.services.start(
            "nexus_bridge", name="bridge", **self.env, NX_BRIDGE_TICK_INTERVAL_S="0.2", **env
        )
        self.procs["bridge"] = proc
        wait_for(lambda: self.client.exists(self.names.control("bridge")), timeout_s=20, what="the bridge")
        return proc

    def _venues_up(self) -> bool:
        return all(self.client.exists(self.names.control("venue", v)) for v in self.venues)

    def set_price(self, venue: str, root: str, price: float) -> None:
        self.client.hset(self.names.control("sim", venue, "prices"), root, price)

    def signal(self, symbol: str, side: str, quantity: float, **fields: Any) -> str:
        sid = new_signal_id()
        sig = Signal(signal_id=sid, symbol=symbol, side=side, quantity=quantity, **fields)  # type: ignore[arg-type]
        xadd(self.client, self.names.signals, Envelope.new(sig, id=sid))
        return sid

    def executions(self, signal_id: str) -> list[Execution]:
        return [
            e.body
            for e in read_stream(self.client, self.names.executions)
            if isinstance(e.body, Execution) and e.body.signal_id == signal_id
        ]

    def final(self, signal_id: str, timeout_s: float = 20.0) -> Execution:
        def done() -> Execution | None:
            finals = [e for e in self.executions(signal_id) if e.final]
            return finals[-1] if finals else None

        return wait_for(done, timeout_s=timeout_s, what=f"final execution of {signal_id}")  # type: ignore[no-any-return]

    def events(self, kind: str | None = None, pred: Callable[[Any], bool] = lambda e: True) -> list[Any]:
        return [
            e.body
            for e in read_stream(self.client, self.names.events)
            if (kind is None or e.body.kind == kind) and pred(e.body)
        ]
