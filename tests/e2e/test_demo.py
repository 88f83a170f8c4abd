"""The README's first command: the demo runs the dev mesh on an embedded Redis (every platform's real
adapter against its simulator), every one of its signals gets a final, filled execution, and every
platform's leg shows its own symbol (run as `nexusctl demo`, what `python3 dev.py demo` runs after
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
    assert len(finals) == 6, out.stdout
    assert "every adapter linked to its platform" in out.stdout, out.stdout
    legs = {ln.split()[0]: ln.split()[1:] for ln in out.stdout.splitlines() if ln.startswith("     ")}
    assert set(legs) == {"nt8", "sierra", "quantower", "mt5-global", "bookmap", "mt5-brazil"}, out.stdout
    assert legs["mt5-global"][0] in ("NAS100", "US500") and legs["mt5-brazil"][0].startswith("WIN")
    assert "BRL" in legs["mt5-brazil"]  # its price in BRL; its P&L, like every leg's, in USD
