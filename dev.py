#!/usr/bin/env python3
"""Set up the workspace and run it: the two commands in README.md go through here.

    python3 dev.py demo     create .venv from requirements.lock (once), then run the demo mesh
    python3 dev.py test     same set-up, then the whole test suite (pytest's "no tests" is not a failure)
    python3 dev.py lock     re-pin requirements.lock from requirements.in (needs network; see LOCK_ARGS)
    python3 dev.py check    ruff check, ruff format --check, mypy --strict on libs/ and services/

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
# The lock is universal: resolved once for every Python >= 3.11.0 and every platform, with environment
# markers where a dependency differs (async-timeout below 3.11.3, MetaTrader5 on Windows), so it is the
# same lock whichever interpreter runs `dev.py lock`. One version per package where one fits all
# ("fewest"). uv is pinned so that two developers get the same file; existing pins are kept unless
# `python3 dev.py lock --upgrade-package NAME` (or --upgrade) asks otherwise.
UV = "uv==0.13.9"
TOOLS = ROOT / ".tools"
LOCK_ARGS = (
    "pip", "compile", "--universal", "--fork-strategy", "fewest", "--python-version", "3.11",
    "--custom-compile-command", "python3 dev.py lock", "--quiet",
)  # fmt: skip


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


def uv() -> Path:
    """The pinned uv, installed once into .tools/ with this interpreter's pip."""
    exe = TOOLS / "bin" / ("uv.exe" if os.name == "nt" else "uv")
    stamp = TOOLS / ".version"
    if not (exe.exists() and stamp.exists() and stamp.read_text().strip() == UV):
        check(sys.executable, "-m", "pip", "install", "--quiet", "--upgrade", "--target", TOOLS, UV)
        stamp.write_text(UV + "\n")
    return exe


def main(argv: list[str]) -> int:
    what = argv[0] if argv else "help"
    rest = argv[1:]
    if what == "lock":
        return run(uv(), *LOCK_ARGS, "-o", LOCK.name, "requirements.in", *rest)
    if what not in {"demo", "test", "check", "install"}:
        print(__doc__)
        return 2
    ensure_installed()
    if what == "install":
        return 0
    if what == "demo":
        return run(BIN / "nexusctl", "demo", *rest)
    if what == "check":
        steps = [
            ("ruff", "check", "."),
            ("ruff", "format", "--check", "."),
            ("mypy", "--strict", "libs", "services"),
        ]
        failed = [" ".join(s[:2]) for s in steps if run(PY, "-m", *s)]
        if failed:
            print(f"dev.py check: failed: {', '.join(failed)}", file=sys.stderr)
        return 1 if failed else 0
    rc = run(PY, "-m", "pytest", *rest)
    return 0 if rc == PYTEST_NO_TESTS else rc


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
