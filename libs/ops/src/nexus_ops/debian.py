"""Base images made here, without a registry: a Debian root file system from Debian's packages
(debootstrap, as root) imported into the Docker engine (`docker import`).

Cached twice: the engine keeps the image under its tag (with the recipe's hash as a label, so a
changed recipe is rebuilt), and the root file system's tarball stays in a cache folder, so an engine
with an empty data root (a test run's) imports it again in seconds instead of bootstrapping for a minute.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from nexus_protocol.errors import ConfigError

LABEL = "org.nexus-mesh.rootfs"
DEFAULT_MIRROR = "http://deb.debian.org/debian"
# Trimmed from the image: package downloads and lists, documentation, translations.
_TRIM = ("var/cache/apt/archives", "var/lib/apt/lists", "usr/share/doc", "usr/share/man", "usr/share/locale")


@dataclass(frozen=True, slots=True)
class Recipe:
    """What goes into a root file system: a Debian suite and the packages on top of minbase."""

    tag: str
    packages: tuple[str, ...]
    suite: str = "bookworm"
    mirror: str = DEFAULT_MIRROR

    @property
    def key(self) -> str:
        text = "\n".join([self.suite, self.mirror, *sorted(self.packages)])
        return hashlib.sha256(text.encode()).hexdigest()[:16]


PYTHON = Recipe(
    "nexus-mesh/debian-python:bookworm", ("python3", "python3-venv", "python-is-python3", "ca-certificates")
)
REDIS = Recipe("nexus-mesh/debian-redis:bookworm", ("redis-server", "redis-tools"))
PROMETHEUS = Recipe("nexus-mesh/debian-prometheus:bookworm", ("prometheus",))


def cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(os.environ.get("NX_IMAGE_CACHE", Path(base) / "nexus-mesh" / "rootfs"))


def has_image(client: Any, recipe: Recipe) -> bool:
    import docker.errors

    try:
        image = client.images.get(recipe.tag)
    except docker.errors.ImageNotFound:
        return False
    return bool((image.labels or {}).get(LABEL) == recipe.key)


def ensure(client: Any, recipe: Recipe, log: Any = print) -> str:
    """The recipe's image in the engine (imported from the cached tarball, bootstrapped if none)."""
    if has_image(client, recipe):
        return recipe.tag
    tarball = rootfs_tarball(recipe, log)
    repository, _, tag = recipe.tag.rpartition(":")
    with tarball.open("rb") as f:
        client.api.import_image_from_data(
            f, repository=repository, tag=tag, changes=[f"LABEL {LABEL}={recipe.key}"]
        )
    log(f"{recipe.tag}: imported from {tarball}")
    return recipe.tag


def rootfs_tarball(recipe: Recipe, log: Any = print) -> Path:
    """The recipe's root file system as a tarball in the cache (debootstrap --variant=minbase)."""
    out = cache_dir() / f"{recipe.suite}-{recipe.key}.tar"
    if out.exists():
        return out
    debootstrap = shutil.which("debootstrap")
    if debootstrap is None:
        raise ConfigError("debootstrap is not installed (Debian: apt-get install debootstrap)")
    if os.geteuid() != 0:
        raise ConfigError("making a Debian root file system needs root (debootstrap)")
    out.parent.mkdir(parents=True, exist_ok=True)
    log(f"{recipe.tag}: debootstrap {recipe.suite} with {', '.join(recipe.packages)} (about a minute)")
    with tempfile.TemporaryDirectory(prefix="nexus-rootfs-", dir=out.parent) as tmp:
        root = Path(tmp) / "root"
        cmd = [
            debootstrap,
            "--variant=minbase",
            f"--include={','.join(recipe.packages)}",
            f"--cache-dir={_debs_dir(recipe)}",
            recipe.suite,
            str(root),
            recipe.mirror,
        ]
        done = subprocess.run(cmd, capture_output=True, text=True, check=False)
        if done.returncode:
            raise ConfigError(
                f"debootstrap failed ({done.returncode}): {done.stdout[-2000:]}{done.stderr[-2000:]}"
            )
        for sub in _TRIM:
            shutil.rmtree(root / sub, ignore_errors=True)
            (root / sub).mkdir(parents=True, exist_ok=True)
        partial = out.with_suffix(".partial")
        subprocess.run(["tar", "-C", str(root), "--numeric-owner", "-cf", str(partial), "."], check=True)
        partial.rename(out)
    return out


def _debs_dir(recipe: Recipe) -> Path:
    """The recipe's downloaded .deb files (debootstrap --cache-dir), its own: recipes bootstrap side by
    side, and two debootstraps fetching one package into one folder made one of them fail."""
    path = cache_dir() / "debs" / recipe.key
    path.mkdir(parents=True, exist_ok=True)
    return path
