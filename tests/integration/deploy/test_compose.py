"""Compose files: every environment's file set is valid (`docker-compose config`, Debian's docker-compose
v1, no engine needed), runs the venues its stage lists, gives each service its own Redis ACL user, and
keeps secrets out; `nexusctl up` runs the same services as local processes."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from nexus_ops import acl, deploy
from nexus_ops.compose import load_services
from nexus_protocol.errors import ConfigError
from nexus_protocol.streams import Names

ROOT = Path(__file__).resolve().parents[3]
COMPOSE = shutil.which("docker-compose")
needs_compose = pytest.mark.tool("docker-compose")
ENVIRONMENTS = ("dev", "sim", "staging", "prod-stage1", "prod-stage2", "prod-stage3", "prod-stage4")
LOCAL = ("dev", "sim")  # one machine: Redis without ACL users
GATEWAY = ("router", "normalizer", "fx", "rollover", "fills", "recorder")
# what runs on the gateway (Linux) host per environment; the rest of venues.yaml runs on the Windows host
LINUX_VENUES = {
    "dev": {"nt8", "sierra", "quantower", "mt5-global", "mt5-brazil", "bookmap"},
    "sim": {"nt8", "sierra", "quantower", "mt5-global", "mt5-brazil", "bookmap"},
    "staging": {"sierra", "bookmap"},
    "prod-stage1": set(),
    "prod-stage2": set(),
    "prod-stage3": {"sierra"},
    "prod-stage4": {"sierra"},
}
USERS = acl.mesh_users(Names("nx"), acl.all_venues(ROOT / "deploy" / "config"))
SECRETS = {acl.env_var(u.name): f"pw-{u.name}" for u in USERS}
SETTINGS = {
    "NX_SIERRA_HOST": "sierra-win.example",
    "NX_SIERRA_TRADE_ACCOUNT": "ACC1",
    "NX_BOOKMAP_TOKEN": "tok",
    "NX_GRAFANA_ADMIN_PASSWORD": "g",
    "NX_ARCHIVE_DB_PASSWORD": "a",
}


def config(*files: Path, **env: str) -> dict[str, Any]:
    out = run_config(*files, **env)
    assert out.returncode == 0, out.stderr
    return yaml.safe_load(out.stdout)  # type: ignore[no-any-return]


def run_config(*files: Path, **env: str) -> subprocess.CompletedProcess[str]:
    args = [COMPOSE or "docker-compose", "--project-directory", str(ROOT)]
    for f in files:
        args += ["-f", str(f)]
    clean = {k: v for k, v in os.environ.items() if not k.startswith("NX_")}
    return subprocess.run(
        [*args, "config"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        env={**clean, **env},
        check=False,
    )


def python_services(cfg: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {n: s for n, s in cfg["services"].items() if (s.get("command") or [None])[0] == "python"}


def acl_user(svc: dict[str, Any]) -> str:
    env = svc["environment"]
    return str(env.get("NX_SERVICE") or f"adapter-{env['NX_VENUE']}")


def venues_of(environment: str) -> set[str]:
    return set(acl.all_venues(ROOT / "deploy" / "config", environment))


@needs_compose
def test_root_compose_is_valid_and_redis_keeps_its_data() -> None:
    cfg = config(ROOT / "docker-compose.yml")
    redis = cfg["services"]["redis"]
    assert redis["healthcheck"]["test"][-1] == "ping"
    assert any("redis.conf" in str(v) for v in redis["volumes"])
    conf = (ROOT / "deploy" / "redis" / "redis.conf").read_text()
    assert "appendonly yes" in conf
    assert "maxmemory-policy noeviction" in conf


@needs_compose
@pytest.mark.parametrize("environment", ENVIRONMENTS)
def test_each_environment_runs_its_venues_with_its_own_users(environment: str) -> None:
    files = deploy.files(ROOT, environment, monitoring=True)
    cfg = config(*files, NX_ENVIRONMENT=environment, **SECRETS, **SETTINGS)
    services = python_services(cfg)
    assert set(GATEWAY) | {"nexus-bridge", "ingress"} <= set(services)
    for name in GATEWAY:
        assert services[name]["environment"]["NX_ENVIRONMENT"] == environment, name
    linux = {s["environment"]["NX_VENUE"] for s in services.values() if "NX_VENUE" in s["environment"]}
    assert linux == LINUX_VENUES[environment]
    assert linux <= venues_of(environment)
    header = (ROOT / "deploy" / f"compose.{environment}.yml").read_text().split("\nservices:")[0]
    for venue in venues_of(environment) - linux:  # on the Windows host: the override says so
        assert venue in header, (environment, venue)
    built = {s["image"]: s["build"]["args"]["SERVICE"] for s in services.values() if "build" in s}
    for name, svc in services.items():
        env = svc["environment"]
        if svc.get("labels", {}).get("nexus.role") == "platform-simulator":
            assert name.startswith("sim-") and "NX_REDIS_URL" not in env, name  # a platform: no Redis
        else:
            assert env["NX_METRICS_PORT"] == "9100", name
        package = ROOT / "services" / built[svc["image"]]  # the image is built by one of the files' services
        module = svc["command"][2].split(".")[0]
        assert (package / "src" / module).is_dir(), (name, package, module)
        if environment not in LOCAL and "NX_REDIS_URL" in env:  # each service its own ACL user and password
            user = acl_user(svc)
            assert env["NX_REDIS_URL"] == f"redis://{user}:pw-{user}@redis:6379/0", (
                name,
                env["NX_REDIS_URL"],
            )
    # what `nexusctl up --env` runs locally is the same set
    local = load_services(ROOT, environment, {**SETTINGS, "PATH": os.environ.get("PATH", "")})
    assert {s.name for s in local} == set(services) - {"redis", "prometheus", "alertmanager", "grafana"}
    redis = cfg["services"]["redis"]
    if environment in LOCAL:
        assert "--aclfile" not in redis["command"]
    else:
        assert "--aclfile" in redis["command"] and "/usr/local/etc/redis/tls.conf" in redis["command"]
        assert {p["target"] for p in redis["ports"] if isinstance(p, dict)} == {6380}  # TLS is the way in
        assert any(str(v).startswith("127.0.0.1:") for v in redis["ports"] if isinstance(v, str))


@needs_compose
def test_a_missing_password_stops_compose_with_the_way_to_fix_it() -> None:
    missing = {k: v for k, v in SECRETS.items() if k != "NX_REDIS_PASSWORD_ROUTER"}
    out = run_config(*deploy.files(ROOT, "prod-stage1"), **missing, **SETTINGS)
    assert out.returncode != 0 and "nexusctl acl render" in out.stderr, out.stderr


def test_no_secret_is_written_in_a_compose_file() -> None:
    files = [ROOT / "docker-compose.yml", *(ROOT / "deploy").glob("compose.*.yml")]
    for f in files:
        for line in f.read_text().splitlines():
            m = re.match(
                r"\s*(NX_\w*(PASSWORD|TOKEN|SECRET)\w*|GF_SECURITY_ADMIN_PASSWORD|REDIS_PASSWORD):\s*(.*)",
                line,
            )
            if (
                m and not m[1].endswith("_FILE") and m[3].strip('"') not in ("true", "false")
            ):  # paths, switches
                assert m[3].startswith("${") or m[3].startswith('"${'), (f.name, line)
            assert not re.search(r"redis://\w[\w-]*:(?!\$\{)[^@\s]+@", line), (f.name, line)


def test_local_runs_need_the_same_settings_and_say_which() -> None:
    with pytest.raises(ConfigError, match="NX_SIERRA_HOST"):
        load_services(ROOT, "prod-stage3", {"PATH": "/usr/bin"})
    names = {s.name for s in load_services(ROOT, "prod-stage3", {**SETTINGS})}
    assert names == {*GATEWAY, "nexus-bridge", "ingress", "adapter-sierra"}


def test_nexusctl_compose_orders_the_files() -> None:
    out = subprocess.run(
        [
            str(Path(sys.executable).parent / "nexusctl"),
            "compose",
            "--env",
            "prod-stage2",
            "--monitoring",
            "--print",
            "--",
            "up",
            "-d",
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert out.returncode == 0, out.stderr
    files = re.findall(r"-f (\S+)", out.stdout)
    assert [Path(f).name for f in files] == [
        "docker-compose.yml",
        "compose.secure.yml",
        "compose.prod-stage2.yml",
        "compose.monitoring.yml",
    ]
    assert out.stdout.startswith("NX_ENVIRONMENT=prod-stage2 NX_REDIS_EXPORTER_USER=exporter docker compose")
    assert out.stdout.rstrip().endswith("up -d")
    dev = subprocess.run(
        [str(Path(sys.executable).parent / "nexusctl"), "compose", "--env", "dev", "--print", "--", "config"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert "compose.secure.yml" not in dev.stdout and "compose.dev.yml" in dev.stdout


def test_status_knows_what_should_run_without_the_deployments_secrets(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from nexus_ops import cliutil

    monkeypatch.chdir(ROOT)
    for var in ("NX_SIERRA_HOST", "NX_SIERRA_TRADE_ACCOUNT", "NX_BOOKMAP_TOKEN"):
        monkeypatch.delenv(var, raising=False)
    exp = cliutil.expected("staging")
    assert set(exp.services) == {*GATEWAY, "nexus-bridge", "ingress", "adapter-sierra", "adapter-bookmap"}
    assert set(exp.venues) == venues_of("staging")


def test_dev_pairs_each_platforms_real_adapter_with_its_simulator() -> None:
    services = {s.name: s for s in load_services(ROOT, "dev", {"PATH": "/usr/bin"})}
    adapters = {s.environment["NX_VENUE"]: s for s in services.values() if "NX_VENUE" in s.environment}
    assert set(adapters) == venues_of("dev")
    assert not [s for s in services.values() if s.module == "nexus_gateway.sim_venue"]  # that is `sim`'s
    for venue, adapter in adapters.items():
        sim = services[f"sim-{venue}"]
        assert sim.simulator and not adapter.simulator, venue
        assert sim.module == f"{adapter.module}.simulator", venue  # the adapter package's own simulator
        # they find each other by service name: the adapter dials the platform, or the platform dials it
        dials = sim.name in adapter.environment.values()
        dialled = any(adapter.name in value for value in sim.environment.values())
        assert dials or dialled, venue


def test_one_dev_adapter_against_a_real_platform_instead_of_its_simulator(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from nexus_ops.supervisor import Supervisor

    monkeypatch.setenv("NX_SIERRA_HOST", "192.168.7.20")  # as an operator sets them in the shell
    monkeypatch.setenv("NX_SIERRA_TRADE_ACCOUNT", "ACC1")
    sup = Supervisor(root=ROOT, environment="dev", data_dir=tmp_path, address="127.0.0.9",
                     without=frozenset({"sim-sierra"}))  # fmt: skip
    plan = {s.name: s for s in sup.plan()}
    assert "sim-sierra" not in plan and "sim-nt8" in plan
    sierra = plan["adapter-sierra"].environment
    assert (sierra["NX_SIERRA_HOST"], sierra["NX_SIERRA_TRADE_ACCOUNT"]) == ("192.168.7.20", "ACC1")
    assert plan["adapter-nt8"].environment["NX_NT8_HOST"] == "127.0.0.9"  # the others stay on the mesh's
    with pytest.raises(ConfigError, match="no service sim-sierre"):
        Supervisor(root=ROOT, environment="dev", data_dir=tmp_path, without=frozenset({"sim-sierre"})).plan()
