#!/usr/bin/env python3
"""Set up the workspace and run it: the two commands in README.md go through here.

    python3 dev.py demo     create .venv from requirements.lock (once), then run the demo mesh
    python3 dev.py test     same set-up, then the whole test suite (pytest's "no tests" is not a failure)
    python3 dev.py lock     re-pin requirements.lock from requirements.in (needs network)
    python3 dev.py check    ruff and mypy --strict on libs/

Only the standard library is used here, so it runs on a bare Python 3.11+ with pip.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent
VENV = ROOT / ".venv"
LOCK = ROOT / "requirements.lock"
STAMP = VENV / ".installed-lock-sha256"
BIN = VENV / ("Scripts" if os.name == "nt" else "bin")
PY = BIN / ("python.exe" if os.name == "nt" else "python")
PYTEST_NO_TESTS = 5


def run(*cmd: str | Path, **kw: object) -> int:
    print("+", " ".join(str(c) for c in cmd), flush=True)
    return subprocess.call([str(c) for c in cmd], cwd=ROOT, **kw)  # type: ignore[call-overload,no-any-return]


def check(*cmd: str | Path) -> None:
    rc = run(*cmd)
    if rc:
        sys.exit(f"dev.py: command failed with exit code {rc}: {' '.join(map(str, cmd))}")


def create_venv() -> None:
    try:
        venv.EnvBuilder(with_pip=True, clear=True).create(VENV)
    except (OSError, subprocess.CalledProcessError):
        # Debian's python3 without python3-venv has no ensurepip; virtualenv brings its own pip.
        boot = ROOT / ".bootstrap"
        check(sys.executable, "-m", "pip", "install", "--quiet", "--target", boot, "virtualenv")
        env = {**os.environ, "PYTHONPATH": str(boot)}
        rc = subprocess.call([sys.executable, "-m", "virtualenv", "--clear", str(VENV)], cwd=ROOT, env=env)
        if rc:
            sys.exit("dev.py: could not create .venv (neither venv nor virtualenv worked)")


def ensure_installed() -> None:
    digest = hashlib.sha256(LOCK.read_bytes()).hexdigest()
    if PY.exists() and STAMP.exists() and STAMP.read_text().strip() == digest:
        return
    if not PY.exists():
        print("dev.py: creating .venv", flush=True)
        create_venv()
    lines = LOCK.read_text().splitlines()
    pinned = [ln for ln in lines if ln and not ln.startswith(("#", " ", "-e"))]
    editables = [ln.split(maxsplit=1)[1] for ln in lines if ln.startswith("-e ")]
    pins = VENV / "pinned.txt"
    pins.write_text("\n".join(pinned) + "\n")
    check(PY, "-m", "pip", "install", "--quiet", "--disable-pip-version-check", "-r", pins)
    # Editables are built with the pinned hatchling already in .venv: no network build environment.
    args: list[str | Path] = ["-m", "pip", "install", "--quiet", "--no-deps", "--no-build-isolation"]
    for e in editables:
        args += ["-e", e]
    check(PY, *args)
    STAMP.write_text(digest + "\n")


def main(argv: list[str]) -> int:
    what = argv[0] if argv else "help"
    rest = argv[1:]
    if what == "lock":
        check(sys.executable, "-m", "pip", "install", "--quiet", "pip-tools")
        return run(
            sys.executable,
            "-m",
            "piptools",
            "compile",
            "--quiet",
            "--strip-extras",
            "--no-emit-index-url",
            "--no-emit-find-links",
            "--allow-unsafe",
            "-o",
            LOCK,
            "requirements.in",
            *rest,
        )
    if what not in {"demo", "test", "check", "install"}:
        print(__doc__)
        return 2
    ensure_installed()
    if what == "install":
        return 0
    if what == "demo":
        return run(BIN / "nexusctl", "demo", *rest)
    if what == "check":
        rc = run(PY, "-m", "ruff", "check", ".")
        libs = [
            "libs/protocol/src",
            "libs/mesh/src",
            "libs/ops/src",
            "libs/sim/src",
            "libs/testing/src",
            "libs/archive/src",
        ]
        return rc or run(PY, "-m", "mypy", "--strict", *libs)
    rc = run(PY, "-m", "pytest", *rest)
    return 0 if rc == PYTEST_NO_TESTS else rc


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
