"""`nexusctl tail` and `nexusctl send --print` against a real Redis, run as an operator runs them:
logical names and raw keys, a clear exit 2 on an unknown stream, dead letters a real service wrote,
JSON lines that parse when piped (also while following), and the redis-cli recipe for a test signal."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import redis

from nexus_protocol import Envelope, Names, Side, Signal, decode, encode
from nexus_protocol.enums import OrderType
from nexus_testing import REPO_ROOT, Services, wait_for

NEXUSCTL = str(Path(sys.executable).parent / "nexusctl")
SID = "01JGZ8Y5E3V7Q2M4N6P8R0S2T4"


def ctl_env(redis_url: str, names: Names) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("NX_")}
    return {**env, "NX_REDIS_URL": redis_url, "NX_NAMESPACE": names.namespace, "COLUMNS": "80"}


def ctl(redis_url: str, names: Names, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [NEXUSCTL, *args], cwd=REPO_ROOT, env=ctl_env(redis_url, names),
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip


def json_lines(text: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in text.splitlines()]


def signal(n: int) -> dict[str, str | bytes]:
    sid = f"{SID[:-2]}{n:02d}"
    return encode(Envelope.new(Signal(signal_id=sid, symbol="NQ", side=Side.BUY, quantity=1.0), id=sid))


def test_a_logical_name_and_the_raw_key_are_one_stream(
    redis_url: str, names: Names, client: redis.Redis
) -> None:
    for n in range(3):
        client.xadd(names.signals, signal(n))  # type: ignore[arg-type]
    logical = ctl(redis_url, names, "tail", "signals", "-n", "2")
    raw = ctl(redis_url, names, "tail", names.signals, "-n", "2")
    assert logical.returncode == raw.returncode == 0, logical.stdout + logical.stderr
    assert logical.stdout == raw.stdout
    rows = json_lines(logical.stdout)
    assert [r["body"]["signal_id"][-2:] for r in rows] == ["01", "02"]
    assert {r["stream"] for r in rows} == {f"{names.namespace}:{{signals}}"}


@pytest.mark.parametrize(
    ("name", "says"),
    [
        ("bogus", "no stream {ns}:{{bogus}} (streams here: {ns}:{{signals}})"),
        (
            "{ns}:signals",
            "no stream {ns}:signals: keys carry braces, as redis-cli shows them: {ns}:{{signals}}",
        ),
        ("{ns}:{{contracts}}", "{ns}:{{contracts}} is a hash, not a stream"),
        ("a b", "'a b' is not a stream name"),
    ],
)
def test_an_unknown_stream_is_a_usage_error_saying_what_there_is(
    redis_url: str, names: Names, client: redis.Redis, name: str, says: str
) -> None:
    ns = names.namespace
    client.xadd(names.signals, signal(0))  # type: ignore[arg-type]
    client.hset(names.contracts, "NQ", "NQZ26")
    out = ctl(redis_url, names, "tail", name.format(ns=ns))
    assert out.returncode == 2, out.stdout + out.stderr
    assert out.stdout.startswith(f"nexusctl tail: {says.format(ns=ns)}"), out.stdout
    assert len(out.stdout.splitlines()) == 1


def test_a_stream_the_mesh_writes_is_known_before_it_exists(redis_url: str, names: Names) -> None:
    for name in ("dlq", "orders:nt8", "md:raw:mt5-brazil", "md:NQ"):
        out = ctl(redis_url, names, "tail", name)
        assert out.returncode == 0 and out.stdout == "", (name, out.stdout + out.stderr)


def test_dead_letters_of_a_real_service_are_readable(
    redis_url: str, names: Names, client: redis.Redis, services: Services
) -> None:
    services.start("nexus_gateway.router", NX_ENVIRONMENT="dev")
    garbage = b"\x93\xff\x00\x1b[2J binary"
    client.xadd(names.signals, {**signal(7), "data": garbage})  # type: ignore[dict-item]
    client.xadd(names.signals, {"hello": "world"})
    wait_for(lambda: client.xlen(names.dlq) >= 2, timeout_s=60, what="two dead letters")
    out = ctl(redis_url, names, "tail", "dlq")
    assert out.returncode == 0, out.stderr
    first, second = (r["body"] for r in json_lines(out.stdout))
    assert first["stream"] == names.signals and first["group"] == "router" and "msgpack" in first["reason"]
    fields = first["original"]["fields"]
    assert fields["id"] == f"{SID[:-2]}07" and fields["data"]["bytes"] == len(garbage)
    assert "base64" in fields["data"] and "\x1b" not in out.stdout
    assert second["original"] == {
        "undecodable": "missing header field (field 'type')",
        "fields": {"hello": "world"},
    }


def test_follow_prints_each_new_entry_as_a_json_line_at_once(
    redis_url: str, names: Names, client: redis.Redis
) -> None:
    client.xadd(names.executions, signal(0))  # type: ignore[arg-type]
    proc = subprocess.Popen(
        [NEXUSCTL, "tail", "executions", "-n", "1", "-f"], cwd=REPO_ROOT, env=ctl_env(redis_url, names),
        stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        assert proc.stdout is not None
        first = json.loads(proc.stdout.readline())  # printed: from here on it is following
        assert first["body"]["signal_id"].endswith("00")
        long = encode(Envelope.new(Signal(signal_id=SID, symbol="NQ", side=Side.SELL, quantity=2.0,
                                          strategy="x" * 600), id=SID))  # fmt: skip
        client.xadd(names.executions, long)  # type: ignore[arg-type]
        row = json.loads(proc.stdout.readline())
        assert row["body"]["strategy"] == "x" * 600 and row["body"]["side"] == "sell"
    finally:
        proc.terminate()
        proc.wait(10)


@pytest.mark.tool("redis-cli", apt="redis-tools")
def test_the_printed_redis_cli_recipe_xadds_the_signal(
    redis_url: str, names: Names, client: redis.Redis
) -> None:
    out = ctl(
        redis_url, names, "send", "NQ", "buy", "2", "--limit", "21000.25", "--venues", "nt8,sierra", "--print"
    )
    assert out.returncode == 0 and client.xlen(names.signals) == 0, out.stdout + out.stderr
    command = out.stdout.strip()
    assert "redis-cli" in command and f"XADD '{names.signals}'" in command
    subprocess.run(["sh", "-c", command], check=True, capture_output=True, timeout=30)
    [(_, fields)] = client.xrange(names.signals)  # type: ignore[misc]
    body = decode(fields).body
    assert isinstance(body, Signal)
    assert (body.symbol, body.side, body.quantity) == ("NQ", Side.BUY, 2.0)
    assert (
        body.order_type == OrderType.LIMIT
        and body.limit_price == 21000.25
        and body.venues == ("nt8", "sierra")
    )
