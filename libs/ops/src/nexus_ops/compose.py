"""The compose files as the local supervisor reads them: which `python -m` services an environment runs,
with what arguments and settings, and where they find each other when they run as local processes.

The files are the root `docker-compose.yml` plus `deploy/compose.{environment}.yml` when it exists.
Every service whose command is `python -m <module> [args...]` is one of ours; `${VAR}`,
`${VAR:-default}` and `${VAR:?message}` are resolved from the caller's environment, in settings and
arguments alike. A service labelled `nexus.role: platform-simulator` plays a trading platform: it talks
to its adapter over the platform's wire protocol and never to Redis, so it has no heartbeat.

On a compose network services reach each other by service name and listeners bind the wildcard
address. As local processes they all share one loopback address (`on_loopback`): a `NX_*_HOST`
setting that names a compose service or the wildcard, and the host of a `NX_*_URL` that names a
compose service, become that address. Ports stay as the files give them.
"""

from __future__ import annotations

import ipaddress
import os
import random
import re
import socket
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from nexus_mesh.config_files import read_yaml
from nexus_protocol.errors import ConfigError

_VAR = re.compile(r"\$\{(?P<name>[A-Za-z_][A-Za-z0-9_]*)(?:(?P<op>:?[-?])(?P<arg>[^}]*))?\}")
# Decided by the supervisor, not the files. The archive: NX_ARCHIVE_URL of this environment (the operator's,
# passed like every NX_*), else the recorder's SQLite file under the data folder (a container's
# PostgreSQL host means nothing here). Listeners' 0.0.0.0 (the ingress's among them) is `on_loopback`'s.
LOCAL_ONLY = {"NX_REDIS_URL", "NX_LOG_JSON", "NX_METRICS_PORT", "NX_ARCHIVE_URL"}
ROLE_LABEL = "nexus.role"
SIMULATOR = "platform-simulator"
WILDCARDS = frozenset({"0.0.0.0", "::", ""})
_HOST_KEY = re.compile(r"NX_\w+_HOST")
_URL_KEY = re.compile(r"NX_\w+_URL")


@dataclass(frozen=True, slots=True)
class ComposeService:
    name: str
    module: str
    environment: dict[str, str]
    args: tuple[str, ...] = ()
    labels: dict[str, str] = field(default_factory=dict)

    @property
    def simulator(self) -> bool:
        """A platform simulator: the platform's side of an adapter's link, not a mesh service."""
        return self.labels.get(ROLE_LABEL) == SIMULATOR

    @property
    def heartbeat(self) -> str | None:
        """The service name in its heartbeat key (None for a simulator, which has none)."""
        if self.simulator:
            return None
        venue = self.environment.get("NX_VENUE")
        return self.environment.get("NX_SERVICE") or (f"adapter-{venue}" if venue else self.name)


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
            environment_vars = {**base.get("environment", {}), **_pairs(spec.get("environment"))}
            labels = {**base.get("labels", {}), **_pairs(spec.get("labels"))}
            base.update(spec)
            base["environment"], base["labels"] = environment_vars, labels
    out = []
    for name, spec in merged.items():
        cmd = spec.get("command")
        if not (isinstance(cmd, list) and len(cmd) >= 3 and cmd[0] == "python" and cmd[1] == "-m"):
            continue  # redis and anything that is not one of our Python services
        # NX_REDIS_URL and the like are decided by the supervisor: not resolved (their secrets may be unset)
        vars_ = {
            k: str(v) if k in LOCAL_ONLY else substitute(str(v), env) for k, v in spec["environment"].items()
        }
        args = tuple(substitute(str(a), env) for a in cmd[3:])
        labels = {k: str(v) for k, v in spec["labels"].items()}
        out.append(ComposeService(name=name, module=cmd[2], environment=vars_, args=args, labels=labels))
    if not out:
        raise ConfigError(f"{root / 'docker-compose.yml'}: defines no `python -m` service")
    return out


def _pairs(raw: Any) -> dict[str, Any]:
    """A compose mapping in either form: {A: 1} or ["A=1"]."""
    if raw is None:
        return {}
    if isinstance(raw, dict):
        return dict(raw)
    return dict(item.split("=", 1) for item in raw)


def on_loopback(services: list[ComposeService], address: str) -> list[ComposeService]:
    """The services as local processes, every one of them at `address` (see the module docstring)."""
    names = {s.name for s in services}

    def local(key: str, value: str) -> str:
        if key in LOCAL_ONLY:
            return value
        if _HOST_KEY.fullmatch(key) and (value in names or value in WILDCARDS):
            return address
        if _URL_KEY.fullmatch(key):
            try:
                parts = urlsplit(value)
            except ValueError:  # several hosts (a cluster's or Sentinel's URL): the deployment's own
                return value
            if parts.hostname in names:
                netloc = f"{_bracketed(address)}:{parts.port}" if parts.port else _bracketed(address)
                return urlunsplit(parts._replace(netloc=netloc))
        return value

    return [replace(s, environment={k: local(k, v) for k, v in s.environment.items()}) for s in services]


def _bracketed(address: str) -> str:
    return f"[{address}]" if ":" in address else address


def free_loopback_address(attempts: int = 20) -> str:
    """A loopback address of its own for one mesh (127.a.b.1), so the ports the compose files fix
    never collide with another mesh on this machine (tests, a second demo). Linux routes all of
    127.0.0.0/8 to the loopback interface; elsewhere only 127.0.0.1 may work."""
    rng = random.SystemRandom()
    for _ in range(attempts):
        address = f"127.{rng.randint(1, 254)}.{rng.randint(0, 255)}.1"
        try:
            with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
                s.bind((address, 0))
        except OSError:
            continue
        return address
    return "127.0.0.1"


def check_loopback(address: str) -> str:
    """`address` if it is a loopback address (a local mesh is never reachable from outside)."""
    try:
        if ipaddress.ip_address(address).is_loopback:
            return address
    except ValueError:
        pass
    raise ConfigError(f"--address {address!r}: a local mesh listens on a loopback address (127.x.y.z, ::1)")
