"""`nexusctl compose` and `nexusctl images build`: the docker command lines of the deployment.

`compose`: the compose files of an environment, in the right order:

    docker-compose.yml                 the gateway services and Redis
    deploy/compose.secure.yml          not in dev and sim: Redis ACL users, TLS port, per-service credentials
    deploy/compose.<environment>.yml   the environment's venues (simulators in dev and sim) and its settings
    deploy/compose.monitoring.yml      with --monitoring: Prometheus, Alertmanager, Grafana, redis_exporter

Passwords come from `deploy/secrets/redis.env` (written by `nexusctl acl render --env-file`) when it
exists. Uses `docker compose` (v2) when the Docker CLI has it, else `docker-compose` (v1).

`images build`: one `docker build` of the root Dockerfile per image the compose files build, with the
build args they give it (SERVICE, MODULE), so the images are the ones compose would build.
"""

from __future__ import annotations

import shutil
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

from nexus_mesh.config_files import read_yaml
from nexus_protocol.errors import ConfigError

SECRETS_ENV = Path("deploy") / "secrets" / "redis.env"
WINDOWS_COMPOSE = Path("deploy") / "windows" / "docker-compose.windows.yml"
LOCAL = frozenset({"dev", "sim"})  # one machine, simulated platforms: Redis without ACL users or TLS


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
    if environment not in LOCAL:
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
    if environment not in LOCAL:
        env["NX_REDIS_EXPORTER_USER"] = "exporter"
    return ComposeCommand(argv + args, env)


def compose_files(root: Path) -> list[Path]:
    """Every compose file of the repository: the root file, deploy/, the Windows host's."""
    return [
        root / "docker-compose.yml",
        *sorted((root / "deploy").glob("compose.*.yml")),
        root / WINDOWS_COMPOSE,
    ]


def image_builds(root: Path) -> dict[str, dict[str, str]]:
    """Each image a compose file builds (its name without the tag) and the build args it gives."""
    out: dict[str, dict[str, str]] = {}
    for path in compose_files(root):
        doc = read_yaml(path) or {}
        services = doc.get("services") or {}
        for svc in [*services.values(), *(v for k, v in doc.items() if k.startswith("x-"))]:
            build = svc.get("build") if isinstance(svc, dict) else None
            if isinstance(build, dict) and "image" in svc:
                out[str(svc["image"]).split(":", 1)[0]] = {str(k): str(v) for k, v in build["args"].items()}
    return out


def build_commands(root: Path, tag: str, base_image: str | None = None) -> list[list[str]]:
    """The `docker build` command line of every image, from the repository root."""
    cmds = []
    for image, args in sorted(image_builds(root).items()):
        argv = ["docker", "build", "-f", str(root / "Dockerfile"), "-t", f"{image}:{tag}"]
        for k, v in sorted({**args, **({"BASE_IMAGE": base_image} if base_image else {})}.items()):
            argv += ["--build-arg", f"{k}={v}"]
        cmds.append([*argv, str(root)])
    return cmds
