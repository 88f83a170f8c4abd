"""`nexusctl images build`: the mesh's images, built without a registry and without network in the build.

Which images: every image the compose files build (`deploy.image_builds`), all from the root
Dockerfile with the build args compose gives. How: the wheelhouse first (pip on this host, see
`wheelhouse`), then each image through the engine's API with its compose build arguments and
`BASE_IMAGE` when given (`--base`, or `--debian`: a Debian base made here, see `debian`). With
`--debian`, Redis and Prometheus images are made from Debian's packages too (deploy/images/), for hosts
that reach no registry: set NX_REDIS_IMAGE and NX_PROMETHEUS_IMAGE to use them.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from nexus_ops import debian, deploy, wheelhouse
from nexus_protocol.errors import ConfigError

Log = Callable[[str], None]
BASE_ARG = "BASE_IMAGE"
# Third-party images made from Debian's packages (--debian), with the variable compose reads them from.
INFRA = {
    "redis": (debian.REDIS, "NX_REDIS_IMAGE"),
    "prometheus": (debian.PROMETHEUS, "NX_PROMETHEUS_IMAGE"),
}


@dataclass(frozen=True, slots=True)
class ImageBuild:
    tag: str
    dockerfile: str  # relative to the context
    context: Path
    args: dict[str, str] = field(default_factory=dict)


def service_builds(root: Path, version: str, only: Iterable[str] | None = None) -> list[ImageBuild]:
    """The root Dockerfile once per image the compose files build (deploy.image_builds), or `only` those."""
    wanted = set(only) if only is not None else None
    return [
        ImageBuild(tag=f"{image}:{version}", dockerfile="Dockerfile", context=root, args=args)
        for image, args in sorted(deploy.image_builds(root).items())
        if wanted is None or image in wanted
    ]


def infra_builds(root: Path, version: str, bases: dict[str, str]) -> list[ImageBuild]:
    """nexus-mesh/redis and nexus-mesh/prometheus on the Debian bases in `bases` (name -> base tag)."""
    return [
        ImageBuild(
            tag=f"nexus-mesh/{name}:{version}",
            dockerfile=f"deploy/images/{name}/Dockerfile",
            context=root,
            args={BASE_ARG: bases[name]},
        )
        for name in INFRA
    ]


def build_image(client: Any, image: ImageBuild, base: str | None, log: Log) -> None:
    """Build through the engine's API (the classic builder: no frontend image to pull)."""
    args = dict(image.args)
    if base and BASE_ARG not in args:
        args[BASE_ARG] = base
    log(f"{image.tag}: building {image.dockerfile}" + (f" on {args[BASE_ARG]}" if BASE_ARG in args else ""))
    last = ""
    stream = client.api.build(
        path=str(image.context),
        dockerfile=image.dockerfile,
        tag=image.tag,
        buildargs=args,
        rm=True,
        forcerm=True,
        pull=False,
        decode=True,
    )
    for chunk in stream:
        if "error" in chunk:
            raise ConfigError(f"{image.tag}: {chunk['error'].strip()}\n{last}")
        text = str(chunk.get("stream", ""))
        if text.strip():
            last = (last + text)[-4000:]
            if text.startswith("Step "):
                log(f"  {text.strip()}")


def build(
    client: Any,
    root: Path,
    *,
    version: str = "dev",
    base: str | None = None,
    debian_bases: bool = False,
    only: Iterable[str] | None = None,
    log: Log = print,
) -> list[str]:
    """The images the compose files build (or `only` those names) and, with `debian_bases`, Redis and
    Prometheus; returns their tags."""
    builds = service_builds(root, version, only)
    if debian_bases:  # bootstrapped side by side: mostly waiting for downloads and dpkg
        recipes = {"python": debian.PYTHON, **{name: recipe for name, (recipe, _var) in INFRA.items()}}
        with ThreadPoolExecutor(len(recipes)) as pool:
            bases = dict(
                zip(recipes, pool.map(lambda r: debian.ensure(client, r, log), recipes.values()), strict=True)
            )
        base = base or bases["python"]
        builds += infra_builds(root, version, bases)
    wheels = wheelhouse.build(root)
    log(f"wheelhouse: {len(list(wheels.glob('*.whl')))} wheels in {wheels}")
    for image in builds:
        build_image(client, image, base, log)
    return [b.tag for b in builds]
