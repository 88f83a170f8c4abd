"""The storm's harness: the dev mesh with every real adapter, a link proxy in front of every platform,
a driver sending signals through the NEXUS client, a nemesis carrying out its seeded plan, and the
settle-and-check at the end (docs/storm.md).

- `StormMesh` starts a Redis of its own (AOF, fsync always: a SIGKILL loses nothing Redis acknowledged,
  so any loss the checker finds is the mesh's), the proxy (`nexus_testing.storm.proxy`, its own
  process), and `nexusctl up --env dev`'s services (`DevMesh`) with each adapter's platform link
  through the proxy and each simulator writing its journal (NX_SIM_JOURNAL). Simulators are never
  killed: a platform keeps its book when the gateway crashes.
- `Driver` sends signals at a steady rate through `NexusGatewayInterface`, as NEXUS does, and keeps
  what the client said of each (`SentSignal`).
- `Nemesis` runs `nexus_testing.storm.nemesis`'s plan: SIGKILL a service and start it again, SIGKILL
  Redis and start it from its AOF, arm a link fault at the proxy. Like compose's `restart:
  unless-stopped`, a service that exits on its own is started again (counted as `exited`).
- `settle` waits until the mesh is quiet; `judge` reads the three histories, runs the checker and
  builds the report.
"""

from __future__ import annotations

import contextlib
import heapq
import json
import os
import random
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import redis
import yaml
from mesh import DevMesh
from redis.backoff import ExponentialBackoff
from redis.retry import Retry

from nexus_bridge import NexusGatewayInterface
from nexus_bridge.errors import SafeModeError, SendUnknownError
from nexus_mesh.embedded import RedisServer, free_port
from nexus_ops import status
from nexus_ops.supervisor import venue_linked
from nexus_protocol import Execution, Names, OrderStatus
from nexus_testing import REPO_ROOT, wait_for
from nexus_testing.helpers import edited_config
from nexus_testing.storm import checker, late, report
from nexus_testing.storm.history import MeshHistory, PlatformHistory, SentSignal, entries
from nexus_testing.storm.nemesis import Nemesis, Pace, Strike, Tally
from nexus_testing.storm.proxy import LinkSpec, ProxyControl, read_events

SYMBOLS = ("NQ", "ES", "MNQ", "MES", "US30", "XAUUSD", "BTCUSD", "WIN", "WDO")


@dataclass(frozen=True, slots=True)
class Link:
    """Where a venue's platform link runs: the service that dials (pointed at the proxy by `setting`)
    and the listener (`target`'s port, from its option or setting)."""

    dialer: str
    setting: str
    target: str
    port_from: str  # a command-line option ("--port") or a setting ("NX_NT8_PORT") of `target`
    platform_dials: bool
    websocket: bool = False


LINKS = {
    "mt5-global": Link("adapter-mt5-global", "NX_MT5_PORT", "sim-mt5-global", "--port", False),
    "mt5-brazil": Link("adapter-mt5-brazil", "NX_MT5_PORT", "sim-mt5-brazil", "--port", False),
    "sierra": Link("adapter-sierra", "NX_SIERRA_PORT", "sim-sierra", "--port", False),
    "nt8": Link("sim-nt8", "NX_NT8_PORT", "adapter-nt8", "NX_NT8_PORT", True),
    "quantower": Link("sim-quantower", "NX_NT8_PORT", "adapter-quantower", "NX_NT8_PORT", True),
    "bookmap": Link("sim-bookmap", "NX_BOOKMAP_URL", "adapter-bookmap", "NX_BOOKMAP_PORT", True, True),
}
SIMULATORS = {v: f"sim-{v}" for v in LINKS}


def env_float(name: str, default: float) -> float:
    raw = os.environ.get(name, "")
    return float(raw) if raw.strip() else default


# ---- the mesh ---------------------------------------------------------------------------------


def storm_config(folder: Path) -> Path:
    """deploy/config with the bridge's and risk's day limits out of the way (a storm trades thousands of
    signals a day, and a breaker that pauses trading would leave nothing to check), and no notional cap
    beyond the per-symbol ones (one lot of BTCUSD or XAUUSD is over the default's $50,000)."""
    folder.mkdir(parents=True, exist_ok=True)
    edited_config(folder, "bridge.yaml", {"loss_streak_max": 10**9, "daily_loss_killswitch": False,
                                          "daily_loss_limit_usd": 1e12})  # fmt: skip
    risk = yaml.safe_load((folder / "risk.yaml").read_text())
    risk["default"] |= {"max_daily_trades": 10**9, "max_daily_loss_usd": 1e12, "max_position_value_usd": 1e9}
    (folder / "risk.yaml").write_text(yaml.safe_dump(risk))
    return folder


PASSED = ("NX_MD_MAXLEN", "NX_RETENTION_DAYS")  # from the test's environment to every service


class StormMesh:
    def __init__(self, data: Path) -> None:
        self.data = data
        self.names = Names(f"s{uuid.uuid4().hex[:10]}")
        self.redis = RedisServer(data / "redis", appendfsync="always").start()
        self.dev = DevMesh(self.redis.url, self.names, data / "mesh")
        config = storm_config(data / "config")
        given = {k: os.environ[k] for k in PASSED if k in os.environ}  # the soak's knobs for the mesh
        self.dev.sup.operator_env = {**self.dev.sup.operator_env, **given, "NX_CONFIG_DIR": str(config)}
        self.faults_file = data / "faults.jsonl"
        self.proxy: subprocess.Popen[bytes] | None = None
        self.control: ProxyControl | None = None
        self._client: redis.Redis | None = None
        venues = yaml.safe_load((REPO_ROOT / "deploy" / "config" / "venues.yaml").read_text())
        self.codes = {v: spec["code"] for v, spec in venues["environments"]["dev"].items()}

    @property
    def client(self) -> redis.Redis:
        """A client that reconnects across Redis restarts (retried, not failed, on a reset link)."""
        if self._client is None:
            self._client = redis.Redis.from_url(
                self.redis.url,
                retry=Retry(ExponentialBackoff(cap=1.0), 30),
                retry_on_error=[redis.ConnectionError, redis.TimeoutError],
            )
        return self._client

    def journal(self, venue: str) -> Path:
        return self.data / f"journal-{venue}.jsonl"

    def start(self) -> StormMesh:
        self._start_proxy()
        plan = {s.name: s for s in self.dev.sup.plan()}
        address = self.dev.address
        for venue, link in LINKS.items():
            target = plan[link.target]
            if link.port_from.startswith("--"):
                port = int(target.args[target.args.index(link.port_from) + 1])
            else:
                port = int(target.environment[link.port_from])
            listen = free_port()
            assert self.control is not None
            spec = LinkSpec(name=venue, code=self.codes[venue], listen_host=address, listen_port=listen,
                            target_host=address, target_port=port, platform_dials=link.platform_dials,
                            websocket=link.websocket)  # fmt: skip
            self.control.link(spec)
            value = f"ws://{address}:{listen}/addon" if link.websocket else str(listen)
            overrides = self.dev.sup.overrides
            overrides.setdefault(link.dialer, {})[link.setting] = value
            overrides.setdefault(SIMULATORS[venue], {})["NX_SIM_JOURNAL"] = str(self.journal(venue))
        self.dev.start(timeout_s=180)
        return self

    def _start_proxy(self) -> None:
        port = free_port()
        log = (self.data / "proxy.log").open("ab")
        self.proxy = subprocess.Popen(
            [sys.executable, "-m", "nexus_testing.storm.proxy", "--control-port", str(port),
             "--events", str(self.faults_file)],
            stdout=log, stderr=subprocess.STDOUT,
        )  # fmt: skip

        def dial() -> ProxyControl | None:
            with contextlib.suppress(OSError):
                return ProxyControl("127.0.0.1", port)
            return None

        self.control = wait_for(dial, timeout_s=30, what="the proxy's control port")

    def services(self) -> list[str]:
        """The mesh's services a nemesis may kill: every one but the platforms' simulators."""
        return sorted(n for n, s in self.dev.sup.services.items() if not s.simulator)

    def pids(self) -> dict[str, int]:
        """Every process of the storm: services, simulators, the proxy and Redis."""
        out = dict(self.dev.sup.pids)
        if self.proxy is not None:
            out["proxy"] = self.proxy.pid
        if self.redis.process is not None:
            out["redis"] = self.redis.process.pid
        return out

    def kill(self, name: str) -> bool:
        """SIGKILL one service; False if it was not running."""
        proc = self.dev.sup.procs.get(name)
        if proc is None or proc.poll() is not None:
            return False
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        return True

    def restart(self, name: str) -> None:
        self.dev.sup.start_service(name)

    def exited(self) -> list[str]:
        return [n for n, p in self.dev.sup.procs.items() if p.poll() is not None]

    def stop(self) -> None:
        with contextlib.suppress(Exception):
            self.dev.stop()
        if self.control is not None:
            self.control.close()
        if self.proxy is not None:
            self.proxy.kill()
            self.proxy.wait()
        self.redis.stop()


# ---- signals ----------------------------------------------------------------------------------


@dataclass
class Driver:
    """Signals through the NEXUS client at `rate_per_s`, one symbol at a time chosen by the seed; the
    side closes what the symbol's executions opened, so positions stay near flat."""

    mesh: StormMesh
    seed: int
    symbols: tuple[str, ...] = SYMBOLS
    sent: list[SentSignal] = field(default_factory=list)
    position: Counter[str] = field(default_factory=Counter)

    def __post_init__(self) -> None:
        self.rng = random.Random(self.seed)
        self.gw = NexusGatewayInterface(self.mesh.redis.url, namespace=self.mesh.names.namespace,
                                        symbols=["WDO"], max_backoff_s=1.0)  # fmt: skip
        self.gw.set_execution_callback(self._execution)
        self.gw.start_listening()
        wait_for(lambda: self.gw.status == "connected", timeout_s=60, what="the NEXUS client connected")

    def _execution(self, ex: dict[str, Any]) -> None:
        if ex.get("final"):
            sign = 1 if str(ex["side"]).lower() == "buy" else -1
            self.position[ex["symbol"]] += sign * float(ex.get("filled_quantity") or 0)

    @property
    def reached(self) -> int:
        """Signals that may have reached the mesh (sent, or of unknown outcome)."""
        return sum(1 for s in self.sent if s.outcome != "refused")

    def run(self, rate_per_s: float, stop: threading.Event, signals: int | None = None) -> None:
        gap, due = 1.0 / rate_per_s, time.monotonic()
        while not stop.is_set() and (signals is None or self.reached < signals):
            self.send_one()
            due = max(due + gap, time.monotonic() - gap)  # behind: no burst to catch up
            stop.wait(max(0.0, due - time.monotonic()))

    def send_one(self) -> None:
        sym = self.rng.choice(self.symbols)
        pos = self.position[sym]
        side = "SELL" if pos > 0 else "BUY" if pos < 0 else self.rng.choice(("BUY", "SELL"))
        now = time.time_ns()
        try:
            sid, outcome = self.gw.send_signal(sym, side, 0.8, 1), "sent"
        except SendUnknownError as exc:
            sid, outcome = exc.signal_id, "unknown"
        except SafeModeError:
            sid, outcome = f"refused-{len(self.sent)}", "refused"
        self.sent.append(SentSignal(sid, sym, side.lower(), 1.0, now, outcome))  # type: ignore[arg-type]

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self.gw.stop()


# ---- the nemesis ------------------------------------------------------------------------------


@dataclass
class NemesisRun:
    """Carries out a seeded plan against a `StormMesh` on a thread of its own."""

    mesh: StormMesh
    seed: int
    pace: Pace
    tally: Tally = field(default_factory=Tally)
    exited: Counter[str] = field(default_factory=Counter)  # services that died on their own
    log: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._restarts: list[tuple[float, str]] = []  # (due, service or "redis")
        self._down: set[str] = set()

    def run(self, done: Callable[[], bool]) -> None:
        """Strike until `done()`, then heal. On the main thread: a Redis started from a thread would die
        with that thread (the embedded server's parent-death signal is per thread)."""
        plan = Nemesis(self.seed, self.mesh.services(), sorted(LINKS), self.pace).plan()
        t0 = time.monotonic()
        strike = next(plan)
        try:
            while not done():
                now = time.monotonic()
                self._due_restarts(now)
                self._supervise(now)
                if now - t0 >= strike.at_s:
                    self._strike(strike, now)
                    strike = next(plan)
                time.sleep(0.05)
        finally:
            self.heal()

    def _strike(self, s: Strike, now: float) -> None:
        self.log.append(f"{time.strftime('%H:%M:%S')} {s.describe()}")
        if s.kind == "kill":
            if s.target in self._down or not self.mesh.kill(s.target):
                return
            self._down.add(s.target)
            heapq.heappush(self._restarts, (now + s.restart_after_s, s.target))
        elif s.kind == "redis":
            if "redis" in self._down:
                return
            self.mesh.redis.kill()
            self._down.add("redis")
            heapq.heappush(self._restarts, (now + s.restart_after_s, "redis"))
        else:
            assert s.fault is not None and self.mesh.control is not None
            self.mesh.control.fault(s.fault)
        self.tally.count(s)

    def _due_restarts(self, now: float) -> None:
        while self._restarts and self._restarts[0][0] <= now:
            _, name = heapq.heappop(self._restarts)
            self._start(name)

    def _start(self, name: str) -> None:
        if name == "redis":
            self.mesh.redis.start(timeout_s=60)
        else:
            self.mesh.restart(name)
        self._down.discard(name)

    def _supervise(self, now: float) -> None:
        """compose's `restart: unless-stopped`: a service that exited on its own starts again in 1 s."""
        for name in self.mesh.exited():
            if name not in self._down:
                self.exited[name] += 1
                self.log.append(f"{time.strftime('%H:%M:%S')} {name} exited on its own")
                self._down.add(name)
                heapq.heappush(self._restarts, (now + 1.0, name))

    def heal(self) -> None:
        """Everything running again: Redis first, then every service down."""
        if "redis" in self._down:
            self._start("redis")
        for _, name in sorted(self._restarts):
            if name != "redis":
                self._start(name)
        self._restarts.clear()
        for name in self.mesh.exited():
            self.exited[name] += 1
            self._start(name)


# ---- settle and judge -------------------------------------------------------------------------


def quiet(mesh: StormMesh, sent: list[SentSignal]) -> str:
    """What the mesh still has to do ('' once quiet): entries pending or behind in any group, a symbol
    the bridge holds, the last signal that reached the intake without its final execution."""
    client, names = mesh.client, mesh.names
    keys = status.discover(client, names)
    for g in status.groups(client, names, keys):
        if status.MD_MARK not in g.stream and (g.pending or (g.lag or 0)):
            return f"{g.stream} {g.group}: {g.pending} pending, lag {g.lag}"
    held = client.hlen(names.state("bridge", "working"))
    if held:
        return f"the bridge holds {held} symbols"
    problems = status.collect(client, names, status.Expected(), keys=keys).problems
    return "; ".join(problems)


def settle(mesh: StormMesh, sent: list[SentSignal], timeout_s: float) -> float:
    """Wait until every adapter is linked and the mesh is quiet; the seconds it took."""
    t0 = time.monotonic()
    wait_for(lambda: all(venue_linked(mesh.client, mesh.names, v) for v in LINKS), timeout_s=timeout_s,
             interval_s=0.5, what="every platform linked")  # fmt: skip
    last = [""]

    def done() -> bool:
        last[0] = quiet(mesh, sent)
        return not last[0]

    deadline = time.monotonic() + timeout_s
    while not done():
        if time.monotonic() > deadline:
            print(f"storm: not quiet after {timeout_s:g} s: {last[0]}")
            break
        time.sleep(1.0)
    return time.monotonic() - t0


def judge(
    mesh: StormMesh,
    driver: Driver,
    nemesis: NemesisRun,
    *,
    run: dict[str, Any],
    bound_s: float,
    out: Path,
) -> dict[str, Any]:
    """Read the histories, check them, write the JSON report to `out`; the report."""
    venues = sorted(LINKS)
    mesh_h = MeshHistory.read(mesh.client, mesh.names, venues)
    platforms = {v: PlatformHistory.read(v, mesh.journal(v)) for v in venues}
    checked = checker.check(driver.sent, mesh_h, platforms, bound_s=bound_s)
    rep = report.build(run, nemesis.tally, read_events(mesh.faults_file), checked)
    rep["nemesis"]["exited_on_their_own"] = dict(nemesis.exited)
    rep["rejected_why"] = rejections(mesh)
    rep["slowest_timelines"] = slowest_timelines(mesh, driver, checked)
    report.write(rep, out)
    (out.parent / "nemesis.log").write_text("\n".join(nemesis.log) + "\n")
    return rep


def slowest_timelines(mesh: StormMesh, driver: Driver, checked: checker.Checked) -> dict[str, list[str]]:
    """The slowest signals' paths through the streams (every late one, up to 10; else the 3 slowest)."""
    slow = checked.examples.get("late_finals") or checked.time_to_final_s.get("slowest", [])[:3]
    ids = {line.split()[0] for line in slow}
    sent_ms = {s.signal_id: s.sent_ns / 1e6 for s in driver.sent if s.signal_id in ids}
    return late.timelines(mesh.client, mesh.names, sorted(LINKS), sent_ms)


def rejections(mesh: StormMesh) -> dict[str, int]:
    """Final rejections by the first words of their reason (ids and figures left out)."""
    why: Counter[str] = Counter()
    for _, env in entries(mesh.client, mesh.names.executions):
        ex = env.body
        if isinstance(ex, Execution) and ex.final and ex.status is OrderStatus.REJECTED:
            words = [w for w in (ex.reason or "(no reason)").split() if not any(c.isdigit() for c in w)]
            why[" ".join(words[:6])] += 1
    return dict(why.most_common())


def report_path(default: Path) -> Path:
    given = os.environ.get("NX_STORM_REPORT")
    return Path(given) if given else default


def load() -> str:
    return " ".join(f"{x:.1f}" for x in os.getloadavg())


def dump(rep: dict[str, Any]) -> str:
    return json.dumps(rep, indent=2)
