"""Signals in, executions out, through every gateway stage as its own process, beside a bare
redis-py relay chain with the same number of hops (one process per hop), in the same run.

    python bench/roundtrip.py [--signals 2000]

Path measured (6 hops): signals -> router -> orders:routed -> normalizer -> orders:sim -> sim venue
(zero latency) -> fills:raw -> normalizer -> fills:normalized -> fx -> fills -> fills aggregator ->
executions (the final one). Signals are sent one at a time; latency is from XADD to the final execution.
Then each stage's handler time without I/O (decode, logic, encode) is measured in-process.
Figures only, never an assertion.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import redis
import yaml

from nexus_mesh.embedded import RedisServer
from nexus_protocol import Envelope, Event, Execution, Names, Side, Signal, decode, encode
from nexus_protocol.ids import new_signal_id

ROOT = Path(__file__).resolve().parents[1]
HOPS = 6
STAGES = ("router", "normalizer", "fx", "fills")


def pct(xs: list[float], p: float) -> float:
    return statistics.quantiles(xs, n=1000)[int(p * 10) - 1]


def bench_config(tmp: Path) -> Path:
    cfg = tmp / "config"
    shutil.copytree(ROOT / "deploy" / "config", cfg)
    risk = yaml.safe_load((cfg / "risk.yaml").read_text())
    risk["default"].update(max_daily_trades=10**9, throttle_per_second=10**6)
    (cfg / "risk.yaml").write_text(yaml.safe_dump(risk))
    return cfg


def start_mesh(url: str, ns: str, cfg: Path, logs: Path) -> list[subprocess.Popen[bytes]]:
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("NX_")},
        "NX_REDIS_URL": url,
        "NX_NAMESPACE": ns,
        "NX_ENVIRONMENT": "single",
        "NX_CONFIG_DIR": str(cfg),
        "NX_LOG_LEVEL": "WARNING",
        "NX_FX_SOURCE": "fixed",
        "NX_FX_FIXED_USDBRL": "5.49",
    }
    procs = []
    for module, extra in [(f"nexus_gateway.{s}", {}) for s in STAGES] + [
        ("nexus_gateway.rollover", {}),
        ("nexus_gateway.sim_venue", {"NX_VENUE": "sim", "NX_SIM_MD_INTERVAL_S": "3600"}),
    ]:
        name = module.rsplit(".", 1)[-1]
        with (logs / f"{name}.log").open("wb") as log:
            procs.append(
                subprocess.Popen(
                    [sys.executable, "-m", module],
                    env={**env, **extra, "NX_CONSUMER": name},
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    cwd=ROOT,
                )
            )
    return procs


def wait_heartbeats(r: redis.Redis, names: Names, n: int) -> None:
    deadline = time.monotonic() + 120
    while len(list(r.scan_iter(match=names.health_pattern()))) < n or not r.hlen(names.contracts):
        if time.monotonic() > deadline:
            up = sorted(k.decode() for k in r.scan_iter(match=names.health_pattern()))
            raise RuntimeError(f"mesh did not come up: {len(up)} of {n} heartbeating ({up})")
        time.sleep(0.1)
    while not r.exists(names.control("venue", "sim")):
        time.sleep(0.05)


def mesh_latencies(r: redis.Redis, names: Names, n: int) -> list[float]:
    cursor = b"$"
    out = []
    for i in range(n + 50):
        sid = new_signal_id()
        sig = Signal(signal_id=sid, symbol="US30", side=Side.BUY if i % 2 == 0 else Side.SELL, quantity=1)
        t0 = time.perf_counter()
        r.xadd(names.signals, encode(Envelope.new(sig, id=sid)))  # type: ignore[arg-type]
        done = False
        while not done:
            reply = r.xread({names.executions: cursor}, block=10_000)
            if not reply:
                raise RuntimeError(f"no execution for {sid} within 10 s")
            for entry_id, fields in reply[0][1]:
                cursor = entry_id
                ex = decode(fields).body
                if isinstance(ex, Execution) and ex.signal_id == sid and ex.final:
                    done = True
        if i >= 50:  # warm-up excluded
            out.append(time.perf_counter() - t0)
    return out


def bare_latencies(url: str, r: redis.Redis, ns: str, n: int) -> list[float]:
    streams = [f"{ns}:{{bare{i}}}" for i in range(HOPS + 1)]
    procs = [
        subprocess.Popen(
            [sys.executable, str(ROOT / "bench" / "_bare_relay.py"), url, streams[i], streams[i + 1]]
        )
        for i in range(HOPS)
    ]
    try:
        deadline = time.monotonic() + 30
        while not all(r.exists(s) for s in streams[:-1]):
            if time.monotonic() > deadline:
                raise RuntimeError("bare chain did not start")
            time.sleep(0.05)
        cursor = b"$"
        out = []
        for i in range(n + 50):
            fields = encode(Envelope.new(Event(kind="bench", source="bench", message="x" * 40), id=f"b{i}"))
            t0 = time.perf_counter()
            r.xadd(streams[0], fields)  # type: ignore[arg-type]
            reply = r.xread({streams[-1]: cursor}, block=10_000)
            cursor = reply[0][1][-1][0]
            if i >= 50:
                out.append(time.perf_counter() - t0)
        return out
    finally:
        for p in procs:
            p.terminate()
            p.wait(10)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--signals", type=int, default=2000)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp_s, RedisServer(Path(tmp_s) / "redis") as server:
        tmp = Path(tmp_s)
        print(f"service logs in {tmp}", file=sys.stderr)
        r = redis.Redis.from_url(server.url)
        names = Names("bench")
        procs = start_mesh(server.url, "bench", bench_config(tmp), tmp)
        try:
            wait_heartbeats(r, names, len(procs))
            bare = bare_latencies(server.url, r, "bare", args.signals)
            mesh = mesh_latencies(r, names, args.signals)
        finally:
            for p in procs:
                p.terminate()
            for p in procs:
                p.wait(15)
        r.close()
    print(f"{args.signals} signals, one at a time; {HOPS} hops; same redis-server, same run")
    print(f"{'chain':<8} {'p50 ms':>8} {'p99 ms':>8} {'mean ms':>8}")
    for name, xs in (("bare", bare), ("mesh", mesh)):
        p50, p99, mean = pct(xs, 50) * 1e3, pct(xs, 99) * 1e3, statistics.fmean(xs) * 1e3
        print(f"{name:<8} {p50:>8.3f} {p99:>8.3f} {mean:>8.3f}")
    p50, p99 = pct(mesh, 50) / pct(bare, 50), pct(mesh, 99) / pct(bare, 99)
    print(f"ratio    p50 {p50:.2f}x   p99 {p99:.2f}x (target <= 1.30)")
    from bench_stages import report_stage_times

    report_stage_times()


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).parent))
    main()
