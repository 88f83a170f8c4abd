"""`nexusctl images build`: the mesh's images, built without a registry and without network in the build.

Which images: every image the compose files build (`deploy.image_builds`), all from the root
Dockerfile with the build args compose gives. How: the wheelhouse first (pip on this host, see
`wheelhouse`), then each image through the engine's API with its compose build arguments and
`BASE_IMAGE` when given (`--base`, or `--debian`: a Debian base made here, see `debian`). With
`--debian`, Redis and Prometheus images are made from Debian's packages too (deploy/images/), for hosts
that reach no registry: set NX_REDIS_IMAGE and NX_PROMETHEUS_IMAGE to use them.

Built once per content: every image carries the hash of what it is built from (`source_hash`: the
build context's files as .dockerignore filters them, the lock, the build arguments, the bases) as a
label, and a build whose images all carry it already is skipped. With `cache` (a folder), the built
images are also saved there as one archive named by that hash, so an engine with an empty data root (a
test run's) loads them in seconds instead of building them again.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from nexus_ops import debian, deploy, wheelhouse
from nexus_protocol.errors import ConfigError

Log = Callable[[str], None]
BASE_ARG = "BASE_IMAGE"
SOURCE_LABEL = "org.nexus-mesh.source"  # the source_hash an image was built from
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


def build_image(client: Any, image: ImageBuild, base: str | None, log: Log, source: str = "") -> None:
    """Build through the engine's API (the classic builder: no frontend image to pull), labelled with
    the `source` hash."""
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
        labels={SOURCE_LABEL: source} if source else None,
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
    cache: Path | None = None,
    log: Log = print,
) -> list[str]:
    """The images the compose files build (or `only` those names) and, with `debian_bases`, Redis and
    Prometheus; returns their tags. Skipped when the engine has them from the same sources; with
    `cache`, loaded from the archive saved there by an earlier build of the same sources."""
    builds = service_builds(root, version, only)
    if debian_bases:
        builds += infra_builds(root, version, {name: recipe.tag for name, (recipe, _var) in INFRA.items()})
        base = base or debian.PYTHON.tag
    tags = [b.tag for b in builds]
    source = source_hash(root, builds, base, debian_bases)
    if up_to_date(client, tags, source):
        log(f"{len(tags)} images up to date (sources {source})")
        return tags
    archive = cache / f"images-{source}.tar" if cache is not None else None
    if archive is not None and archive.exists():
        load(client, archive)
        if up_to_date(client, tags, source):
            log(f"{len(tags)} images loaded from {archive}")
            return tags
    if debian_bases:  # bootstrapped side by side: mostly waiting for downloads and dpkg
        recipes = [debian.PYTHON, *(recipe for recipe, _var in INFRA.values())]
        with ThreadPoolExecutor(len(recipes)) as pool:
            list(pool.map(lambda r: debian.ensure(client, r, log), recipes))
    wheels = wheelhouse.build(root)
    log(f"wheelhouse: {len(list(wheels.glob('*.whl')))} wheels in {wheels}")
    for image in builds:
        build_image(client, image, base, log, source)
    if archive is not None:
        save(client, tags, archive)
        log(f"{len(tags)} images saved to {archive}")
    return tags


def source_hash(root: Path, builds: list[ImageBuild], base: str | None, debian_bases: bool) -> str:
    """What the images are made of: the build context's files (as .dockerignore filters them; the
    wheelhouse stands for the lock, which is hashed), each build's tag, Dockerfile and arguments, and the
    base images (a Debian base by its recipe)."""
    from docker.utils.build import exclude_paths

    digest = hashlib.sha256()
    recipes = [debian.PYTHON, *(r for r, _var in INFRA.values())] if debian_bases else []
    for line in [f"base={base}", *(f"recipe={r.tag}:{r.key}" for r in recipes)]:
        digest.update(line.encode() + b"\n")
    for b in builds:
        digest.update(f"build={b.tag} {b.dockerfile} {sorted(b.args.items())}\n".encode())
    ignore = root / ".dockerignore"
    patterns = [p for p in ignore.read_text().splitlines() if p.strip() and not p.startswith("#")]
    skip = str(wheelhouse.WHEELHOUSE)
    for name in sorted(exclude_paths(str(root), [*patterns, skip])):
        path = root / name
        if path.is_file() and not path.is_symlink():
            digest.update(f"file={name} {path.stat().st_mode & 0o111:o}\n".encode())
            digest.update(path.read_bytes())
    return digest.hexdigest()[:20]


def up_to_date(client: Any, tags: list[str], source: str) -> bool:
    """Every tag in the engine, built from `source`."""
    import docker.errors

    for tag in tags:
        try:
            labels = client.images.get(tag).labels or {}
        except docker.errors.ImageNotFound:
            return False
        if tag.startswith("nexus-mesh/") and labels.get(SOURCE_LABEL) != source:
            return False
    return True


def load(client: Any, archive: Path) -> None:
    """`docker load`: the engine loads while it answers, so the answer is read to its end."""
    with archive.open("rb") as f:
        for chunk in client.api.load_image(f, quiet=True):
            if "error" in chunk:
                raise ConfigError(f"{archive}: {chunk['error']}")


def save(client: Any, tags: list[str], archive: Path) -> None:
    """The images in one archive (`docker save`: layers they share stored once); older archives of
    this folder are removed."""
    archive.parent.mkdir(parents=True, exist_ok=True)
    partial = archive.with_suffix(".partial")
    resp = client.api._get(client.api._url("/images/get"), params={"names": tags}, stream=True)
    client.api._raise_for_status(resp)
    with partial.open("wb") as f:
        for chunk in resp.iter_content(1 << 20):
            f.write(chunk)
    partial.rename(archive)
    for old in archive.parent.glob("images-*.tar"):
        if old != archive:
            old.unlink(missing_ok=True)
