"""Market data through the normalizer: ticks from 6 venues x 200 symbols, nx:md:raw:{venue} ->
nx:md:{SYMBOL}, beside a bare XREADGROUP-decode-encode-XADD loop doing the same work, in the same run.

    python bench/marketdata.py [--ticks 60000]

The backlog is written before the reader starts (its consumer group is created at 0 first), so no
producer competes for the CPU; throughput is ticks over the span between the first and the last
output entry (Redis's own timestamps). Then two normalizer processes in one group. Redis's CPU per
tick (INFO cpu around the run) gives the arithmetic for the plan's 1.2M msgs/s. Figures only.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import redis
import yaml

from nexus_mesh.embedded import RedisServer
from nexus_protocol import Envelope, Names, Tick, encode

ROOT = Path(__file__).resolve().parents[1]
VENUES = [f"v{i}" for i in range(6)]
SYMBOLS = [f"S{i:03d}" for i in range(200)]
TARGET = 1_200_000  # the plan's market-data rate, msgs/s
GROUP = "normalizer"


def bench_config(tmp: Path, groups: int = 0) -> Path:
    """The bench's registry and venues; with `groups`, the symbols split into that many partitions
    (p0, p1, ...: nexus_protocol.partitions), each of the path streams in a slot of its own."""
    cfg = tmp / (f"config-{groups}p" if groups else "config")
    cfg.mkdir()
    symbols = {
        s: {"exchange": "BENCH", "currency": "USD", "tick_size": 0.01, "point_value": 1.0,
            "venues": {v: {"pattern": s} for v in VENUES}}
        for s in SYMBOLS
    }  # fmt: skip
    partitions = {f"p{g}": SYMBOLS[g::groups] for g in range(groups)}
    (cfg / "symbols.yaml").write_text(yaml.safe_dump({"symbols": symbols, "partitions": partitions}))
    venues = {v: {"code": f"b{i}", "adapter": "sim", "symbols": SYMBOLS} for i, v in enumerate(VENUES)}
    (cfg / "venues.yaml").write_text(yaml.safe_dump({"environments": {"bench": venues}}))
    return cfg


def preload(r: redis.Redis, names: Names, n: int) -> None:
    for v in VENUES:
        r.xgroup_create(names.md_raw(v), GROUP, id="0", mkstream=True)
    pipe = r.pipeline(transaction=False)
    for i in range(n):
        v, s = VENUES[i % len(VENUES)], SYMBOLS[(i // len(VENUES)) % len(SYMBOLS)]
        tick = Tick(venue=v, symbol=s, bid=100.0 + i % 7, ask=100.5 + i % 7, last=100.25, last_size=1.0)
        pipe.xadd(names.md_raw(v), encode(Envelope.new(tick, id=f"t{i}")))  # type: ignore[arg-type]
        if i % 2000 == 1999:
            pipe.execute()
    pipe.execute()


def span(r: redis.Redis, streams: list[str]) -> tuple[int, int, int]:
    """(entries, first ms, last ms) over `streams`."""
    pipe = r.pipeline(transaction=False)
    for s in streams:
        pipe.xlen(s)
        pipe.xrange(s, count=1)
        pipe.xrevrange(s, count=1)
    got = pipe.execute()
    total, first, last = 0, 2**63, 0
    for i in range(0, len(got), 3):
        total += got[i]
        if got[i]:
            first = min(first, int(got[i + 1][0][0].split(b"-")[0]))
            last = max(last, int(got[i + 2][0][0].split(b"-")[0]))
    return total, first, last


def drain(
    r: redis.Redis, streams: list[str], n: int, procs: list[subprocess.Popen[bytes]], what: str
) -> tuple[int, int, int]:
    """Wait until `streams` hold `n` entries, stop `procs`; the final `span`."""
    try:
        deadline = time.monotonic() + 600
        while (got := span(r, streams))[0] < n:
            if time.monotonic() > deadline or any(p.poll() is not None for p in procs):
                raise RuntimeError(f"{what}: {got[0]} of {n} out")
            time.sleep(0.2)
    finally:
        for p in procs:
            p.terminate()
        for p in procs:
            p.wait(15)
    return got


def cpu(r: redis.Redis) -> float:
    info = r.info("cpu")
    return float(info["used_cpu_sys"]) + float(info["used_cpu_user"])


def start(
    kind: str, path: str, consumers: int, url: str, ns: str, cfg: Path, n: int
) -> list[subprocess.Popen[bytes]]:
    """`consumers` processes reading `path` (md, orders) in one group: normalizers, or bare loops."""
    base = {k: v for k, v in os.environ.items() if not k.startswith("NX_")}
    procs = []
    for c in range(consumers):
        bare = [
            sys.executable,
            str(ROOT / "bench" / "_bare_scale.py"),
            path,
            url,
            ns,
            ",".join(VENUES),
            f"b{c}",
        ]
        cmd = bare if kind == "bare" else [sys.executable, "-m", "nexus_gateway.normalizer"]
        env = {**base, "NX_REDIS_URL": url, "NX_NAMESPACE": ns, "NX_ENVIRONMENT": "bench",
               "NX_CONFIG_DIR": str(cfg), "NX_LOG_LEVEL": "WARNING", "NX_CONSUMER": f"n{c}",
               "NX_MD_MAXLEN": str(n)}  # fmt: skip
        procs.append(subprocess.Popen(cmd, env=env, cwd=ROOT))
    return procs


def run(
    r: redis.Redis, url: str, ns: str, n: int, kind: str, consumers: int, cfg: Path
) -> tuple[float, float]:
    """Ticks/s and Redis CPU seconds per tick for one configuration."""
    names = Names(ns)
    preload(r, names, n)
    cpu0 = cpu(r)
    procs = start(kind, "md", consumers, url, ns, cfg, n)
    got = drain(r, [names.md(s) for s in SYMBOLS], n, procs, kind)
    redis_cpu = cpu(r) - cpu0
    total, first, last = got
    for k in r.scan_iter(match=f"{ns}:*", count=10_000):
        r.delete(k)
    return total / (max(1, last - first) / 1000), redis_cpu / total


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--ticks", type=int, default=60_000)
    args = ap.parse_args()
    rows = []
    with tempfile.TemporaryDirectory() as tmp_s, RedisServer(Path(tmp_s) / "redis") as server:
        cfg = bench_config(Path(tmp_s))
        r = redis.Redis.from_url(server.url)
        version = r.info()["redis_version"]
        print(f"redis {version}; {args.ticks} ticks, {len(VENUES)} venues x {len(SYMBOLS)} symbols")
        for i, (kind, consumers) in enumerate((("bare", 1), ("mesh", 1), ("bare", 2), ("mesh", 2))):
            tps, cpt = run(r, server.url, f"md{i}", args.ticks, kind, consumers, cfg)
            rows.append((kind, consumers, tps, cpt))
        r.close()
    print(f"{'reader':<22} {'ticks/s':>10} {'redis cpu us/tick':>18}")
    for kind, consumers, tps, cpt in rows:
        name = "bare loop" if kind == "bare" else "normalizer"
        print(f"{name + f' x{consumers}':<22} {tps:>10.0f} {cpt * 1e6:>18.1f}")
    (_, _, b1, _), (_, _, m1, mc1), (_, _, b2, _), (_, _, m2, _) = rows
    print(f"ratio  one process {m1 / b1:.2f}x (target >= 0.80)   two {m2 / b2:.2f}x   1->2: {m2 / m1:.2f}x")
    procs = TARGET / m1
    shards = TARGET * mc1 / 0.7  # Redis at 70% of one core per shard
    print(f"1.2M msgs/s: {TARGET:,} / {m1:,.0f} per normalizer process = {procs:.0f} processes (cores)")
    print(
        f"Redis: {TARGET:,} x {mc1 * 1e6:.1f} us CPU per tick = {TARGET * mc1:.1f} cores -> "
        f"{shards:.0f} shards at 70% each (md streams partitioned by symbol group into hash tags, "
        "one normalizer group per shard)"
    )


if __name__ == "__main__":
    main()
