"""The demo: an embedded Redis, the mesh's processes, a message in, its result out."""

from __future__ import annotations

import subprocess
import sys
import tempfile
import time
from pathlib import Path

import redis
from rich.console import Console

from nexus_mesh.embedded import RedisServer
from nexus_protocol import Envelope, Event, Names, decode, encode

console = Console()


def run(signals: int = 3) -> int:
    with tempfile.TemporaryDirectory(prefix="nexus-demo-") as tmp, RedisServer(Path(tmp) / "redis") as server:
        console.print(f"[bold]embedded Redis[/] {server.url} (AOF in {tmp})")
        names = Names("demo")
        env = {"NX_REDIS_URL": server.url, "NX_NAMESPACE": "demo", "NX_CONSUMER": "relay-1", "NX_LOG_LEVEL": "WARNING"}
        relay = subprocess.Popen([sys.executable, "-m", "nexus_mesh.relay"], env={**_base_env(), **env})
        client = redis.Redis.from_url(server.url)
        try:
            cursor = "0-0"
            for i in range(signals):
                msg = Envelope.new(Event(kind="demo", source="demo", message=f"hello {i}"), id=f"demo-{i}")
                t0 = time.perf_counter()
                client.xadd(names.stream("relay:in"), encode(msg))  # type: ignore[arg-type]
                reply = client.xread({names.stream("relay:out"): cursor}, block=10_000)
                if not reply:
                    console.print("[red]no reply within 10 s[/]")
                    return 1
                cursor, fields = reply[0][1][0]
                out = decode(fields)
                console.print(f"relay round trip {out.id}: {(time.perf_counter() - t0) * 1e3:.2f} ms")
        finally:
            relay.terminate()
            relay.wait(10)
            client.close()
    return 0


def _base_env() -> dict[str, str]:
    import os

    return {k: v for k, v in os.environ.items() if not k.startswith("NX_")}
