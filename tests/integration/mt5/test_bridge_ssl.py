"""The Windows-side bridge (deploy/windows/mt5_bridge.py) with SSL and client certificates, serving
the simulated terminal: the adapter gets in with its certificate, nobody gets in without one, and the
bridge refuses to listen off loopback without SSL."""

from __future__ import annotations

import shutil
import ssl
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis
import rpyc
from mt5_helpers import REPO, fills_of, final_fill, new_order, running, send, statuses

from nexus_mt5.adapter import Mt5Adapter
from nexus_mt5.config import Mt5Settings
from nexus_protocol import Names, OrderStatus

BRIDGE = REPO / "deploy" / "windows" / "mt5_bridge.py"
OPENSSL = shutil.which("openssl")
pytestmark = pytest.mark.tool("openssl")


def openssl(*args: str, cwd: Path) -> None:
    subprocess.run([OPENSSL or "openssl", *args], cwd=cwd, check=True, capture_output=True, timeout=60)


@pytest.fixture(scope="module")
def certs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A private CA, the bridge's certificate and the adapter's client certificate."""
    d = tmp_path_factory.mktemp("certs")
    openssl(
        "req",
        "-x509",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-keyout",
        "ca.key",
        "-out",
        "ca.pem",
        "-days",
        "1",
        "-subj",
        "/CN=nexus-test-ca",
        cwd=d,
    )
    for name in ("bridge", "adapter"):
        openssl(
            "req",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-keyout",
            f"{name}.key",
            "-out",
            f"{name}.csr",
            "-subj",
            f"/CN={name}",
            cwd=d,
        )
        openssl(
            "x509",
            "-req",
            "-in",
            f"{name}.csr",
            "-CA",
            "ca.pem",
            "-CAkey",
            "ca.key",
            "-CAcreateserial",
            "-out",
            f"{name}.pem",
            "-days",
            "1",
            cwd=d,
        )
    return d


def bridge(*args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, str(BRIDGE), "--simulator", "global", "--always-open", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=REPO,
    )


@pytest.fixture(scope="module")
def ssl_bridge(certs: Path) -> Iterator[int]:
    proc = bridge(
        "--port",
        "0",
        "--ssl-cert",
        str(certs / "bridge.pem"),
        "--ssl-key",
        str(certs / "bridge.key"),
        "--ssl-ca",
        str(certs / "ca.pem"),
    )
    assert proc.stdout is not None
    line = proc.stdout.readline().split()
    assert line[:1] == ["READY"], proc.stderr.read() if proc.stderr else line
    yield int(line[2])
    proc.terminate()
    proc.wait(10)


def test_the_adapter_trades_through_the_ssl_bridge_with_its_certificate(
    ssl_bridge: int, certs: Path, client: redis.Redis, names: Names, redis_url: str, tmp_path: Path
) -> None:
    s = Mt5Settings(
        venue="mt5-global",
        redis_url=redis_url,
        namespace=names.namespace,
        data_dir=tmp_path,
        config_dir=REPO / "deploy" / "config",
        mt5_port=ssl_bridge,
        mt5_ssl_ca=certs / "ca.pem",
        mt5_ssl_cert=certs / "adapter.pem",
        mt5_ssl_key=certs / "adapter.key",
        tick_interval_s=0.05,
        block_ms=100,
    )
    with running(Mt5Adapter(s, client), client, names):
        order = new_order("mt5-global", "BTCUSD", 0.05)
        send(client, names, order)
        got = final_fill(client, names, order.client_order_id)
    assert statuses(got) == [OrderStatus.ACCEPTED, OrderStatus.FILLED]
    assert fills_of(client, names, order.client_order_id)[-1].last_qty == 0.05


def test_nobody_gets_in_without_a_certificate(ssl_bridge: int, certs: Path) -> None:
    with pytest.raises((EOFError, OSError)):
        rpyc.classic.connect("127.0.0.1", ssl_bridge).execute("import os")  # no TLS at all
    with pytest.raises((ssl.SSLError, EOFError, OSError)):  # TLS, but no client certificate
        rpyc.classic.ssl_connect("127.0.0.1", ssl_bridge, ca_certs=str(certs / "ca.pem")).execute("import os")


def test_the_bridge_refuses_to_listen_off_loopback_without_ssl() -> None:
    proc = bridge("--host", "0.0.0.0", "--port", "0")
    out, err = proc.communicate(timeout=30)
    assert proc.returncode == 2 and "refusing to listen on 0.0.0.0" in err and "READY" not in out
