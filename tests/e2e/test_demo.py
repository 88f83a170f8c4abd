"""The README's first command: the demo runs the whole mesh on an embedded Redis and every one of its
signals gets a final, filled execution (run as `nexusctl demo`, what `python3 dev.py demo` runs after
installing)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from nexus_testing import REPO_ROOT

NEXUSCTL = str(Path(sys.executable).parent / "nexusctl")


def test_the_demo_fills_every_signal_it_sends() -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("NX_")}
    out = subprocess.run(
        [NEXUSCTL, "demo"], cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=240, check=False
    )
    assert out.returncode == 0, out.stdout + out.stderr
    finals = [line for line in out.stdout.splitlines() if " -> filled, " in line]
    assert len(finals) == 4, out.stdout
    assert "all services heartbeating" in out.stdout and "NAS100" in out.stdout and "WINZ" in out.stdout
