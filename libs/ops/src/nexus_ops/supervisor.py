"""Run the services that docker-compose.yml defines as local processes (`nexusctl up`).

The compose files are the one definition of the mesh: the root `docker-compose.yml` plus
`deploy/compose.{environment}.yml` when it exists. Every service whose command is
`python -m <module>` runs here as `<this python> -m <module>` with the service's environment from the
compose file (`${VAR:-default}` resolved from this environment), against the embedded Redis unless
NX_REDIS_URL is set. The Redis service itself is replaced by the embedded one.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import redis

from nexus_mesh.config_files import read_yaml
from nexus_mesh.embedded import RedisServer
from nexus_protocol.errors import ConfigError
from nexus_protocol.streams import Names

_VAR = re.compile(r"\$\{(?P<name>[A-Za-z_][A-Za-z0-9_]*)(?:(?P<op>:?[-?])(?P<arg>[^}]*))?\}")
# Decided here, not by the compose file. The archive: NX_ARCHIVE_URL of this environment, else the
# recorder's SQLite file under the data folder (a container's PostgreSQL host means nothing here).
# The ingress listens on loopback, not on a container's 0.0.0.0.
LOCAL_ONLY = {"NX_REDIS_URL", "NX_LOG_JSON", "NX_METRICS_PORT", "NX_ARCHIVE_URL", "NX_INGRESS_HOST"}


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


@dataclass
class Supervisor:
    root: Path
    environment: str
    data_dir: Path
    namespace: str = "nx"
    redis_url: str | None = None
    detached: bool = False
    server: RedisServer | None = None
    procs: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)

    @property
    def state_file(self) -> Path:
        return self.data_dir / f"nexusctl-{self.namespace}.json"

    def start(self, only: set[str] | None = None) -> list[ComposeService]:
        services = [s for s in load_services(self.root, self.environment) if only is None or s.name in only]
        if self.redis_url is None:
            self.server = RedisServer(self.data_dir / "redis", die_with_parent=not self.detached).start()
            self.redis_url = self.server.url
        logs = self.data_dir / "logs"
        logs.mkdir(parents=True, exist_ok=True)
        base = {k: v for k, v in os.environ.items() if not k.startswith("NX_")}
        if os.environ.get("NX_ARCHIVE_URL"):
            base["NX_ARCHIVE_URL"] = os.environ["NX_ARCHIVE_URL"]
        for svc in services:
            env = {
                **base,
                **{k: v for k, v in svc.environment.items() if k not in LOCAL_ONLY},
                "NX_REDIS_URL": self.redis_url,
                "NX_NAMESPACE": self.namespace,
                "NX_CONSUMER": svc.name,
                "NX_ENVIRONMENT": self.environment,
                "NX_DATA_DIR": str(self.data_dir),
                "NX_CONFIG_DIR": str(self.root / "deploy" / "config"),
                "PYTHONUNBUFFERED": "1",
            }
            with (logs / f"{svc.name}.log").open("ab") as log:
                self.procs[svc.name] = subprocess.Popen(
                    [sys.executable, "-m", svc.module],
                    env=env,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    cwd=self.root,
                    start_new_session=self.detached,
                )
        self._write_state()
        return services

    def wait_ready(self, timeout_s: float = 30.0) -> list[str]:
        """Wait until every started service heartbeats; returns the ones that did not."""
        assert self.redis_url is not None
        client = redis.Redis.from_url(self.redis_url)
        names = Names(self.namespace)
        deadline = time.monotonic() + timeout_s
        missing = list(self.procs)
        try:
            while missing and time.monotonic() < deadline:
                keys = {k.decode() for k in client.scan_iter(match=names.health_pattern(), count=1000)}
                missing = [n for n in self.procs if not any(k.endswith(f":{n}") for k in keys)]
                if missing:
                    dead = [n for n in missing if self.procs[n].poll() is not None]
                    if dead:
                        return dead
                    time.sleep(0.1)
        finally:
            client.close()
        return missing

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
