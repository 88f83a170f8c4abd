"""`nexusctl up` as an operator runs it (the real command, real service processes, the embedded Redis):
the operator's NX_* variables reach every service, a bad shared setting stops it before anything starts,
and every service that fails is named with the first error line of its log, the others too."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from nexus_testing import REPO_ROOT, edited_config

NEXUSCTL = str(Path(sys.executable).parent / "nexusctl")


class Up:
    """nexusctl with a data folder and namespace of the test's own; `down` at the end."""

    def __init__(self, tmp: Path) -> None:
        self.data = tmp / "data"
        self.env = {k: v for k, v in os.environ.items() if not k.startswith("NX_")}
        self.env.update(NX_DATA_DIR=str(self.data), NX_NAMESPACE="up", COLUMNS="100")

    def __call__(self, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [NEXUSCTL, *args], cwd=REPO_ROOT, env={**self.env, **env},
            capture_output=True, text=True, timeout=180, check=False,
        )  # fmt: skip

    @property
    def state(self) -> Path:
        return self.data / "nexusctl-up.json"

    def environ(self, service: str) -> dict[str, str]:
        pid = json.loads(self.state.read_text())["pids"][service]
        raw = Path(f"/proc/{pid}/environ").read_bytes().split(b"\0")
        return dict(item.decode().split("=", 1) for item in raw if b"=" in item)


@pytest.fixture
def up(tmp_path: Path) -> Iterator[Up]:
    u = Up(tmp_path)
    yield u
    if u.state.exists():
        u("down")


@pytest.mark.parametrize(
    ("env", "args", "line"),
    [
        ({"NX_LOG_LEVEL": "LOUD"}, (), "NX_LOG_LEVEL='LOUD': must be one of DEBUG, INFO, WARNING"),
        ({"NX_MAX_DELIVERIES": "abc"}, (), "NX_MAX_DELIVERIES='abc': Input should be a valid integer"),
        ({"NX_REDIS_URL": "http://x:pw@h"}, (), "NX_REDIS_URL=<redacted>: must start with redis://"),
        ({}, ("--env", "nope"), "NX_ENVIRONMENT='nope': not in"),
        ({}, ("-s", "nope"), "no service nope in dev (services: router, "),
    ],
)
def test_a_bad_setting_stops_up_before_anything_starts(
    up: Up, env: dict[str, str], args: tuple[str, ...], line: str
) -> None:
    out = up("up", *args, **env)
    assert out.returncode == 2, out.stdout + out.stderr
    errors = [ln for ln in out.stdout.splitlines() if ln.startswith("nexusctl up:")]
    assert len(errors) == 1 and line in errors[0], out.stdout
    assert not up.state.exists() and not (up.data / "logs").exists()


def test_every_failed_service_is_named_with_its_first_error_line(up: Up, tmp_path: Path) -> None:
    cfg = edited_config(tmp_path, "venues.yaml", {"environments.sim.nt8.symbols": ["NQ", "FOO"]})
    out = up(
        "up", "--env", "sim", "-s", "router", "-s", "normalizer", "-s", "fills", "-s", "venue-nt8",
        NX_CONFIG_DIR=str(cfg),
    )  # fmt: skip
    assert out.returncode == 2, out.stdout + out.stderr
    lines = {ln.split()[0]: ln for ln in out.stdout.splitlines() if ln.split()}
    for failed in ("router", "normalizer"):  # NX_CONFIG_DIR reached them; both named, not only the first
        assert "failed: exited 2: " in lines[failed], out.stdout
        assert (
            f"{failed}: configuration error: {cfg}/venues.yaml: environments.sim.nt8.symbols: "
            "unknown root 'FOO'" in lines[failed]
        )
    assert lines["fills"].endswith(" up") and lines["venue-nt8"].endswith(" up"), out.stdout
    assert "2 of 4 services failed: router, normalizer" in out.stdout
    assert not up.state.exists()  # what did start is stopped again


def test_the_operator_s_nx_variables_reach_every_service(up: Up) -> None:
    out = up(
        "up", "--env", "sim", "-s", "fills", "-s", "venue-nt8",
        NX_MAX_DELIVERIES="7", NX_LOG_LEVEL="debug", NX_VENUE="nope",
    )  # fmt: skip
    assert out.returncode == 0, out.stdout + out.stderr
    assert "from your environment, to every service: " in out.stdout and "NX_MAX_DELIVERIES" in out.stdout
    assert "not passed (set per service by the compose files): NX_VENUE" in out.stdout
    for service in ("fills", "venue-nt8"):
        env = up.environ(service)
        assert env["NX_MAX_DELIVERIES"] == "7" and env["NX_LOG_LEVEL"] == "debug", service
        assert env["NX_CONFIG_DIR"] == str(REPO_ROOT / "deploy" / "config")
    assert up.environ("venue-nt8")["NX_VENUE"] == "nt8"
    assert " DEBUG " in (up.data / "logs" / "fills.log").read_text()


def test_a_service_without_a_heartbeat_in_time_is_named_and_everything_stops(up: Up) -> None:
    out = up("up", "-s", "fills", "--timeout", "0.1")  # no Python service heartbeats within 0.1 s
    assert out.returncode == 1, out.stdout + out.stderr
    assert "failed: no heartbeat after 0.1s: " in out.stdout and "1 of 1 services failed: fills" in out.stdout
    assert not up.state.exists()
