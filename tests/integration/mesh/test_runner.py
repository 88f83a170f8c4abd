"""Every kind of service, started as a real process, stops at start on a bad setting or config file:
exit code 2 and one line on stderr naming the variable or the file and place (nexus_mesh.runner)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from nexus_testing import REPO_ROOT, edited_config
from nexus_testing.processes import Services

UNKNOWN_ROOT = ("venues.yaml", {"environments.dev.nt8.symbols": ["NQ", "FOO"]})
RISK_ROOT = ("risk.yaml", {"default.per_symbol.FOO": {}})
NOT_A_VENUE = "NX_VENUE='nope': not a venue of"
CASES = {  # id: (module, environment, config edit or None, the line's telling part)
    "level": ("nexus_gateway.fills", {"NX_LOG_LEVEL": "LOUD"}, None, "NX_LOG_LEVEL='LOUD': must be one of"),
    "number": ("nexus_gateway.router", {"NX_MAX_DELIVERIES": "abc"}, None, "NX_MAX_DELIVERIES='abc'"),
    "venue-sim": ("nexus_gateway.sim_venue", {"NX_VENUE": "nope"}, None, NOT_A_VENUE),
    "venue-sierra": ("nexus_sierra", {"NX_VENUE": "nope"}, None, NOT_A_VENUE),
    "root-router": ("nexus_gateway.router", {}, UNKNOWN_ROOT, "dev.nt8.symbols: unknown root 'FOO'"),
    "root-normalizer": ("nexus_gateway.normalizer", {}, UNKNOWN_ROOT, "unknown root 'FOO'"),
    "root-bridge": ("nexus_bridge", {}, UNKNOWN_ROOT, "dev.nt8.symbols: unknown root 'FOO'"),
    "root-risk": ("nexus_gateway.router", {}, RISK_ROOT, "per_symbol: unknown root 'FOO'"),
    "root-fx": ("nexus_gateway.fx", {"NX_FX_WDO_SYMBOL": "WDX"}, None, "NX_FX_WDO_SYMBOL: unknown root"),
    "environment": ("nexus_gateway.router", {"NX_ENVIRONMENT": "nope"}, None, "NX_ENVIRONMENT='nope'"),
}  # fmt: skip


@pytest.mark.parametrize("case", list(CASES))
def test_a_bad_setting_exits_2_with_one_line_naming_it(case: str, services: Services, tmp_path: Path) -> None:
    module, env, config, telling = CASES[case]
    overrides = dict(env)
    if config is not None:
        overrides["NX_CONFIG_DIR"] = str(edited_config(tmp_path, *config))
    run = subprocess.run(
        [sys.executable, "-m", module],
        env=services.env(**overrides),
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert run.returncode == 2, run.stderr
    lines = run.stderr.strip().splitlines()
    assert len(lines) == 1 and telling in lines[0], run.stderr
