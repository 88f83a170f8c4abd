"""Redis ACL users and TLS: each service, run for real as its own ACL user, does its job, and no user
reaches outside its keys and commands.

A redis-server gets the ACL file `nexusctl acl render` writes (test passwords, plus an `admin` user the
test alone uses to read ACL LOG and ask ACL DRYRUN) and deploy/redis/tls.conf with certificates from
deploy/redis/make-certs.sh. The gateway services run as `router`, `normalizer`, ... over the plain
port; the venue adapter runs as a remote one would, over TLS with a client certificate; NEXUS's
signals go in as `nexus-bridge`; nexusctl runs as `ops`. After the flow, ACL LOG must hold no denial.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import redis
from prometheus_client.parser import text_string_to_metric_families

from nexus_mesh.embedded import RedisServer, free_port
from nexus_ops import acl
from nexus_protocol import Envelope, Execution, Names, Side, Signal, decode
from nexus_protocol.codec import encode
from nexus_protocol.ids import new_signal_id
from nexus_testing import REPO_ROOT, Services, secured_redis, wait_for
from nexus_testing.ingress import start_ingress

CORE = ("router", "normalizer", "fx", "rollover", "fills", "recorder")  # nexus_gateway.<name>, user <name>
needs_openssl = pytest.mark.tool("openssl")


def scrape(port: int) -> dict[str, float]:
    """A service's /metrics as {'name{labels sorted}': value}."""
    text = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5).read().decode()
    out = {}
    for fam in text_string_to_metric_families(text):
        for sample in fam.samples:
            labels = ",".join(f'{k}="{v}"' for k, v in sorted(sample.labels.items()))
            out[sample.name + (f"{{{labels}}}" if labels else "")] = sample.value
    return out


def pw(user: str) -> str:
    return f"test-{user}-pw"


class Acl:
    def __init__(self, server: RedisServer, tls_port: int, certs: Path, names: Names) -> None:
        self.server, self.tls_port, self.certs, self.names = server, tls_port, certs, names
        self.admin = redis.Redis(port=server.port, username="admin", password="admin-pw")

    def url(self, user: str) -> str:
        return f"redis://{user}:{pw(user)}@127.0.0.1:{self.server.port}/0"

    def tls_url(self, user: str, *, client_cert: bool = True) -> str:
        q = f"ssl_ca_certs={self.certs}/ca.crt"
        if client_cert:
            q += f"&ssl_certfile={self.certs}/{user}.crt&ssl_keyfile={self.certs}/{user}.key"
        return f"rediss://{user}:{pw(user)}@127.0.0.1:{self.tls_port}/0?{q}"

    def may(self, user: str, *command: str) -> bool:
        """ACL DRYRUN: would `user` be allowed to run this command (keys included)?"""
        try:
            reply = self.admin.execute_command("ACL", "DRYRUN", user, *command)
        except redis.ResponseError as exc:
            raise AssertionError(f"ACL DRYRUN {user} {command}: {exc}") from None
        return reply in (b"OK", "OK")


@pytest.fixture
def secured(tmp_path: Path, names: Names) -> Iterator[Acl]:
    server, tls_port, certs = secured_redis(tmp_path, names, pw, ["adapter-sim"])
    try:
        yield Acl(server, tls_port, certs, names)
    finally:
        server.stop()


def start_mesh(secured: Acl, svc: Services) -> dict[str, int]:
    """The gateway services, each as its own user; the venue as a remote adapter would (TLS, client
    certificate); the NEXUS bridge. Returns their metrics ports."""
    ports = {name: free_port() for name in (*CORE, "venue-sim")}
    for name in CORE:
        svc.start(
            f"nexus_gateway.{name}",
            name=name,
            NX_REDIS_URL=secured.url(name),
            NX_ENVIRONMENT="single",
            NX_METRICS_PORT=str(ports[name]),
        )
    svc.start(
        "nexus_gateway.sim_venue",
        name="venue-sim",
        NX_VENUE="sim",
        NX_ENVIRONMENT="single",
        NX_REDIS_URL=secured.tls_url("adapter-sim"),
        NX_METRICS_PORT=str(ports["venue-sim"]),
    )
    svc.start(
        "nexus_bridge", name="nexus-bridge", NX_REDIS_URL=secured.url("nexus-bridge"), NX_ENVIRONMENT="single"
    )
    names = secured.names
    wait_for(lambda: secured.admin.get(names.control("bridge")), timeout_s=60, what="the bridge's status key")
    wait_for(
        lambda: secured.admin.exists(names.control("venue", "sim")), timeout_s=60, what="the venue over TLS"
    )
    wait_for(lambda: secured.admin.hlen(names.contracts), timeout_s=60, what="rollover's contracts")
    return ports


def send_and_wait(secured: Acl, nexus: redis.Redis, symbols: tuple[str, ...]) -> dict[str, Execution]:
    """Signals into bridge:intake as nexus_bridge.client sends them; their final executions."""
    names, sids = secured.names, []
    for symbol in symbols:
        sid = new_signal_id()
        sig = Signal(
            signal_id=sid,
            symbol=symbol,
            side=Side.BUY,
            quantity=1.0,
            strategy="acl",
            confidence=0.9,
            mqscore=0.9,
            noise=0.1,
        )
        nexus.xadd(names.stream("bridge:intake"), encode(Envelope.new(sig, id=sid)))  # type: ignore[arg-type]
        sids.append(sid)
    seen: dict[str, object] = {}

    def finals() -> dict[str, Execution]:
        execs = [decode(f).body for _i, f in nexus.xrange(names.executions) or []]
        seen.update(
            executions=execs,
            signals=secured.admin.xlen(names.signals),
            events=[decode(f).body for _i, f in secured.admin.xrange(names.events) or []],
            acl_log=secured.admin.execute_command("ACL", "LOG"),
        )
        out = {e.signal_id: e for e in execs if isinstance(e, Execution) and e.final}
        return out if set(sids) <= set(out) else {}

    try:
        done: dict[str, Execution] = wait_for(finals, timeout_s=60, interval_s=0.2, what="final executions")
    except BaseException:
        print("state when the wait ended:", seen)
        raise
    return {s: done[s] for s in sids}


def nexusctl_as_ops(secured: Acl, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("NX_")}
    env.update(NX_REDIS_URL=secured.url("ops"), NX_NAMESPACE=secured.names.namespace, NX_ENVIRONMENT="single")
    return subprocess.run(
        [str(Path(sys.executable).parent / "nexusctl"), *args],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


@needs_openssl
def test_each_service_does_its_job_as_its_own_user_and_nothing_is_denied(
    secured: Acl, names: Names, tmp_path: Path
) -> None:
    svc = Services(secured.url("ops"), names.namespace, tmp_path)  # each service gets its own URL
    try:
        ports = start_mesh(secured, svc)
        nexus = redis.Redis.from_url(secured.url("nexus-client"))  # the NEXUS AI process
        done = send_and_wait(secured, nexus, ("NQ", "ES", "MES"))
        assert all(ex.status.value == "filled" for ex in done.values()), done
        ingress = start_ingress(svc, NX_REDIS_URL=secured.url("ingress"), NX_ENVIRONMENT="single")
        alert = {"ticker": "NQ1!", "action": "sell", "contracts": 1, "idempotency_key": "acl-1"}
        sent = httpx.post(
            f"{ingress.url}/webhooks/tradingview", json=alert, headers=ingress.auth("tradingview")
        )
        assert sent.status_code == 202, sent.text
        view = wait_for(
            lambda: (v := httpx.get(ingress.url + sent.json()["links"]["self"],
                                    headers=ingress.auth("tradingview")).json())["final"] and v,
            timeout_s=60, what="the ingress's signal to execute",
        )  # fmt: skip
        assert view["status"] == "filled", view
        for args in (
            ("status", "--json", "--env", "single"),
            ("positions", "--json"),
            ("killswitch", "on"),
            ("killswitch", "off"),
        ):
            out = nexusctl_as_ops(secured, *args)
            assert out.returncode == 0, (args, out.stdout, out.stderr)
        assert json.loads(nexusctl_as_ops(secured, "status", "--json", "--env", "single").stdout)["healthy"]
        denied = secured.admin.execute_command("ACL", "LOG")
        assert denied == [], denied
        # the alerting metrics (deploy/prometheus/rules): observed where they happen
        fills = scrape(ports["fills"])
        assert fills["nx_end_to_end_seconds_count"] >= 3, fills
        assert fills['nx_executions_final_total{status="filled"}'] >= 3
        assert fills['nx_legs_final_total{status="filled",venue="sim"}'] >= 3
        router = scrape(ports["router"])
        assert router["nx_daily_loss_limit_usd"] == 1000.0 and "nx_daily_pnl_usd" in router
        assert scrape(ports["venue-sim"])['nx_venue_connected{venue="sim"}'] == 1.0
        assert scrape(ports["normalizer"])['nx_redis_up{service="normalizer"}'] == 1.0
        wait_for(  # the archive, written as its own user
            lambda: scrape(ports["recorder"]).get('nx_archive_entries_total{stream="executions"}', 0) >= 3,
            what="the executions archived",
        )
        assert scrape(ports["recorder"])["nx_archive_up"] == 1.0
        for proc in svc.started:  # logs show who connected where, never a password
            leaked = [u for u in (*CORE, "adapter-sim", "nexus-bridge", "ingress") if pw(u) in proc.log()]
            assert not leaked, proc.name
    finally:
        svc.stop_all()
        if any(p.proc and p.proc.returncode not in (0, None) for p in svc.started):
            print(svc.logs())


ADAPTERS = [
    f"adapter-{v}" for v in ("sim", "nt8", "sierra", "quantower", "mt5-global", "mt5-brazil", "bookmap")
]
WRITERS = {  # stream -> users that may append to it (producers, and the consumer group, which needs write)
    "bridge:intake": {"nexus-client", "nexus-bridge", "ingress"},
    "signals": {"router", "rollover", "nexus-bridge", "recorder"},
    "orders:routed": {"router", "normalizer", "recorder"},
    "orders:sim": {"normalizer", "adapter-sim", "recorder"},
    "fills:raw": {"normalizer", "recorder", *ADAPTERS},
    "fills:normalized": {"normalizer", "fx", "recorder"},
    # adapters: the route of the kill switch's closing orders (nexus_mesh.adapter.flatten)
    "fills": {"router", "fx", "fills", "recorder", *ADAPTERS},
    "executions": {"fills", "router", "nexus-bridge", "recorder", "ingress"},
}
HASH_WRITERS = {  # (owner, key) -> users that may HSET it
    ("state", "router", "exposure"): {"router"},
    ("state", "fills", "positions"): {"fills"},
    ("state", "fx", "held"): {"fx"},
    ("state", "md", "last"): {"normalizer"},
    ("state", "bridge", "working"): {"nexus-bridge"},
    ("state", "adapter-sim", "intents"): {"adapter-sim"},
}


def test_no_user_writes_outside_its_keys(secured: Acl, names: Names) -> None:
    users = [u.name for u in acl.mesh_users(names, acl.all_venues(REPO_ROOT / "deploy" / "config"))]
    for stream, allowed in WRITERS.items():
        for user in users:
            assert secured.may(user, "XADD", names.stream(stream), "*", "f", "v") is (user in allowed), (
                user,
                stream,
            )
    for (_kind, owner, what), allowed in HASH_WRITERS.items():
        for user in users:
            key = names.state(owner, what)
            assert secured.may(user, "HSET", key, "f", "v") is (user in allowed), (user, key)
    for user in users:
        may_switch = user in ("ops", "nexus-bridge")  # the bridge's daily-loss breaker switches it on
        assert secured.may(user, "SET", names.killswitch, "x") is may_switch, user
        assert secured.may(user, "HSET", names.contracts, "NQ", "NQZ99") is (user == "rollover"), user
        for dangerous in (
            ("FLUSHALL",),
            ("KEYS", "*"),
            ("CONFIG", "SET", "appendonly", "no"),
            ("EVAL", "return 1", "0"),
            ("DEBUG", "SLEEP", "0"),
            ("SHUTDOWN",),
            ("ACL", "LIST"),
            ("MONITOR",),
        ):
            assert not secured.may(user, *dangerous), (user, dangerous)
    other = Names("other")  # another namespace: nobody's but the sandbox owner's
    for user in users:
        assert not secured.may(user, "XADD", other.signals, "*", "f", "v"), user
    assert secured.may("ops", "XADD", Names("sbx-1").signals, "*", "f", "v")  # replay sandboxes
    assert secured.may("ops", "HGETALL", names.state("fills", "positions"))
    assert not secured.may("exporter", "GET", names.killswitch) and secured.may("exporter", "INFO")


@needs_openssl
def test_wrong_password_plain_text_and_tls_without_client_certificate_are_refused(
    secured: Acl, names: Names
) -> None:
    with pytest.raises(redis.AuthenticationError):
        redis.Redis(port=secured.server.port, username="router", password="wrong").ping()
    anonymous = redis.Redis(port=secured.server.port)
    assert anonymous.ping() is True  # health checks only
    with pytest.raises(redis.exceptions.NoPermissionError):
        anonymous.get(names.killswitch)
    with pytest.raises(redis.ConnectionError):
        redis.Redis.from_url(secured.tls_url("adapter-sim", client_cert=False)).ping()
    assert redis.Redis.from_url(secured.tls_url("adapter-sim")).ping() is True
    with pytest.raises(redis.exceptions.NoPermissionError):
        redis.Redis.from_url(secured.tls_url("adapter-sim")).xadd(names.signals, {"f": "v"})


def test_the_committed_template_matches_the_code_and_lets_no_one_in() -> None:
    out = subprocess.run(
        [str(Path(sys.executable).parent / "nexusctl"), "acl", "check"],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "NX_NAMESPACE": "nx"},
        check=False,
    )
    assert out.returncode == 0, out.stdout + out.stderr
    for line in (REPO_ROOT / "deploy" / "redis" / "users.acl").read_text().splitlines():
        if line.startswith("user ") and not line.startswith("user default "):
            assert " off " in line and "#" not in line and ">" not in line, line
