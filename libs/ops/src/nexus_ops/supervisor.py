"""Run the services that docker-compose.yml defines as local processes (`nexusctl up`).

The compose files are the one definition of the mesh: the root `docker-compose.yml` plus
`deploy/compose.{environment}.yml` when it exists. Every service whose command is
`python -m <module>` runs here as `<this python> -m <module>`, against the embedded Redis unless
NX_REDIS_URL is set. The Redis service itself is replaced by the embedded one.

A service's environment, each layer over the one before (`service_env`):
1. the compose file's values for the service (`${VAR:-default}` resolved from the operator's
   environment), except the ones only a container uses (LOCAL_ONLY);
2. the operator's NX_* variables (NX_CONFIG_DIR, NX_LOG_LEVEL, NX_MAX_DELIVERIES, ...), except the
   ones that identify one service (PER_SERVICE: NX_SERVICE, NX_VENUE, ...), which only compose sets;
3. what `up` decides: NX_REDIS_URL, NX_NAMESPACE, NX_ENVIRONMENT (--env), NX_CONSUMER (the service's
   name), NX_DATA_DIR, NX_CONFIG_DIR (the operator's, else deploy/config), made absolute.

`wait_ready` waits for every service: each one heartbeats, or exits, or is reported with the first error
line of its log (`first_error_line`).
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

from nexus_mesh.config_files import read_yaml
from nexus_mesh.embedded import RedisServer
from nexus_protocol.errors import ConfigError
from nexus_protocol.streams import Names

_VAR = re.compile(r"\$\{(?P<name>[A-Za-z_][A-Za-z0-9_]*)(?:(?P<op>:?[-?])(?P<arg>[^}]*))?\}")
# Decided here, not by the compose file. The archive: NX_ARCHIVE_URL of this environment (the operator's,
# passed like every NX_*), else the recorder's SQLite file under the data folder (a container's
# PostgreSQL host means nothing here). The ingress listens on loopback, not on a container's 0.0.0.0.
LOCAL_ONLY = {"NX_REDIS_URL", "NX_LOG_JSON", "NX_METRICS_PORT", "NX_ARCHIVE_URL", "NX_INGRESS_HOST"}
PER_SERVICE = {"NX_SERVICE", "NX_VENUE", "NX_CONSUMER", "NX_METRICS_PORT"}  # never one value for all
EXIT_CONFIG = 2  # a service's exit code for a bad setting or config file (nexus_mesh.runner)


@dataclass(frozen=True, slots=True)
class ComposeService:
    name: str
    module: str
    environment: dict[str, str]


def substitute(value: str, env: dict[str, str]) -> str:
    """Compose's `${VAR}`, `${VAR:-default}` and `${VAR:?message}` (unset or empty: ConfigError)."""

    def repl(m: re.Match[str]) -> str:
        got = env.get(m["name"])
        if (m["op"] or "").endswith("?"):
            if not got:
                raise ConfigError(f"${{{m['name']}}} is not set: {m['arg'] or 'required'}")
            return got
        return got if got else (m["arg"] or "")

    return _VAR.sub(repl, value)


def compose_files(root: Path, environment: str) -> list[Path]:
    files = [root / "docker-compose.yml"]
    override = root / "deploy" / f"compose.{environment}.yml"
    if override.exists():
        files.append(override)
    return files


def load_services(root: Path, environment: str, env: dict[str, str] | None = None) -> list[ComposeService]:
    env = dict(os.environ if env is None else env)
    env.setdefault("NX_ENVIRONMENT", environment)
    merged: dict[str, dict[str, Any]] = {}
    for path in compose_files(root, environment):
        doc = read_yaml(path) or {}
        for name, spec in (doc.get("services") or {}).items():
            base = merged.setdefault(name, {})
            environment_vars = {**base.get("environment", {}), **_env_dict(spec.get("environment"))}
            base.update(spec)
            base["environment"] = environment_vars
    out = []
    for name, spec in merged.items():
        cmd = spec.get("command")
        if not (isinstance(cmd, list) and len(cmd) >= 3 and cmd[0] == "python" and cmd[1] == "-m"):
            continue  # redis and anything that is not one of our Python services
        # NX_REDIS_URL and the like are decided by the supervisor: not resolved (their secrets may be unset)
        vars_ = {
            k: str(v) if k in LOCAL_ONLY else substitute(str(v), env) for k, v in spec["environment"].items()
        }
        out.append(ComposeService(name=name, module=cmd[2], environment=vars_))
    if not out:
        raise ConfigError(f"{root / 'docker-compose.yml'}: defines no `python -m` service")
    return out


def _env_dict(raw: Any) -> dict[str, Any]:
    if raw is None:
        return {}
    if isinstance(raw, dict):
        return dict(raw)
    return dict(item.split("=", 1) for item in raw)  # the list form: ["A=1", "B=2"]


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
    server: RedisServer | None = None
    operator_env: Mapping[str, str] = field(default_factory=lambda: dict(os.environ))
    procs: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)
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

    def start(self, only: set[str] | None = None) -> list[ComposeService]:
        found = load_services(self.root, self.environment, dict(self.operator_env))
        unknown = sorted((only or set()) - {s.name for s in found})
        if unknown:
            raise ConfigError(
                f"no service {', '.join(unknown)} in {self.environment} "
                f"(services: {', '.join(s.name for s in found)})"
            )
        services = [s for s in found if only is None or s.name in only]
        if self.redis_url is None:
            self.server = RedisServer(self.data_dir / "redis", die_with_parent=not self.detached).start()
            self.redis_url = self.server.url
        self.logs_dir.mkdir(parents=True, exist_ok=True)
        for svc in services:
            decided = {
                "NX_REDIS_URL": self.redis_url,
                "NX_NAMESPACE": self.namespace,
                "NX_CONSUMER": svc.name,
                "NX_ENVIRONMENT": self.environment,
                "NX_DATA_DIR": str(self.data_dir),
                "NX_CONFIG_DIR": str(self.config_dir),
                "PYTHONUNBUFFERED": "1",
                **({"NX_ARCHIVE_URL": self.archive_url} if self.archive_url else {}),
            }
            log_path = self.logs_dir / f"{svc.name}.log"
            self._log_start[svc.name] = log_path.stat().st_size if log_path.exists() else 0
            with log_path.open("ab") as log:
                self.procs[svc.name] = subprocess.Popen(
                    [sys.executable, "-m", svc.module],
                    env=service_env(svc, self.operator_env, decided),
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    cwd=self.root,
                    start_new_session=self.detached,
                )
            self.services[svc.name] = svc
        self._write_state()
        return services

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
        waiting = set(self.procs)
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

    def stop(self, timeout_s: float = 15.0) -> None:
        for p in self.procs.values():
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + timeout_s
        for p in self.procs.values():
            try:
                p.wait(max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
        self.procs.clear()
        if self.server is not None:
            self.server.stop()
            self.server = None
        self.state_file.unlink(missing_ok=True)

    def _write_state(self) -> None:
        self.state_file.parent.mkdir(parents=True, exist_ok=True)
        state = {
            "environment": self.environment,
            "namespace": self.namespace,
            "redis_url": self.redis_url,
            "redis_pid": self.server.process.pid if self.server and self.server.process else None,
            "redis_dir": str(self.server.data_dir) if self.server else None,
            "pids": {n: p.pid for n, p in self.procs.items()},
        }
        self.state_file.write_text(json.dumps(state, indent=2))


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
        while _alive(pid) and time.monotonic() < deadline:
            time.sleep(0.05)
        if _alive(pid):
            _signal(pid, signal.SIGKILL)
    if state.get("redis_pid"):
        _signal(state["redis_pid"], signal.SIGTERM)
        while _alive(state["redis_pid"]) and time.monotonic() < deadline:
            time.sleep(0.05)
    state_file.unlink(missing_ok=True)
    return stopped


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
