"""The wheelhouse: every third-party wheel the service images install, built on this host.

Images build without network: the Dockerfile installs from `build/wheelhouse` only (`pip --no-index`),
so pip runs here, with this host's pip configuration (index, proxy, CA bundle), never inside a build.
What goes in is read from requirements.lock: the packages our own packages need, transitively (the
lock's `# via` lines), at the lock's versions, for any Linux CPython the lock allows (a marker such as
`python_full_version < '3.11.3'` may hold in the image even where it does not hold here), plus the
build backend our packages are built with. A stamp of the lock's hash skips the work when nothing changed.
"""

from __future__ import annotations

import hashlib
import re
import subprocess
import sys
import tomllib
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from packaging.markers import Marker

from nexus_protocol.errors import ConfigError

WHEELHOUSE = Path("build") / "wheelhouse"
BUILD_BACKEND = ("hatchling", "editables")  # our pyproject.toml files build with these
# Pythons an image may run (Debian 12's 3.11.2, the official images' latest): a marker true for any one
# of them puts the package in.
TARGET_PYTHONS = ("3.11.2", "3.11.14", "3.12.12", "3.13.9")
_PIN = re.compile(r"^(?P<name>[A-Za-z0-9_.-]+)==(?P<version>[^\s;]+)\s*(?:;\s*(?P<marker>.+))?$")


@dataclass
class Locked:
    name: str
    pin: str  # "name==version", marker stripped
    marker: Marker | None
    via: set[str] = field(default_factory=set)


def canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def parse_lock(text: str, root: Path) -> tuple[dict[str, Locked], set[str]]:
    """The lock's pinned packages by canonical name, and the names of our own (`-e`) packages."""
    pinned: dict[str, Locked] = {}
    local: set[str] = set()
    current: Locked | None = None
    in_via = False
    for raw in text.splitlines():
        line = raw.strip()
        if not raw.startswith((" ", "#")) and line:
            in_via = False
            current = None
            if line.startswith("-e "):
                local.add(canonical(_project_name(root / line[3:].strip())))
            elif m := _PIN.match(line):
                name = canonical(m["name"])
                marker = Marker(m["marker"]) if m["marker"] else None
                current = pinned[name] = Locked(name, f"{m['name']}=={m['version']}", marker)
        elif current is not None and line.startswith("#"):
            body = line.lstrip("#").strip()
            if body.startswith("via"):
                rest = body[3:].strip()
                in_via = not rest
                if rest:
                    current.via.add(canonical(rest))
            elif in_via and body:
                current.via.add(canonical(body) if not body.startswith("-r ") else body)
    return pinned, local


def _project_name(folder: Path) -> str:
    try:
        return str(tomllib.loads((folder / "pyproject.toml").read_text())["project"]["name"])
    except (OSError, KeyError) as exc:
        raise ConfigError(
            f"requirements.lock names {folder}, which has no pyproject.toml [project] name"
        ) from exc


def runs_on_linux(marker: Marker | None) -> bool:
    if marker is None:
        return True
    linux = {"sys_platform": "linux", "platform_system": "Linux", "os_name": "posix", "extra": ""}
    return any(
        marker.evaluate({**linux, "python_full_version": v, "python_version": v.rsplit(".", 1)[0]})
        for v in TARGET_PYTHONS
    )


def needed(pinned: dict[str, Locked], seeds: Iterable[str]) -> list[Locked]:
    """The pinned packages reachable from `seeds` through the lock's `via` edges, Linux only."""
    wanted = {canonical(s) for s in seeds}
    grew = True
    while grew:
        grew = False
        for pkg in pinned.values():
            if pkg.name not in wanted and pkg.via & wanted and runs_on_linux(pkg.marker):
                wanted.add(pkg.name)
                grew = True
    return sorted((p for p in pinned.values() if p.name in wanted), key=lambda p: p.name)


def requirements(root: Path) -> list[str]:
    """The pins the wheelhouse holds: our packages' dependencies and the build backend."""
    lock = root / "requirements.lock"
    pinned, local = parse_lock(lock.read_text(), root)
    missing = [b for b in BUILD_BACKEND if b not in pinned]
    if missing:
        raise ConfigError(f"{lock}: the build backend {', '.join(missing)} is not pinned")
    return [p.pin for p in needed(pinned, [*local, *BUILD_BACKEND])]


def build(root: Path, out: Path | None = None, *, python: str = sys.executable) -> Path:
    """Fill the wheelhouse (pip wheel, this host's pip settings); a no-op when the lock has not changed."""
    out = out or root / WHEELHOUSE
    pins = requirements(root)
    digest = hashlib.sha256("\n".join(pins).encode()).hexdigest()
    stamp = out / ".requirements-sha256"
    if stamp.exists() and stamp.read_text().strip() == digest:
        return out
    out.mkdir(parents=True, exist_ok=True)
    for old in out.glob("*.whl"):
        old.unlink()
    (out / "requirements.txt").write_text("\n".join(pins) + "\n")
    cmd = [python, "-m", "pip", "wheel", "--quiet", "--no-deps", "--wheel-dir", str(out), "-r"]
    done = subprocess.run(
        [*cmd, str(out / "requirements.txt")], cwd=root, capture_output=True, text=True, check=False
    )
    if done.returncode:
        raise ConfigError(f"pip wheel failed (exit {done.returncode}): {done.stderr[-3000:]}")
    stamp.write_text(digest + "\n")
    return out
