"""The NEXUS client's send_signal against a bare XADD of the same entry, same Redis, same run.

    python bench/client_send.py [--signals 3000] [--rounds 2]

Both client forms: the threaded `NexusGatewayInterface` (its XADD from the caller's thread while the
reader runs) and `AsyncNexusGatewayInterface`. Prints p50/p99 per call and the ratio of p50s to the
bare XADD. Figures only, never an assertion.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
from pathlib import Path

import redis

from nexus_bridge import AsyncNexusGatewayInterface, NexusGatewayInterface
from nexus_bridge.wire import build_signal, intake_stream
from nexus_mesh.embedded import RedisServer
from nexus_protocol.codec import encode
from nexus_protocol.streams import Names

NS = "bench"


def figures(name: str, xs: list[float], base: float | None = None) -> str:
    xs = sorted(xs)
    p50, p99 = statistics.median(xs), xs[int(len(xs) * 0.99)]
    ratio = f"  x{p50 / base:.2f} of bare" if base else ""
    return f"{name:<22} p50 {p50 * 1e6:8.1f} us   p99 {p99 * 1e6:8.1f} us{ratio}"


def bare(client: redis.Redis, n: int) -> list[float]:
    out = []
    for _ in range(n):
        fields = encode(build_signal("NQ", "BUY", 0.9, 1, None, strategy="bench"))
        t = time.perf_counter()
        client.xadd(intake_stream(Names(NS)), fields)  # type: ignore[arg-type]
        out.append(time.perf_counter() - t)
    return out


def threaded(url: str, n: int) -> list[float]:
    gw = NexusGatewayInterface(url, namespace=NS, symbols=["NQ"], require_bridge=False)
    gw.start_listening()
    out = []
    try:
        for _ in range(n):
            t = time.perf_counter()
            gw.send_signal("NQ", "BUY", 0.9, 1)
            out.append(time.perf_counter() - t)
    finally:
        gw.stop()
    return out


async def asynchronous(url: str, n: int) -> list[float]:
    gw = AsyncNexusGatewayInterface(url, namespace=NS, symbols=["NQ"], require_bridge=False)
    await gw.start_listening()
    out = []
    try:
        for _ in range(n):
            t = time.perf_counter()
            await gw.send_signal("NQ", "BUY", 0.9, 1)
            out.append(time.perf_counter() - t)
    finally:
        await gw.stop()
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--signals", type=int, default=3000)
    ap.add_argument("--rounds", type=int, default=2)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        server = RedisServer(Path(tmp)).start()
        try:
            client = redis.Redis.from_url(server.url)
            for r in range(args.rounds):
                b = bare(client, args.signals)
                base = statistics.median(b)
                print(f"round {r + 1}: {args.signals} signals")
                print("  " + figures("bare XADD", b))
                print("  " + figures("threaded send_signal", threaded(server.url, args.signals), base))
                print(
                    "  "
                    + figures(
                        "asyncio send_signal", asyncio.run(asynchronous(server.url, args.signals)), base
                    )
                )
        finally:
            server.stop()


if __name__ == "__main__":
    main()
