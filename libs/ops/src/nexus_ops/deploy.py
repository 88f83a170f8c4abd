"""`nexusctl compose`: the docker compose command line of an environment, files in the right order.

    docker-compose.yml                 the gateway services and Redis
    deploy/compose.secure.yml          not in dev: Redis ACL users, TLS port, per-service credentials
    deploy/compose.<environment>.yml   the environment's venues (simulated in dev) and its pinned settings
    deploy/compose.monitoring.yml      with --monitoring: Prometheus, Alertmanager, Grafana, redis_exporter

Passwords come from `deploy/secrets/redis.env` (written by `nexusctl acl render --env-file`) when it
exists. Uses `docker compose` (v2) when the Docker CLI has it, else `docker-compose` (v1).
"""

from __future__ import annotations

import shutil
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

from nexus_protocol.errors import ConfigError

SECRETS_ENV = Path("deploy") / "secrets" / "redis.env"


@dataclass(frozen=True, slots=True)
class ComposeCommand:
    argv: list[str]
    env: dict[str, str] = field(default_factory=dict)  # added to the caller's environment

    def shell(self) -> str:
        prefix = " ".join(f"{k}={v}" for k, v in sorted(self.env.items()))
        return (prefix + " " if prefix else "") + " ".join(self.argv)


def environments(root: Path) -> list[str]:
    return sorted(
        p.name.removeprefix("compose.").removesuffix(".yml")
        for p in (root / "deploy").glob("compose.*.yml")
        if p.name not in ("compose.secure.yml", "compose.monitoring.yml")
    )


def files(root: Path, environment: str, *, monitoring: bool = False) -> list[Path]:
    override = root / "deploy" / f"compose.{environment}.yml"
    if not override.exists():
        raise ConfigError(
            f"no deploy/compose.{environment}.yml (environments: {', '.join(environments(root))})"
        )
    out = [root / "docker-compose.yml"]
    if environment != "dev":
        out.append(root / "deploy" / "compose.secure.yml")
    out.append(override)
    if monitoring:
        out.append(root / "deploy" / "compose.monitoring.yml")
    return out


def engine() -> list[str]:
    docker = shutil.which("docker")
    if docker:
        probe = subprocess.run([docker, "compose", "version"], capture_output=True, check=False, timeout=20)
        if probe.returncode == 0:
            return [docker, "compose"]
    legacy = shutil.which("docker-compose")
    if legacy:
        return [legacy]
    raise ConfigError("neither `docker compose` nor `docker-compose` is installed")


def command(
    root: Path, environment: str, args: list[str], *, monitoring: bool = False, base: list[str] | None = None
) -> ComposeCommand:
    argv = list(base or engine())
    secrets = root / SECRETS_ENV
    if secrets.exists():
        argv += ["--env-file", str(secrets)]
    argv += ["--project-directory", str(root)]
    for f in files(root, environment, monitoring=monitoring):
        argv += ["-f", str(f)]
    env = {"NX_ENVIRONMENT": environment}
    if environment != "dev":
        env["NX_REDIS_EXPORTER_USER"] = "exporter"
    return ComposeCommand(argv + args, env)
