"""What tests of the mesh do over and over: wait for a condition, add and read stream entries, bring
up a Redis secured as deploy/redis configures it, ask whether an adapter's venue link is up."""

from __future__ import annotations

import shutil
import subprocess
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import pytest
import redis
import yaml

from nexus_mesh.connection import as_bytes
from nexus_mesh.embedded import RedisServer, free_port
from nexus_protocol.codec import Envelope, decode, encode, unpack
from nexus_protocol.messages import Heartbeat, Message
from nexus_protocol.streams import Names

REPO_ROOT = Path(__file__).resolve().parents[4]


def wait_for(
    predicate: Callable[[], Any], timeout_s: float = 10.0, interval_s: float = 0.02, what: str = "condition"
) -> Any:
    """Poll until `predicate()` is truthy; returns its value or fails the test naming `what`."""
    deadline = time.monotonic() + timeout_s
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout_s}s waiting for {what}")
        time.sleep(interval_s)


def xadd(client: redis.Redis, stream: str, env: Envelope[Any]) -> str:
    return str(client.xadd(stream, encode(env)).decode())  # type: ignore[arg-type,union-attr]


def secured_redis(
    tmp_path: Path,
    names: Names,
    password: Callable[[str], str],
    cert_users: Sequence[str],
    timeout_s: float = 120,
) -> tuple[RedisServer, int, Path]:
    """A redis-server as deploy/redis configures it: the mesh's ACL users (passwords from `password`,
    plus `admin`/`admin-pw` for the test's own eyes) and the TLS port from tls.conf, with certificates
    from make-certs.sh for `cert_users`. Returns the server, its TLS port and the certificates folder;
    the caller stops the server."""
    from nexus_ops import acl

    users = acl.mesh_users(names, acl.all_venues(REPO_ROOT / "deploy" / "config"))
    text = (
        acl.render(users, {u.name: password(u.name) for u in users}) + "user admin on >admin-pw ~* &* +@all\n"
    )
    (tmp_path / "users.acl").write_text(text)
    certs = tmp_path / "tls"
    make_certs = REPO_ROOT / "deploy" / "redis" / "make-certs.sh"
    subprocess.run(
        [str(make_certs), str(certs), "DNS:localhost,IP:127.0.0.1", *cert_users],
        check=True, capture_output=True, timeout=timeout_s,
    )  # fmt: skip
    tls_port = free_port()
    conf = (REPO_ROOT / "deploy" / "redis" / "tls.conf").read_text()
    conf = conf.replace("/usr/local/etc/redis/tls", str(certs)).replace(
        "tls-port 6380", f"tls-port {tls_port}"
    )
    (tmp_path / "tls.conf").write_text(conf)
    server = RedisServer(
        tmp_path / "redis",
        extra_args=("--aclfile", str(tmp_path / "users.acl"), "--include", str(tmp_path / "tls.conf")),
    ).start()
    return server, tls_port, certs


def venue_heartbeat(client: redis.Redis, names: Names, venue: str) -> Heartbeat | None:
    """The adapter's venue heartbeat (`nx:{control}:venue:<venue>`), None while there is none."""
    raw = client.get(names.control("venue", venue))
    hb = unpack(as_bytes(raw)) if raw is not None else None
    return hb if isinstance(hb, Heartbeat) else None


def venue_connected(client: redis.Redis, names: Names, venue: str) -> bool:
    """The adapter's venue heartbeat says its platform link is up (what the router checks)."""
    hb = venue_heartbeat(client, names, venue)
    return hb is not None and bool(hb.venue_connected)


def venue_equity(client: redis.Redis, names: Names, venue: str) -> dict[str, Any]:
    """The equity facts of the adapter's venue heartbeat (`equity`, `equity_currency`, `equity_usd`)."""
    hb = venue_heartbeat(client, names, venue)
    detail = hb.detail if hb is not None else {}
    return {k: v for k, v in detail.items() if k.startswith("equity")}


def read_stream(client: redis.Redis, stream: str) -> list[Envelope[Message]]:
    return [decode(fields or {}) for _id, fields in client.xrange(stream) or []]


def edited_config(tmp: Path, file: str, edits: Mapping[str, object]) -> Path:
    """deploy/config copied into `tmp`, with `edits` ({"dotted.path": value}) made in one of its YAML
    files; returns the folder, for NX_CONFIG_DIR."""
    for f in (REPO_ROOT / "deploy" / "config").glob("*.yaml"):
        shutil.copy(f, tmp / f.name)
    raw = yaml.safe_load((tmp / file).read_text())
    for path, value in edits.items():
        *parents, last = path.split(".")
        node = raw
        for p in parents:
            node = node[p]
        node[last] = value
    (tmp / file).write_text(yaml.safe_dump(raw))
    return tmp
