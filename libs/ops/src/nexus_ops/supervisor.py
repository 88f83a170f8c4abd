"""Run the services that the compose files define as local processes (`nexusctl up`, the demo, the
end-to-end tests).

What runs is `nexus_ops.compose`: every `python -m <module> [args]` service of the root
`docker-compose.yml` plus `deploy/compose.{environment}.yml`, as `<this python> -m <module> [args]`,
every service at one loopback address (`address`; `compose.on_loopback`), against the embedded Redis
unless NX_REDIS_URL is set. The Redis service itself is replaced by the embedded one. A platform
simulator (label nexus.role=platform-simulator) gets no Redis, namespace or consumer name: it is the
platform's side of its adapter's link.

A service's environment, each layer over the one before (`service_env`):
1. the compose file's values for the service (`${VAR:-default}` resolved from the operator's
   environment), except the ones only a container uses (LOCAL_ONLY);
2. the operator's NX_* variables (NX_CONFIG_DIR, NX_LOG_LEVEL, NX_MAX_DELIVERIES, ...), except the
   ones that identify one service (PER_SERVICE: NX_SERVICE, NX_VENUE, ...), which only compose sets;
3. what `up` decides: NX_REDIS_URL, NX_NAMESPACE, NX_ENVIRONMENT (--env), NX_CONSUMER (the service's
   name), NX_DATA_DIR, NX_CONFIG_DIR (the operator's, else deploy/config), made absolute;
4. a test's per-service overrides (`overrides`, e.g. the rollover's clock file).

`wait_ready` waits for every service: each one heartbeats (a simulator: runs), or exits, or is reported
with the first error line of its log (`first_error_line`). `wait_linked` then waits for every adapter's
platform link.

One service can be stopped and started again under the running mesh (`stop_service`, `start_service`;
`nexusctl stop|start SERVICE`): the state file keeps what is needed to start it the same way from
another process, and the pid of every running service.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import redis

from nexus_mesh.embedded import RedisServer
from nexus_ops.compose import LOCAL_ONLY, ComposeService, load_services, on_loopback
from nexus_protocol.codec import unpack
from nexus_protocol.errors import ConfigError
from nexus_protocol.messages import Heartbeat
from nexus_protocol.streams import Names

__all__ = ["ComposeService", "Outcome", "Supervisor", "first_error_line", "service_env", "stop_detached"]

PER_SERVICE = {"NX_SERVICE", "NX_VENUE", "NX_CONSUMER", "NX_METRICS_PORT"}  # never one value for all
EXIT_CONFIG = 2  # a service's exit code for a bad setting or config file (nexus_mesh.runner)


def service_env(
    svc: ComposeService, operator: Mapping[str, str], decided: Mapping[str, str]
) -> dict[str, str]:
    """A service's process environment: compose < the operator's NX_* < what `up` decides."""
    return {
        **{k: v for k, v in operator.items() if not k.startswith("NX_")},
        **{k: v for k, v in svc.environment.items() if k not in LOCAL_ONLY},
        **passed_through(operator),
        **decided,
    }


def passed_through(operator: Mapping[str, str]) -> dict[str, str]:
    """The operator's NX_* variables every service gets."""
    return {k: v for k, v in operator.items() if k.startswith("NX_") and k not in PER_SERVICE}


_TRACEBACK = "Traceback (most recent call last):"
_FATAL = re.compile(
    r"configuration error|invalid settings|\b(ERROR|CRITICAL)\b|\"levelname\": \"(ERROR|CRITICAL)\""
)


def first_error_line(log: str) -> str:
    """The line of a service's log that says why it failed: a configuration error, an ERROR or CRITICAL
    record, or the exception a traceback ends in; else its last line."""
    lines = [ln.rstrip() for ln in log.splitlines() if ln.strip()]
    in_traceback = False
    for line in lines:
        if line.startswith(_TRACEBACK):
            in_traceback = True
        elif (in_traceback and not line.startswith(" ")) or (not in_traceback and _FATAL.search(line)):
            return line
    return lines[-1] if lines else "(nothing in its log)"


@dataclass(frozen=True, slots=True)
class Outcome:
    """How a started service is doing once `up` stops waiting."""

    name: str
    module: str
    problem: str = ""  # empty: heartbeating and alive
    exit_code: int | None = None

    @property
    def ok(self) -> bool:
        return not self.problem


@dataclass
class Supervisor:
    root: Path
    environment: str
    data_dir: Path
    namespace: str = "nx"
    redis_url: str | None = None
    detached: bool = False
    archive_url: str | None = None  # the recorder's; None: NX_ARCHIVE_URL, else SQLite under data_dir
    address: str = "127.0.0.1"  # every service listens on and dials this loopback address
    without: frozenset[str] = frozenset()  # compose services left out (e.g. a simulator: a real platform)
    overrides: dict[str, dict[str, str]] = field(default_factory=dict)  # service -> settings added
    server: RedisServer | None = None
    operator_env: Mapping[str, str] = field(default_factory=lambda: dict(os.environ))
    procs: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)
    pids: dict[str, int] = field(default_factory=dict)  # running services, also those another process started
    services: dict[str, ComposeService] = field(default_factory=dict)
    _log_start: dict[str, int] = field(default_factory=dict)

    @property
    def state_file(self) -> Path:
        return self.data_dir / f"nexusctl-{self.namespace}.json"

    @property
    def logs_dir(self) -> Path:
        return self.data_dir / "logs"

    @property
    def config_dir(self) -> Path:
        given = self.operator_env.get("NX_CONFIG_DIR")
        return Path(given).resolve() if given else self.root / "deploy" / "config"

    def plan(self, only: set[str] | None = None) -> list[ComposeService]:
        """The services to run, as local processes, in compose order."""
        found = on_loopback(load_services(self.root, self.environment, dict(self.operator_env)), self.address)
        unknown = sorted(((only or set()) | self.without) - {s.name for s in found})
        if unknown:
            raise ConfigError(
                f"no service {', '.join(unknown)} in {self.environment} "
                f"(services: {', '.join(s.name for s in found)})"
            )
        return [s for s in found if (only is None or s.name in only) and s.name not in self.without]

    def start(self, only: set[str] | None = None) -> list[ComposeService]:
        services = self.plan(only)
        if self.redis_url is None:
            self.server = RedisServer(self.data_dir / "redis", die_with_parent=not self.detached).start()
            self.redis_url = self.server.url
        for svc in services:
            self._launch(svc)
        self._write_state()
        return services

    def decided(self, svc: ComposeService) -> dict[str, str]:
        """What `up` decides for one service (a platform simulator never talks to the mesh's Redis)."""
        own = {"NX_DATA_DIR": str(self.data_dir), "NX_CONFIG_DIR": str(self.config_dir)}
        own["PYTHONUNBUFFERED"] = "1"
        if svc.simulator:
            return own
        assert self.redis_url is not None
        return {
            "NX_REDIS_URL": self.redis_url,
            "NX_NAMESPACE": self.namespace,
            "NX_CONSUMER": svc.name,
            "NX_ENVIRONMENT": self.environment,
            **own,
            **({"NX_ARCHIVE_URL": self.archive_url} if self.archive_url else {}),
        }

    def _launch(self, svc: ComposeService) -> None:
        self.logs_dir.mkdir(parents=True, exist_ok=True)
        env = {**service_env(svc, self.operator_env, self.decided(svc)), **self.overrides.get(svc.name, {})}
        log_path = self.logs_dir / f"{svc.name}.log"
        self._log_start[svc.name] = log_path.stat().st_size if log_path.exists() else 0
        with log_path.open("ab") as log:
            proc = subprocess.Popen(
                [sys.executable, "-m", svc.module, *svc.args],
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
                cwd=self.root,
                start_new_session=self.detached,
            )
        self.services[svc.name] = svc
        self.procs[svc.name] = proc
        self.pids[svc.name] = proc.pid

    def stop_service(self, name: str, timeout_s: float = 15.0) -> bool:
        """SIGTERM one service (SIGKILL after `timeout_s`); False if it was not running."""
        pid = self.pids.pop(name, None)
        proc = self.procs.pop(name, None)
        running = pid is not None and _alive(pid)
        if pid is not None and running:
            _signal(pid, signal.SIGTERM)
            _wait_gone(pid, proc, timeout_s)
        self._write_state()
        return running

    def start_service(self, name: str) -> ComposeService:
        """Start one service of the mesh again, exactly as `start` did (a no-op if it runs)."""
        self.without = self.without - {name}
        svc = self.services.get(name) or self.plan({name})[0]
        pid = self.pids.get(name)
        if pid is None or not _alive(pid):
            self._launch(svc)
            self._write_state()
        return svc

    def log(self, name: str) -> str:
        """What the service wrote to its log since this start."""
        path = self.logs_dir / f"{name}.log"
        if not path.exists():
            return ""
        with path.open("rb") as f:
            f.seek(self._log_start.get(name, 0))
            return f.read().decode(errors="replace")

    def wait_ready(self, timeout_s: float = 90.0, settle_s: float = 1.0) -> list[Outcome]:
        """Wait until every started service heartbeats or exits (never stopping at the first); then,
        after `settle_s`, one that has exited since is not up either. One Outcome per service."""
        assert self.redis_url is not None
        client = redis.Redis.from_url(self.redis_url)
        names = Names(self.namespace)
        waiting = {n for n in self.procs if not self.services[n].simulator}  # a simulator has no heartbeat
        deadline = time.monotonic() + timeout_s
        try:
            while waiting and time.monotonic() < deadline:
                keys = {k.decode() for k in client.scan_iter(match=names.health_pattern(), count=1000)}
                for name in list(waiting):
                    if self.procs[name].poll() is not None or any(k.endswith(f":{name}") for k in keys):
                        waiting.discard(name)
                if waiting:
                    time.sleep(0.1)
        finally:
            client.close()
        if settle_s > 0:
            time.sleep(settle_s)
        return [self._outcome(name, timeout_s, name in waiting) for name in self.procs]

    def _outcome(self, name: str, timeout_s: float, silent: bool) -> Outcome:
        module = self.services[name].module
        code = self.procs[name].poll()
        if code is not None:
            why = f"exited {code}: {first_error_line(self.log(name))}"
            return Outcome(name, module, why, code)
        if silent:
            why = f"no heartbeat after {timeout_s:g}s: {first_error_line(self.log(name))}"
            return Outcome(name, module, why)
        return Outcome(name, module)

    def dead(self) -> list[str]:
        """Services started here whose process has exited (not those `nexusctl stop` stopped)."""
        self._adopt()
        return [n for n, p in self.procs.items() if p.poll() is not None]

    def venues(self) -> list[str]:
        """The venues whose adapters run here."""
        running = [s for s in self.services.values() if s.name in self.pids]
        return [v for s in running if (v := s.environment.get("NX_VENUE"))]

    def wait_linked(self, timeout_s: float = 30.0) -> dict[str, bool]:
        """Wait until every adapter here says its platform link is up; venue -> linked."""
        assert self.redis_url is not None
        client = redis.Redis.from_url(self.redis_url)
        names = Names(self.namespace)
        deadline = time.monotonic() + timeout_s
        try:
            while True:
                linked = {v: venue_linked(client, names, v) for v in self.venues()}
                if all(linked.values()) or time.monotonic() > deadline or self.dead():
                    return linked
                time.sleep(0.1)
        finally:
            client.close()

    def stop(self, timeout_s: float = 15.0) -> None:
        self._adopt()
        for pid in self.pids.values():
            _signal(pid, signal.SIGTERM)
        deadline = time.monotonic() + timeout_s
        for name, pid in self.pids.items():
            _wait_gone(pid, self.procs.get(name), max(0.1, deadline - time.monotonic()))
        self.procs.clear()
        self.pids.clear()
        if self.server is not None:
            self.server.stop()
            self.server = None
        self.state_file.unlink(missing_ok=True)

    def _adopt(self) -> None:
        """The state file's pids are this mesh's too: `nexusctl stop|start` may have replaced some."""
        try:
            pids = {k: int(v) for k, v in json.loads(self.state_file.read_text())["pids"].items()}
        except (OSError, ValueError, KeyError):
            return
        for name, proc in list(self.procs.items()):
            if pids.get(name) != proc.pid:
                proc.poll()  # stopped by another process: reap it
                del self.procs[name]
        self.pids = pids

    def _write_state(self) -> None:
        self.state_file.parent.mkdir(parents=True, exist_ok=True)
        state = {
            "environment": self.environment,
            "namespace": self.namespace,
            "redis_url": self.redis_url,
            "redis_pid": self.server.process.pid if self.server and self.server.process else None,
            "redis_dir": str(self.server.data_dir) if self.server else None,
            "address": self.address,
            "without": sorted(self.without),
            "pids": self.pids,
        }
        self.state_file.write_text(json.dumps(state, indent=2))

    @classmethod
    def attach(cls, root: Path, state_file: Path) -> Supervisor:
        """The supervisor of a mesh that `nexusctl up` started (detached), from its state file."""
        state: dict[str, Any] = json.loads(state_file.read_text())
        return cls(
            root=root,
            environment=state["environment"],
            data_dir=state_file.parent,
            namespace=state["namespace"],
            redis_url=state["redis_url"],
            detached=True,
            address=state.get("address", "127.0.0.1"),
            without=frozenset(state.get("without", ())),
            pids={k: int(v) for k, v in state["pids"].items()},
        )


def venue_linked(client: redis.Redis, names: Names, venue: str) -> bool:
    """The venue's adapter heartbeats and says its platform link is up (what the router checks)."""
    raw: Any = client.get(names.control("venue", venue))
    hb = unpack(raw) if raw is not None else None
    return isinstance(hb, Heartbeat) and bool(hb.venue_connected)


def stop_detached(state_file: Path, timeout_s: float = 15.0) -> list[str]:
    """`nexusctl down`: SIGTERM every process `up` started (then Redis, whose AOF is flushed)."""
    state = json.loads(state_file.read_text())
    stopped = []
    pids = list(state["pids"].items())
    for name, pid in pids:
        if _signal(pid, signal.SIGTERM):
            stopped.append(name)
    deadline = time.monotonic() + timeout_s
    for _name, pid in pids:
        _wait_gone(pid, None, max(0.1, deadline - time.monotonic()))
    if state.get("redis_pid"):
        _signal(state["redis_pid"], signal.SIGTERM)
        while _alive(state["redis_pid"]) and time.monotonic() < deadline:
            time.sleep(0.05)
    state_file.unlink(missing_ok=True)
    return stopped


def _wait_gone(pid: int, proc: subprocess.Popen[bytes] | None, timeout_s: float) -> None:
    """Until `pid` has exited (reaped if it is our child); SIGKILL it after `timeout_s`."""
    if proc is not None:
        try:
            proc.wait(timeout_s)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        return
    deadline = time.monotonic() + timeout_s
    while _alive(pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    if _alive(pid):
        _signal(pid, signal.SIGKILL)


def _signal(pid: int, sig: int) -> bool:
    try:
        os.kill(pid, sig)
        return True
    except ProcessLookupError:
        return False


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:  # a zombie child of ours counts as gone
        done, _ = os.waitpid(pid, os.WNOHANG)
        return done == 0
    except ChildProcessError:  # not our child (`up` started it and exited): a zombie is gone too
        return not _zombie(pid)


def _zombie(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] == "Z"
    except (OSError, IndexError):
        return False
