"""One hop of the mesh against a bare redis-py relay, measured in the same run on the same Redis.

    python bench/hop.py [--messages 20000] [--roundtrips 2000] [--rounds 2]

Prints throughput (entries/s over a backlog written before the relay starts, from the output
entries' own Redis timestamps) and single-message round trip p50/p99 (XADD in -> blocking XREAD of
the output) for both, and their ratios. Targets (issue 3):
throughput >= 0.8x the bare loop, round-trip p99 <= 1.3x. Figures only, never an assertion.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import redis

from nexus_mesh.embedded import RedisServer
from nexus_protocol import Envelope, Event, Names, encode

ROOT = Path(__file__).resolve().parents[1]


def start(kind: str, url: str, ns: str, src: str, dst: str) -> subprocess.Popen[bytes]:
    if kind == "bare":
        cmd = [sys.executable, str(ROOT / "bench" / "_bare_relay.py"), url, src, dst]
        env = dict(os.environ)
    else:
        cmd = [sys.executable, "-m", "nexus_mesh.relay"]
        env = {
            **os.environ,
            "NX_REDIS_URL": url,
            "NX_NAMESPACE": ns,
            "NX_RELAY_FROM": "bench:in",
            "NX_RELAY_TO": "bench:out",
            "NX_LOG_LEVEL": "WARNING",
            "NX_CONSUMER": "bench-1",
        }
    return subprocess.Popen(cmd, env=env, cwd=ROOT)


def entry(i: int) -> dict[str, str | bytes]:
    return encode(Envelope.new(Event(kind="bench", source="bench", message="x" * 40), id=f"e{i:08d}"))


def wait_group(r: redis.Redis, stream: str) -> None:
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        try:
            if r.xinfo_groups(stream):
                return
        except redis.ResponseError:
            pass
        time.sleep(0.05)
    raise RuntimeError(f"relay never created its group on {stream}")


def preload(r: redis.Redis, src: str, n: int) -> None:
    """The backlog is written before the relay starts, so no producer competes for the CPU."""
    pipe = r.pipeline(transaction=False)
    for i in range(n):
        pipe.xadd(src, entry(i))  # type: ignore[arg-type]
        if i % 1000 == 999:
            pipe.execute()
    pipe.execute()


def throughput(r: redis.Redis, dst: str, n: int) -> float:
    """Entries/s between the first and the last output entry (Redis's own timestamps)."""
    deadline = time.monotonic() + 300
    while r.xlen(dst) < n:
        if time.monotonic() > deadline:
            raise RuntimeError("relay stalled")
        time.sleep(0.05)
    first = r.xrange(dst, count=1)[0][0].decode()
    last = r.xrevrange(dst, count=1)[0][0].decode()
    span_ms = max(1, int(last.split("-")[0]) - int(first.split("-")[0]))
    return n / (span_ms / 1000)


def roundtrips(r: redis.Redis, src: str, dst: str, n: int) -> list[float]:
    last = r.xrevrange(dst, count=1)
    cursor = last[0][0] if last else b"0-0"
    out = []
    for i in range(n):
        t0 = time.perf_counter()
        r.xadd(src, entry(10_000_000 + i))  # type: ignore[arg-type]
        reply = r.xread({dst: cursor}, count=1, block=5000)
        out.append(time.perf_counter() - t0)
        cursor = reply[0][1][-1][0]
    return out


def pct(xs: list[float], p: float) -> float:
    return statistics.quantiles(xs, n=1000)[int(p * 10) - 1] if len(xs) > 1 else xs[0]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--messages", type=int, default=20_000)
    ap.add_argument("--roundtrips", type=int, default=2_000)
    ap.add_argument("--rounds", type=int, default=2)
    args = ap.parse_args()
    results: dict[str, dict[str, list[float]]] = {k: {"tput": [], "rtt": []} for k in ("bare", "mesh")}
    with tempfile.TemporaryDirectory() as tmp, RedisServer(Path(tmp)) as server:
        r = redis.Redis.from_url(server.url)
        print(
            f"redis {r.info()['redis_version']} at {server.url}; {args.messages} entries, "
            f"{args.roundtrips} round trips, {args.rounds} rounds, alternating"
        )
        for rnd in range(args.rounds):
            for kind in ("bare", "mesh"):
                ns = f"b{rnd}{kind}"
                names = Names(ns)
                src, dst = names.stream("bench:in"), names.stream("bench:out")
                preload(r, src, args.messages)
                proc = start(kind, server.url, ns, src, dst)
                try:
                    wait_group(r, src)
                    results[kind]["tput"].append(throughput(r, dst, args.messages))
                    results[kind]["rtt"] += roundtrips(r, src, dst, args.roundtrips)
                finally:
                    proc.terminate()
                    proc.wait(10)
                r.delete(src, dst)
                for k in r.scan_iter(match=f"{ns}:*", count=10_000):
                    r.delete(k)
        r.close()
    rows = []
    for kind in ("bare", "mesh"):
        t = results[kind]
        rows.append((kind, statistics.median(t["tput"]), pct(t["rtt"], 50) * 1e3, pct(t["rtt"], 99) * 1e3))
    print(f"{'relay':<6} {'entries/s':>10} {'rtt p50 ms':>11} {'rtt p99 ms':>11}")
    for kind, tp, p50, p99 in rows:
        print(f"{kind:<6} {tp:>10.0f} {p50:>11.3f} {p99:>11.3f}")
    (_, btp, b50, b99), (_, mtp, m50, m99) = rows
    print(
        f"ratio  throughput {mtp / btp:.2f}x (target >= 0.80)   rtt p50 {m50 / b50:.2f}x   "
        f"rtt p99 {m99 / b99:.2f}x (target <= 1.30)"
    )


if __name__ == "__main__":
    main()
