"""The `tool` marker (tests/conftest.py): a test whose command is missing is skipped with the command and
its Debian package named, and fails instead under CI=true, where .ci/run should have installed it."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

PROBE = Path(__file__).with_name("tool_probe.py")


def run_probe(**env: str) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if k != "CI"}
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-rsE", "-p", "no:cacheprovider", str(PROBE)],
        capture_output=True, text=True, timeout=120, env={**clean, **env}, check=False,
    )  # fmt: skip


@pytest.mark.parametrize("ci", [None, "false"])
def test_a_missing_tool_skips_with_the_package_to_install(ci: str | None) -> None:
    result = run_probe(**({} if ci is None else {"CI": ci}))
    assert result.returncode == 0, result.stdout
    assert "1 skipped" in result.stdout
    assert "needs nexus-no-such-command (apt-get install nexus-no-such-package)" in result.stdout


def test_under_ci_a_missing_tool_fails() -> None:
    result = run_probe(CI="true")
    assert result.returncode == 1, result.stdout
    assert "1 error" in result.stdout and "skipped" not in result.stdout
    assert "needs nexus-no-such-command (apt-get install nexus-no-such-package)" in result.stdout
    assert "CI must install it" in result.stdout
