"""TLS: the adapter serves wss:// with a certificate, and the real add-on (websocket-client) connects
over it when it trusts that certificate (WEBSOCKET_CLIENT_CA_BUNDLE), then trades as over ws://."""

from __future__ import annotations

import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest
import redis
from bookmap_rig import BookmapRig

from nexus_protocol import Names
from nexus_protocol.messages import DepthSnapshot
from nexus_testing import read_stream, wait_for

pytestmark = pytest.mark.tool("openssl")


def self_signed(tmp: Path) -> tuple[Path, Path]:
    cert, key = tmp / "cert.pem", tmp / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=127.0.0.1",
         "-addext", "subjectAltName=IP:127.0.0.1", "-keyout", str(key), "-out", str(cert)],
        check=True, capture_output=True,
    )  # fmt: skip
    return cert, key


def test_the_add_on_connects_over_tls(
    bookmap_rig: Callable[..., BookmapRig], client: redis.Redis, names: Names, tmp_path: Path
) -> None:
    cert, key = self_signed(tmp_path)
    rig = bookmap_rig(NX_BOOKMAP_TLS_CERT=str(cert), NX_BOOKMAP_TLS_KEY=str(key))
    assert rig.scheme == "wss"
    rig.start_adapter()
    rig.host.start()
    rig.launch_addon(WEBSOCKET_CLIENT_CA_BUNDLE=str(cert))
    rig.wait_connected(can_trade=True)
    stream = names.md_raw("bookmap")
    wait_for(lambda: any(isinstance(e.body, DepthSnapshot) for e in read_stream(client, stream)),
             what="market data over TLS")  # fmt: skip
    assert "wss://" in rig.addon_log()
