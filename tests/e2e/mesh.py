"""Start the gateway mesh as processes for an end-to-end test, and drive it like NEXUS would.

`Mesh` starts the gateway's core services one by one beside generic simulated venues (a control hash
sets their prices). `DevMesh` starts an environment exactly as `nexusctl up` does (the same
Supervisor, compose files and settings) on the test session's Redis and a loopback address of its
own: in dev, every platform's real adapter against its simulator, each service its own process. Its
state file is where `nexusctl` looks (NX_DATA_DIR, NX_NAMESPACE), so the operator's commands work on it.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import redis

from nexus_mesh.config_files import load_symbols
from nexus_ops.compose import ComposeService, free_loopback_address
from nexus_ops.supervisor import Supervisor, venue_linked
from nexus_protocol import Envelope, Execution, Names, Signal
from nexus_protocol.ids import new_signal_id
from nexus_protocol.symbols import Contract
from nexus_testing import REPO_ROOT, ServiceProcess, Services, read_stream, wait_for, xadd

CORE = ("router", "normalizer", "fx", "rollover", "fills")


class Driver:
    """Signals in, executions and events out: what NEXUS and an operator see of a running mesh."""

    def __init__(self, client: redis.Redis, names: Names) -> None:
        self.client = client
        self.names = names

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


class Mesh(Driver):
    """The core services started one by one, beside generic simulated venues."""

    def __init__(
        self,
        services: Services,
        client: redis.Redis,
        names: Names,
        environment: str,
        venues: tuple[str, ...],
        **env: str,
    ) -> None:
        super().__init__(client, names)
        self.services = services
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

    def scale(self, service: str, instances: int) -> list[str]:
        """`instances` consumers of one core stage in all (its first is `service`); their names."""
        for i in range(2, instances + 1):
            name = f"{service}-{i}"
            self.procs[name] = self.services.start(f"nexus_gateway.{service}", name=name, **self.env)
        return [service, *(f"{service}-{i}" for i in range(2, instances + 1))]

    def start_venue(self, venue: str) -> ServiceProcess:
        proc = self.services.start(
            "nexus_gateway.sim_venue", name=f"venue-{venue}", NX_VENUE=venue,
            NX_SIM_JOURNAL=str(self.journal(venue)), **self.env,
        )  # fmt: skip
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

    def journal(self, venue: str) -> Path:
        """What the simulated venue received and filled (nexus_sim.journal), its own record."""
        return self.services.tmp / f"journal-{venue}.jsonl"

    def _venues_up(self) -> bool:
        return all(self.client.exists(self.names.control("venue", v)) for v in self.venues)

    def set_price(self, venue: str, root: str, price: float) -> None:
        self.client.hset(self.names.control("sim", venue, "prices"), root, price)


class DevMesh(Driver):
    """An environment's compose files run as `nexusctl up` runs them (module-scoped in the tests)."""

    def __init__(
        self,
        redis_url: str,
        names: Names,
        data_dir: Path,
        environment: str = "dev",
        overrides: dict[str, dict[str, str]] | None = None,
    ) -> None:
        super().__init__(redis.Redis.from_url(redis_url), names)
        self.sup = Supervisor(
            root=REPO_ROOT,
            environment=environment,
            data_dir=data_dir,
            namespace=names.namespace,
            redis_url=redis_url,
            address=free_loopback_address(),
            overrides=overrides or {},
            operator_env={k: v for k, v in os.environ.items() if not k.startswith("NX_")},  # hermetic
        )
        self.registry = load_symbols(REPO_ROOT / "deploy" / "config")

    @property
    def address(self) -> str:
        return self.sup.address

    def start(self, timeout_s: float = 90.0) -> DevMesh:
        self.sup.start()
        failed = [o.problem for o in self.sup.wait_ready(timeout_s) if not o.ok]
        assert not failed, f"not ready: {failed}\n{self.logs()}"
        self.wait_linked(timeout_s)
        wait_for(lambda: self.client.hlen(self.names.contracts) > 0, timeout_s=40, what="active contracts")
        return self

    def wait_linked(self, timeout_s: float = 60.0) -> None:
        linked = self.sup.wait_linked(timeout_s)
        assert linked and all(linked.values()), f"platform links: {linked}\n{self.logs()}"

    def stop(self) -> None:
        self.sup.stop()
        self.client.close()

    def logs(self, tail: int = 3000) -> str:
        return "\n".join(
            f"===== {f.stem} =====\n{f.read_text(errors='replace')[-tail:]}"
            for f in sorted(self.sup.logs_dir.glob("*.log"))
        )

    def service(self, name: str) -> ComposeService:
        return self.sup.services[name]

    def option(self, service: str, flag: str) -> str:
        """A command-line option of a service as the compose files give it (e.g. a simulator's port)."""
        args = self.service(service).args
        return args[args.index(flag) + 1]

    def linked(self, venue: str) -> bool:
        return venue_linked(self.client, self.names, venue)

    def contract(self, root: str) -> str:
        raw = self.client.hget(self.names.contracts, root)
        assert raw is not None, f"no active contract for {root}"
        return raw.decode() if isinstance(raw, bytes) else str(raw)

    def venue_symbol(self, root: str, venue: str) -> str:
        """How `venue` spells `root` in its active contract now."""
        vs = self.registry.venue_spec(root, venue)
        contract = Contract.parse(self.contract(root)) if vs.dated else None
        return self.registry.venue_symbol(root, venue, contract)
