"""Compose files are validated with `docker-compose config` (Debian's docker-compose, no engine needed)."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[3]
COMPOSE = shutil.which("docker-compose")
needs_compose = pytest.mark.skipif(
    COMPOSE is None, reason="docker-compose is not installed (.ci/run installs it)"
)


def config(*files: Path) -> dict[str, object]:
    args = [COMPOSE or "docker-compose"]
    for f in files:
        args += ["-f", str(f)]
    out = subprocess.run([*args, "config"], cwd=ROOT, capture_output=True, text=True, timeout=60, check=False)
    assert out.returncode == 0, out.stderr
    return yaml.safe_load(out.stdout)  # type: ignore[no-any-return]


@needs_compose
def test_root_compose_is_valid_and_redis_keeps_its_data() -> None:
    cfg = config(ROOT / "docker-compose.yml")
    redis = cfg["services"]["redis"]  # type: ignore[index]
    assert redis["healthcheck"]["test"][-1] == "ping"
    assert any("redis.conf" in str(v) for v in redis["volumes"])
    conf = (ROOT / "deploy" / "redis" / "redis.conf").read_text()
    assert "appendonly yes" in conf
    assert "maxmemory-policy noeviction" in conf
