"""The mesh under docker-compose (Debian's 1.29), as the tests run it: the compose files of an
environment rendered onto the host's network (nexus_ops.hostnet), one compose project per stack."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import docker
import yaml

from nexus_ops import hostnet

# checked more often than the images do, with room for a loaded machine (a check is a new python process)
HEALTHCHECK = {"interval": "3s", "timeout": "10s", "retries": 10}
DEV = ("docker-compose.yml", "deploy/compose.dev.yml")  # the dev environment's files, in order
# A test run's limits, over deploy/config: a run trades dozens of round trips in one session day on
# one Redis, and their cost (the spread) reaches dev's daily loss of USD 1,000 within a run, which turns
# the bridge's kill switch on and every later signal is refused. The breakers have tests of their own.
RUN_LIMITS: dict[str, dict[str, Any]] = {
    "risk.yaml": {"environments": {"dev": {"max_daily_trades": 10_000, "max_daily_loss_usd": 1_000_000}}},
    "bridge.yaml": {"daily_loss_limit_usd": 1_000_000, "loss_streak_max": 10_000},
}
CONFIG_IN_IMAGES = "/app/deploy/config"  # the Dockerfile's NX_CONFIG_DIR
# Heartbeats that outlive a stall of this shared machine: at the default 10 s (refreshed every third of
# it) a service starved for 7 s (load average 40 on 2 cores) lost its venue link in the router's eyes,
# and legs to healthy venues were refused. A killed adapter's venue is still seen down after 30 s.
RUN_ENV = {"NX_HEARTBEAT_TTL_MS": "30000"}


def run_config(root: Path, folder: Path) -> Path:
    """deploy/config with RUN_LIMITS merged in, written to `folder` (readable by the images' user)."""
    shutil.copytree(root / "deploy" / "config", folder, dirs_exist_ok=True)
    for name, limits in RUN_LIMITS.items():
        path = folder / name
        path.write_text(yaml.safe_dump(_merged(yaml.safe_load(path.read_text()) or {}, limits)))
    folder.chmod(0o755)
    return folder


def _merged(base: dict[str, Any], over: dict[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for k, v in over.items():
        out[k] = _merged(out.get(k) or {}, v) if isinstance(v, dict) else v
    return out


@dataclass
class Stack:
    root: Path
    files: list[Path]
    project: str
    workdir: Path
    prefix: str  # loopback prefix, e.g. "127.77.3"
    env: dict[str, str] = field(default_factory=dict)  # added to compose's environment
    config: Path | None = None  # mounted over the images' deploy/config (run_config)
    rendered: Path | None = None  # the files merged and put on the host's network (prepare)
    addresses: dict[str, str] = field(default_factory=dict)

    def compose(
        self, *args: str, timeout_s: float = 240.0, check: bool = True
    ) -> subprocess.CompletedProcess[str]:
        argv = [shutil.which("docker-compose") or "docker-compose", "--project-directory", str(self.root)]
        argv += ["-p", self.project]
        for f in [self.rendered] if self.rendered else self.files:
            argv += ["-f", str(f)]
        clean = {k: v for k, v in os.environ.items() if not k.startswith("NX_")}
        done = subprocess.run(
            [*argv, *args],
            cwd=self.root,
            env={**clean, **self.env},
            capture_output=True,
            text=True,
            timeout=timeout_s,
            check=False,
        )
        if check and done.returncode:
            raise AssertionError(
                f"docker-compose {' '.join(args)} failed ({done.returncode}):\n{done.stderr[-3000:]}"
            )
        return done

    def resolved(self) -> dict[str, Any]:
        """The files as compose merges them (`docker-compose config`)."""
        rendered, self.rendered = self.rendered, None
        try:
            return yaml.safe_load(self.compose("config").stdout)  # type: ignore[no-any-return]
        finally:
            self.rendered = rendered

    def prepare(
        self, adjust: Callable[[dict[str, Any]], None] | None = None, replicated: tuple[str, ...] = ()
    ) -> Stack:
        """Render the files on the host's network (nexus_ops.hostnet), after `adjust` changed the
        resolved config in place (what a test cannot run here); `replicated` services are to be scaled.
        Secrets are inside: 0600."""
        resolved = self.resolved()
        if adjust is not None:
            adjust(resolved)
        if self.config is not None:
            for svc in resolved["services"].values():
                if (svc.get("command") or [""])[0] == "python":
                    svc["volumes"] = [*svc.get("volumes", []), f"{self.config}:{CONFIG_IN_IMAGES}:ro"]
                    svc["environment"] = {**(svc.get("environment") or {}), **RUN_ENV}
        self.addresses = hostnet.addresses(list(resolved["services"]), self.prefix, self.addresses)
        on_host = hostnet.host_network(
            resolved, self.prefix, healthcheck=HEALTHCHECK, replicated=replicated, known=self.addresses
        )
        self.rendered = self.workdir / f"{self.project}.host-network.yml"
        self.rendered.touch(mode=0o600)
        self.rendered.write_text(yaml.safe_dump(on_host, sort_keys=False))
        return self

    @property
    def services(self) -> list[str]:
        return sorted(self.addresses)

    def url(self, user: str = "", password: str = "") -> str:
        auth = f"{user}:{password}@" if user else ""
        return f"redis://{auth}{self.addresses['redis']}:6379/0"

    def up(self, *args: str) -> None:
        self.compose("up", "-d", "--no-build", *args)

    def down(self, *args: str) -> None:
        self.compose("down", "--timeout", "15", *args, check=False)

    def containers(self, client: docker.DockerClient, service: str | None = None) -> list[Any]:
        labels = [f"com.docker.compose.project={self.project}"]
        if service:
            labels.append(f"com.docker.compose.service={service}")
        return client.containers.list(all=True, filters={"label": labels})  # type: ignore[no-any-return]

    def wait_healthy(self, client: docker.DockerClient, timeout_s: float = 300.0) -> dict[str, str]:
        """Every container of the project running and, where it has a healthcheck, healthy."""
        deadline = time.monotonic() + timeout_s
        states: dict[str, str] = {}
        while time.monotonic() < deadline:
            states = {c.name: _health(c) for c in self.containers(client)}
            if states and all(s in ("healthy", "running") for s in states.values()):
                return states
            time.sleep(1.0)
        logs = {
            c.name: c.logs(tail=20).decode(errors="replace")
            for c in self.containers(client)
            if _health(c) not in ("healthy", "running")
        }
        raise AssertionError(f"not healthy after {timeout_s:.0f} s: {json.dumps(states)}\n{logs}")


def _health(container: Any) -> str:
    container.reload()
    state = container.attrs["State"]
    if state.get("Status") != "running":
        return str(state.get("Status"))
    health = state.get("Health")
    return str(health["Status"]) if health else "running"
