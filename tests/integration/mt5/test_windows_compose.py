"""deploy/windows: the compose file for the MT5 adapters on the Windows host is valid
(`docker-compose config`, Debian's docker-compose v1, no engine needed), runs one adapter per terminal
with its own account from its own env file, and no secret file is under version control."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml
from mt5_helpers import REPO

from nexus_mt5.config import Mt5Settings

WINDOWS = REPO / "deploy" / "windows"
COMPOSE = shutil.which("docker-compose")
needs_compose = pytest.mark.tool("docker-compose")


def config(directory: Path, **env: str) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("NX_")}
    return subprocess.run(
        [COMPOSE or "docker-compose", "-f", str(directory / "docker-compose.windows.yml"), "config"],
        check=False,
        cwd=directory,
        capture_output=True,
        text=True,
        timeout=60,
        env={**clean, **env},
    )


@pytest.fixture
def host_dir(tmp_path: Path) -> Path:
    """deploy/windows as an operator prepares it on the host: env files from the examples, certificates."""
    d = tmp_path / "windows"
    shutil.copytree(WINDOWS, d)
    for example in d.glob("*.env.example"):
        shutil.copy(example, d / example.name.removesuffix(".example"))
    (d / "certs" / "redis").mkdir(parents=True)
    for name in (
        "ca.pem",
        "adapter.pem",
        "adapter.key",
        "redis/ca.crt",
        *(f"redis/adapter-mt5-{v}.{ext}" for v in ("global", "brazil") for ext in ("crt", "key")),
    ):
        (d / "certs" / name).write_text("placeholder\n")
    return d


@needs_compose
def test_one_adapter_per_terminal_with_its_own_account(host_dir: Path) -> None:
    out = config(host_dir)
    assert out.returncode == 0, out.stderr
    services = yaml.safe_load(out.stdout)["services"]
    assert set(services) == {"mt5-global", "mt5-brazil"}
    envs = {name: svc["environment"] for name, svc in services.items()}
    assert {e["NX_VENUE"] for e in envs.values()} == {"mt5-global", "mt5-brazil"}
    assert {e["NX_MT5_PORT"] for e in envs.values()} == {"18812", "18813"}  # one bridge per terminal
    assert envs["mt5-brazil"]["NX_MT5_FILLING"] == "return"
    assert envs["mt5-global"]["NX_MT5_LOGIN"] != envs["mt5-brazil"]["NX_MT5_LOGIN"]  # from each env file
    assert envs["mt5-global"]["NX_MT5_MAGIC"] != envs["mt5-brazil"]["NX_MT5_MAGIC"]
    for name, svc in services.items():
        assert svc["command"] == ["python", "-m", "nexus_mt5"]
        # its own Redis ACL user over mutual TLS, with its own client certificate
        url = envs[name]["NX_REDIS_URL"]
        assert url.startswith(f"rediss://adapter-{name}:") and f"redis_{name.replace('-', '_')}_crt" in url
        assert {s["source"] if isinstance(s, dict) else s for s in svc["secrets"]} >= {
            f"redis_{name.replace('-', '_')}_crt",
            "redis_ca",
            "mt5_bridge_ca",
        }
        assert envs[name]["NX_MT5_SSL_CA"].startswith("/run/secrets/")
        # the settings each container will load are valid (the bridge is off loopback: SSL is required)
        settings = Mt5Settings(**{k[3:].lower(): v for k, v in envs[name].items() if k.startswith("NX_")})
        assert settings.mt5_ssl_ca is not None and settings.password == "change-me"


@needs_compose
def test_the_env_files_are_required(host_dir: Path) -> None:
    (host_dir / "mt5-brazil.env").unlink()
    out = config(host_dir)
    assert out.returncode != 0 and "mt5-brazil.env" in out.stderr


def test_no_secret_is_under_version_control() -> None:
    tracked = subprocess.run(
        ["git", "ls-files", "deploy/windows"], cwd=REPO, capture_output=True, text=True, check=True
    ).stdout.split()
    assert not [f for f in tracked if f.endswith((".env", ".pem", ".key"))]
    for example in WINDOWS.glob("*.env.example"):
        values = dict(
            line.split("=", 1)
            for line in example.read_text().splitlines()
            if "=" in line and not line.startswith("#")
        )
        assert values["NX_MT5_PASSWORD"] == "change-me"
        assert ":change-me@" in values["NX_REDIS_URL"]
    ignored = (WINDOWS / ".gitignore").read_text()
    assert "*.env" in ignored and "certs/" in ignored
