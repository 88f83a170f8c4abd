"""The secure overlay and the monitoring overlay in containers, together on the dev venues: Redis with
one ACL user per service and its TLS port, the signal engine's client over TLS with its own user and
certificate, the same flow as in dev; an adapter service scaled to two instances serves one account
each (NX_VENUE_POOL) as its own ACL user (`nexusctl acl render --pool`); Prometheus (Debian's, built
here) scrapes every service and loads the alert rules. Not here: the archive's PostgreSQL container and
Alertmanager, Grafana and redis_exporter (no image without a registry): the recorder writes to this
machine's PostgreSQL."""

from __future__ import annotations

import json
import subprocess
import urllib.request
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import docker
import pytest
import redis
import yaml
from flow import check_exactly_once, finals, links_up, send, wait_finished
from pool import POOL, pool_two_adapters
from stack import DEV, Stack

from nexus_bridge import NexusGatewayInterface
from nexus_mesh.adapter.claim import lease_key
from nexus_ops import acl
from nexus_protocol import Names
from nexus_testing import wait_for
from nexus_testing.archive import create_database, drop_database, pg_available

pytestmark = [pytest.mark.docker, pytest.mark.slow, pytest.mark.timeout(1500)]
ROOT = Path(__file__).resolve().parents[2]
NAMES = Names("nx")
VENUES = acl.all_venues(ROOT / "deploy" / "config")
PASSWORDS = {u.name: f"pw-{u.name}-{uuid.uuid4().hex[:8]}" for u in acl.mesh_users(NAMES, VENUES)}
PASSWORDS[POOL] = f"pw-{POOL}-{uuid.uuid4().hex[:8]}"
NOT_HERE = ("postgres", "alertmanager", "grafana", "redis-exporter")


def write_acl(folder: Path, pooled: list[str]) -> None:
    """The live ACL file, with the pool's user (as `nexusctl acl render --pool` renders it)."""
    users = acl.mesh_users(NAMES, VENUES, pools={POOL: pooled})
    (folder / "users.acl").write_text(acl.render(users, PASSWORDS) + "user admin on >admin-pw ~* &* +@all\n")
    (folder / "users.acl").chmod(0o644)


def secrets(folder: Path) -> dict[str, str]:
    """The ingress's token and certificate, and where compose finds them and the ACL file (write_acl)."""
    ingress = folder / "ingress"
    make_certs(ingress, "DNS:ingress,IP:127.0.0.1")
    (ingress / "tls.crt").write_bytes((ingress / "redis.crt").read_bytes())
    (ingress / "tls.key").write_bytes((ingress / "redis.key").read_bytes())
    (ingress / "tokens").write_text(f"local={uuid.uuid4().hex}\n")
    return {
        **{acl.env_var(name): pw for name, pw in PASSWORDS.items()},
        "NX_REDIS_ACL_FILE": str(folder / "users.acl"),
        "NX_REDIS_TLS_DIR": str(folder / "tls"),
        "NX_INGRESS_SECRETS_DIR": str(ingress),
        "NX_ARCHIVE_DB_PASSWORD": "unused",
        "NX_GRAFANA_ADMIN_PASSWORD": "unused",
    }


def make_certs(folder: Path, sans: str, *clients: str) -> None:
    """deploy/redis/make-certs.sh, keys readable by the containers' users (redis, uid 10001): a test's."""
    script = ROOT / "deploy" / "redis" / "make-certs.sh"
    subprocess.run([str(script), str(folder), sans, *clients], check=True, capture_output=True, timeout=120)
    folder.chmod(0o755)
    for path in folder.iterdir():
        path.chmod(0o644)


def on_this_machine(archive_url: str, pooled: list[str]) -> Callable[[dict[str, Any]], None]:
    """What this machine runs of the files, and two of dev's adapters as one pool (`pooled` gets its
    venues), connecting as its own user."""

    def adjust(config: dict[str, Any]) -> None:
        before = set(config["services"])
        pooled[:] = pool_two_adapters(config, ROOT, f"redis://{POOL}:{PASSWORDS[POOL]}@redis:6379/0")
        gone = before - set(config["services"])
        for name in NOT_HERE:
            config["services"].pop(name, None)
        for svc in config["services"].values():
            if isinstance(svc.get("depends_on"), dict):
                svc["depends_on"] = {k: v for k, v in svc["depends_on"].items() if k not in NOT_HERE}
            env = svc.get("environment") or {}
            if "NX_VENUE" in env and "@" not in env.get("NX_REDIS_URL", ""):  # dev's venues: their own users
                user = f"adapter-{env['NX_VENUE']}"
                env["NX_REDIS_URL"] = f"redis://{user}:{PASSWORDS[user]}@redis:6379/0"
        config["services"]["recorder"]["environment"]["NX_ARCHIVE_URL"] = archive_url
        # what Prometheus would reach of them stays on loopback (refused) instead of a DNS lookup
        prometheus = config["services"]["prometheus"]
        prometheus["extra_hosts"] = {
            **prometheus.get("extra_hosts", {}),
            **dict.fromkeys([*NOT_HERE, *gone], "127.0.0.1"),
        }

    return adjust


@pytest.fixture(scope="module")
def archive_url() -> Iterator[str]:
    why = pg_available()
    if why is not None:
        pytest.fail(why)
    name = f"nxcontainers_{uuid.uuid4().hex[:10]}"
    yield create_database(name).replace("postgresql+psycopg://", "postgresql://")
    drop_database(name)


@pytest.fixture(scope="module")
def pooled() -> list[str]:
    """The venues of the secure stack's adapter pool (its adjust fills this in)."""
    return []


@pytest.fixture(scope="module")
def secure(
    make_stack: Callable[..., Stack],
    docker_client: docker.DockerClient,
    tmp_path_factory: pytest.TempPathFactory,
    archive_url: str,
    pooled: list[str],
) -> Stack:
    files = (DEV[0], "deploy/compose.secure.yml", DEV[1], "deploy/compose.monitoring.yml")
    folder = tmp_path_factory.mktemp("secrets")
    adjust = on_this_machine(archive_url, pooled)
    stack = make_stack(*files, adjust=adjust, replicated=(POOL,), **secrets(folder))
    write_acl(folder, pooled)
    make_certs(folder / "tls", f"DNS:redis,IP:{stack.addresses['redis']}", "nexus-client")
    stack.up("--scale", f"{POOL}=2")
    stack.wait_healthy(docker_client)
    return stack


def tls_url(stack: Stack, user: str) -> str:
    tls = Path(stack.env["NX_REDIS_TLS_DIR"])
    return (
        f"rediss://{user}:{PASSWORDS[user]}@{stack.addresses['redis']}:6380/0?ssl_ca_certs={tls / 'ca.crt'}"
        f"&ssl_certfile={tls / f'{user}.crt'}&ssl_keyfile={tls / f'{user}.key'}"
    )


def test_the_signal_engines_client_over_tls_with_its_own_user_gets_final_executions(secure: Stack) -> None:
    admin = redis.Redis.from_url(secure.url("admin", "admin-pw"))
    links_up(admin, NAMES, acl.all_venues(ROOT / "deploy" / "config", "dev"))
    admin.close()
    gw = NexusGatewayInterface(tls_url(secure, "nexus-client"), namespace="nx", symbols=["NQ"])
    got: dict[str, dict[str, Any]] = {}
    gw.set_execution_callback(lambda ex: got.__setitem__(ex["signal_id"], ex) if ex["final"] else None)
    gw.connect(timeout_s=20)
    gw.start_listening()
    try:
        sid = gw.send_signal("NQ", "BUY", 0.9, 1)
        wait_for(lambda: sid in got, timeout_s=60, what="the final execution at the client")
    finally:
        gw.stop()
    assert got[sid]["status"] == "filled", got[sid]
    plain = redis.Redis.from_url(f"redis://{secure.addresses['redis']}:6379/0")
    with pytest.raises(redis.ResponseError, match=r"NOPERM|NOAUTH|no permissions"):
        plain.xlen(NAMES.executions)  # the default user may only ping
    plain.close()


def test_the_same_flow_with_every_service_as_its_own_user(secure: Stack) -> None:
    admin = redis.Redis.from_url(secure.url("admin", "admin-pw"))
    links_up(admin, NAMES, acl.all_venues(ROOT / "deploy" / "config", "dev"))
    sids = send(admin, NAMES, 6)
    wait_finished(admin, NAMES, sids)
    check_exactly_once(admin, NAMES, sids)
    clients = {c["user"] for c in admin.client_list()}
    assert {"router", "normalizer", "fx", "rollover", "fills", "recorder", "nexus-bridge"} <= clients
    admin.close()


def test_an_adapter_service_scaled_to_one_account_per_instance_as_its_own_user(
    secure: Stack, pooled: list[str], docker_client: docker.DockerClient
) -> None:
    admin = redis.Redis.from_url(secure.url("admin", "admin-pw"))
    instances = {c.id[:12] for c in secure.containers(docker_client, POOL)}
    assert len(instances) == 2
    owners = {v: wait_for(lambda v=v: admin.get(lease_key(NAMES, v)), what=f"{v} claimed") for v in pooled}
    assert {o.decode().split("-")[0] for o in owners.values()} == instances  # one venue each
    links_up(admin, NAMES, acl.all_venues(ROOT / "deploy" / "config", "dev"))
    sids = send(admin, NAMES, 6)
    wait_finished(admin, NAMES, sids, timeout_s=120)
    check_exactly_once(admin, NAMES, sids)
    done = finals(admin, NAMES)
    assert set(pooled) <= {leg.venue for s in sids for leg in done[s][0].legs}
    assert POOL in {c["user"] for c in admin.client_list()}
    assert not [e for e in admin.acl_log() if e.get("username") == POOL], admin.acl_log()
    admin.close()


def test_prometheus_scrapes_every_service_and_loads_the_alert_rules(secure: Stack, pooled: list[str]) -> None:
    base = f"http://{secure.addresses['prometheus']}:9090/api/v1"
    want = {
        t["labels"]["service"]
        for t in yaml.safe_load((ROOT / "deploy/prometheus/targets/dev/mesh.yml").read_text())
    } - {f"adapter-{v}" for v in pooled}  # the pool's replicas serve /metrics on ports of their own

    def up() -> set[str] | None:
        targets = _get(f"{base}/targets")["activeTargets"]
        scraped = {
            t["labels"]["service"]
            for t in targets
            if t["labels"].get("job") == "nexus-mesh" and t["health"] == "up"
        }
        return scraped if want <= scraped else None

    wait_for(up, timeout_s=90, what=f"Prometheus scraping {sorted(want)}")
    groups = _get(f"{base}/rules")["groups"]
    alerts = [r for g in groups for r in g["rules"] if r["type"] == "alerting"]
    assert alerts and all(r["health"] == "ok" for r in alerts), [
        r["name"] for r in alerts if r["health"] != "ok"
    ]


def _get(url: str) -> Any:
    with urllib.request.urlopen(url, timeout=5) as resp:
        return json.load(resp)["data"]
