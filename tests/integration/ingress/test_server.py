"""The ingress process: TLS from settings, a bad setting or missing tokens stop it at start with one
line naming the cause, it heartbeats like every service, and SIGTERM ends it cleanly (exit 0)."""

from __future__ import annotations

import ssl
import subprocess
import time
from pathlib import Path

import httpx
import pytest
import redis

from nexus_protocol import Names
from nexus_testing import Services, wait_for
from nexus_testing.ingress import bridge_alive, start_ingress

needs_openssl = pytest.mark.tool("openssl")
ALERT = {"ticker": "NQ1!", "action": "sell", "contracts": 1}


def self_signed(folder: Path) -> tuple[Path, Path]:
    cert, key = folder / "ingress.crt", folder / "ingress.key"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
         "-keyout", str(key), "-out", str(cert), "-days", "2", "-subj", "/CN=localhost",
         "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost"],
        check=True, capture_output=True, timeout=60,
    )  # fmt: skip
    return cert, key


@needs_openssl
def test_tls_from_settings(services: Services, client: redis.Redis, names: Names, tmp_path: Path) -> None:
    cert, key = self_signed(tmp_path)
    bridge_alive(client, names)
    ing = start_ingress(
        services,
        cafile=str(cert),
        NX_INGRESS_TLS_CERT_FILE=str(cert),
        NX_INGRESS_TLS_KEY_FILE=str(key),
    )
    assert ing.url.startswith("https://")
    verify = ssl.create_default_context(cafile=str(cert))
    r = httpx.post(
        f"{ing.url}/webhooks/tradingview", json=ALERT, headers=ing.auth("tradingview"), verify=verify
    )
    assert r.status_code == 202, r.text
    with pytest.raises(httpx.TransportError):  # plain HTTP is not served on the TLS port
        httpx.get(ing.url.replace("https://", "http://") + "/health", timeout=5)


@pytest.mark.parametrize(
    ("env", "says"),
    [
        ({"NX_INGRESS_HOST": "0.0.0.0"}, "NX_INGRESS_HOST=0.0.0.0: listening beyond loopback needs TLS"),
        ({"NX_INGRESS_TLS_CERT_FILE": "/nonexistent.pem"}, "go together"),
        ({"NX_INGRESS_TOKENS": "tv=short"}, "NX_INGRESS_TOKENS entry 1 (tv): the token is shorter"),
        ({"NX_INGRESS_TOKENS": ""}, "no source tokens"),
        ({"NX_INGRESS_PORT": "http"}, "NX_INGRESS_PORT='http'"),
    ],
)
def test_a_bad_setting_stops_it_at_start_naming_it(
    services: Services, env: dict[str, str], says: str
) -> None:
    proc = services.start("nexus_ingress", name="bad", **env)
    assert proc.proc is not None
    assert proc.proc.wait(60) == 2
    lines = [ln for ln in proc.log().splitlines() if ln.strip()]
    assert any(says in ln for ln in lines), lines


def test_it_heartbeats_and_stops_cleanly(services: Services, client: redis.Redis, names: Names) -> None:
    bridge_alive(client, names)
    ing = start_ingress(services)
    wait_for(lambda: client.exists(names.health("ingress", "ingress")), what="the heartbeat")
    r = httpx.post(f"{ing.url}/webhooks/tradingview", json=ALERT, headers=ing.auth("tradingview"))
    assert r.status_code == 202
    started = time.monotonic()
    assert ing.proc.terminate() == 0
    assert time.monotonic() - started < 15
    assert "stopped: <IngressService" in ing.proc.log()
    assert not client.exists(names.health("ingress", "ingress"))
    for token in ing.tokens.values():
        assert token not in ing.proc.log()
