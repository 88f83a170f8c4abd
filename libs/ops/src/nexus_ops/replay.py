"""`nexusctl replay`: a window of signals re-run through a sandbox copy of the gateway.

The signals of a window (read from the archive, else from `nx:signals`; a day older than the streams'
retention, or one Redis lost, is replayed from the archive) are copied, ids unchanged, into the sandbox
namespace's signals stream, and the gateway services with *simulated* venues run for that namespace
(the supervisor, on the same Redis: the sandbox is just other keys) until every replayed signal has
a final execution. Then the sandbox's executions are compared with the originals.

Why the copy is re-stamped and paced: the router refuses signals older than `max_signal_age_s` and
throttles by origin time, so each copy gets the time it is published as its origin (`ts`; the
original's is in the report) and copies go out at most `rate_per_s` a second. Before a signal with
a reference price is published, the simulated venues are moved to that price (their control hash)
and the copy waits until the router's last market price has followed, so the price collar judges it
as it judged the original. Same signal ids mean the same client order ids in the sandbox; the
namespaces keep them apart. The sandbox stays afterwards for `nexusctl --namespace SANDBOX report`.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import redis

from nexus_mesh.connection import as_str
from nexus_mesh.publish import Output, Publisher
from nexus_mesh.venues import load_venues_file
from nexus_ops.compose import load_services
from nexus_ops.records import History, Window
from nexus_ops.supervisor import Supervisor
from nexus_protocol.codec import Envelope, decode
from nexus_protocol.errors import ConfigError
from nexus_protocol.messages import Execution, Signal
from nexus_protocol.streams import Names

SIMULATED = "nexus_gateway."  # the gateway's own modules, the simulated venue among them
_DAY_MS = 86_400_000


@dataclass
class Replayed:
    signal: Signal
    original_ts_ms: float
    published_ms: float = 0.0
    final: Execution | None = None
    final_ms: float | None = None
    original: Execution | None = None

    @property
    def latency_ms(self) -> float | None:
        return None if self.final_ms is None else self.final_ms - self.published_ms


@dataclass
class ReplayResult:
    source: str
    sandbox: str
    window: Window
    environment: str
    items: list[Replayed] = field(default_factory=list)
    elapsed_s: float = 0.0
    logs: Path | None = None

    @property
    def missing(self) -> list[Replayed]:
        return [r for r in self.items if r.final is None]


def sandbox_keys(client: redis.Redis, sandbox: Names) -> list[bytes]:
    return list(client.scan_iter(match=sandbox.all_pattern, count=1000))


def simulated_services(root: Path, environment: str) -> set[str]:
    services = load_services(root, environment)
    real = [s for s in services if not s.module.startswith(SIMULATED)]
    venues = [s for s in real if s.environment.get("NX_VENUE")]
    if venues:
        raise ConfigError(
            f"environment {environment} starts real platform adapters "
            f"({', '.join(s.name for s in venues)}): replay runs simulated venues only (use sim)"
        )
    return {s.name for s in services if s.module.startswith(SIMULATED)}


def _venues_for(config_dir: Path, environment: str) -> dict[str, set[str]]:
    env = load_venues_file(config_dir).environments.get(environment, {})
    return {v: set(cfg.symbols) for v, cfg in env.items()}


class Replay:
    def __init__(
        self,
        history: History,
        client: redis.Redis,
        redis_url: str,
        root: Path,
        source: Names,
        sandbox: Names,
        *,
        environment: str = "sim",
        data_dir: Path,
        rate_per_s: float = 10.0,
        timeout_s: float = 60.0,
        collar_pct: float = 1.0,
        start_timeout_s: float = 120.0,
        archive_url: str | None = None,
    ) -> None:
        """`archive_url`: where the sandbox's recorder writes (the source's archive, under the sandbox
        namespace, so `nexusctl --namespace SANDBOX report` finds it); None: under `data_dir`."""
        if source.namespace == sandbox.namespace:
            raise ConfigError("the sandbox namespace must differ from the namespace replayed")
        self.history, self.client, self.redis_url, self.root = history, client, redis_url, root
        self.source, self.sandbox = source, sandbox
        self.environment, self.data_dir = environment, data_dir
        self.rate_per_s, self.timeout_s, self.collar_pct = rate_per_s, timeout_s, collar_pct
        self.start_timeout_s = start_timeout_s
        self.archive_url = archive_url
        self.venues = _venues_for(root / "deploy" / "config", environment)

    def select(self, window: Window) -> list[Replayed]:
        out, seen = [], set()
        for e in self.history.entries("signals", window):
            body = e.env.body
            if isinstance(body, Signal) and body.signal_id and body.signal_id not in seen:
                seen.add(body.signal_id)
                out.append(Replayed(body, e.origin_ms))
        return out

    def originals(self, items: list[Replayed], window: Window) -> None:
        wanted = {r.signal.signal_id: r for r in items}
        for e in self.history.entries("executions", window.widened(_DAY_MS)):
            ex = e.env.body
            if isinstance(ex, Execution) and ex.signal_id in wanted:
                r = wanted[ex.signal_id]
                if r.original is None or not r.original.final:
                    r.original = ex

    def run(self, window: Window, *, reset: bool = False, on_progress: Any = None) -> ReplayResult:
        result = ReplayResult(self.source.namespace, self.sandbox.namespace, window, self.environment)
        result.items = self.select(window)
        self.originals(result.items, window)
        existing = sandbox_keys(self.client, self.sandbox)
        if existing and not reset:
            raise ConfigError(
                f"namespace {self.sandbox.namespace} is not empty ({len(existing)} keys): "
                "choose another or pass --reset to delete it first"
            )
        for i in range(0, len(existing), 500):
            self.client.delete(*existing[i : i + 500])
        if not result.items:
            return result
        only = simulated_services(self.root, self.environment)
        sup = Supervisor(
            root=self.root,
            environment=self.environment,
            data_dir=self.data_dir,
            namespace=self.sandbox.namespace,
            redis_url=self.redis_url,
            archive_url=self.archive_url,
        )
        t0 = time.monotonic()
        result.logs = self.data_dir / "logs"
        sup.start(only=only)
        try:
            failed = [o for o in sup.wait_ready(timeout_s=self.start_timeout_s) if not o.ok]
            if failed:
                why = "; ".join(f"{o.name} {o.problem}" for o in failed)
                raise ConfigError(f"sandbox services not ready: {why} (logs in {result.logs})")
            self._wait(lambda: self.client.hlen(self.sandbox.contracts) > 0, 30.0)
            self._publish(result.items, on_progress)
            self._collect(result.items)
        finally:
            sup.stop()
            result.elapsed_s = time.monotonic() - t0
        return result

    def _wait(self, ready: Any, timeout_s: float) -> bool:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if ready():
                return True
            time.sleep(0.05)
        return False

    def _move_market(self, sig: Signal) -> None:
        price = sig.limit_price or sig.reference_price
        if not price:
            return
        for venue, symbols in self.venues.items():
            if sig.symbol in symbols:
                self.client.hset(self.sandbox.control("sim", venue, "prices"), sig.symbol, price)

        def followed() -> bool:
            last: Any = self.client.hget(self.sandbox.state("md", "last"), sig.symbol)
            return last is None or abs(float(last) - price) / price * 100 < self.collar_pct

        self._wait(followed, 5.0)

    def _publish(self, items: list[Replayed], on_progress: Any) -> None:
        pub = Publisher(self.client, dedupe_ttl_ms=2 * _DAY_MS)
        gap = 1.0 / self.rate_per_s if self.rate_per_s > 0 else 0.0
        for n, r in enumerate(items, 1):
            started = time.monotonic()
            self._move_market(r.signal)
            r.published_ms = time.time() * 1000
            env = Envelope.new(r.signal, id=r.signal.signal_id)  # origin time: now (see the docstring)
            pub.publish([Output(self.sandbox.signals, env)])
            if on_progress is not None:
                on_progress(n, len(items))
            time.sleep(max(0.0, gap - (time.monotonic() - started)))

    def _collect(self, items: list[Replayed]) -> None:
        wanted = {r.signal.signal_id: r for r in items}
        cursor = "0-0"
        deadline = time.monotonic() + self.timeout_s
        while any(r.final is None for r in items) and time.monotonic() < deadline:
            reply: Any = self.client.xread({self.sandbox.executions: cursor}, block=500, count=1000)
            for _stream, rows in reply or ():
                for entry_id, fields in rows:
                    cursor = as_str(entry_id)
                    ex = decode(fields).body
                    r = wanted.get(ex.signal_id) if isinstance(ex, Execution) else None
                    if r is not None and r.final is None and isinstance(ex, Execution) and ex.final:
                        r.final, r.final_ms = ex, float(cursor.split("-")[0])
