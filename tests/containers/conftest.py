"""Container tests: a Docker engine (the one that answers, else dockerd started for the run), the mesh's
images built here without a registry, and compose stacks on the host's network (loopback addresses).

Without an engine the tests skip with the reason; under CI=true they fail instead."""

from __future__ import annotations

import os
import random
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import docker
import pytest
import yaml

sys.path.insert(0, str(Path(__file__).parent))

from engine import Engine, EngineUnavailable, find_or_start
from stack import DEV, Stack, run_config

from nexus_ops import debian, images

ROOT = Path(__file__).resolve().parents[2]
VERSION = "test"


def _unavailable(reason: str) -> None:
    if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
        pytest.fail(f"{reason}: CI must run the container tests (.ci/run installs docker.io)", pytrace=False)
    pytest.skip(reason)


@pytest.fixture(scope="session")
def engine(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Engine]:
    try:
        found = find_or_start(tmp_path_factory.mktemp("dockerd") / "dockerd.log")
    except EngineUnavailable as exc:
        _unavailable(f"no Docker engine: {exc}")
        raise
    yield found
    found.stop()


@pytest.fixture(scope="session")
def docker_client(engine: Engine) -> Iterator[docker.DockerClient]:
    client = engine.client()
    yield client
    client.close()


@pytest.fixture(scope="session")
def mesh_images(docker_client: docker.DockerClient) -> list[str]:
    """The images the dev environment runs, on a Debian base made here, and Redis and Prometheus: built
    once per content (a run loads them from the archive an earlier run of the same sources saved)."""
    dev = yaml.safe_load(
        Stack(ROOT, [ROOT / f for f in DEV], "nxconfig", ROOT, "127.0.0").compose("config").stdout
    )
    wanted = {str(s["image"]).split(":", 1)[0] for s in dev["services"].values() if "build" in s}
    return images.build(
        docker_client,
        ROOT,
        version=VERSION,
        debian_bases=True,
        only=wanted,
        cache=debian.cache_dir() / "images",
        log=lambda _m: None,
    )


@pytest.fixture(scope="session")
def limits_for_a_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """deploy/config with a test run's limits (stack.RUN_LIMITS), mounted into every service."""
    return run_config(ROOT, tmp_path_factory.mktemp("config"))


@pytest.fixture(scope="module")
def make_stack(
    engine: Engine, mesh_images: list[str], limits_for_a_run: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Callable[..., Stack]]:
    """Stacks of compose files (paths under ROOT), each its own project on its own loopback addresses;
    all taken down, volumes too, when the module is done. `replicated`: services the test scales."""
    made: list[Stack] = []
    workdir = tmp_path_factory.mktemp("compose")
    net = random.Random().randrange(100, 250)

    def make(
        *files: str,
        adjust: Callable[[dict[str, Any]], None] | None = None,
        replicated: tuple[str, ...] = (),
        **env: str,
    ) -> Stack:
        stack = Stack(
            root=ROOT,
            files=[ROOT / f for f in files],
            project=f"nxtest{os.getpid()}x{net}x{len(made)}",
            workdir=workdir,
            prefix=f"127.{net}.{len(made)}",
            env={
                "DOCKER_HOST": engine.host,
                "NX_VERSION": VERSION,
                "NX_REDIS_IMAGE": f"nexus-mesh/redis:{VERSION}",
                "NX_PROMETHEUS_IMAGE": f"nexus-mesh/prometheus:{VERSION}",
                **env,
            },
            config=limits_for_a_run,
        )
        made.append(stack.prepare(adjust, replicated))
        return stack

    yield make
    for stack in made:
        stack.down("--volumes", "--remove-orphans")
