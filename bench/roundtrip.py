"""Signals in, final executions out, through every gateway stage as its own process, beside two bare
redis-py relay chains in the same run on the same Redis (one process per hop):

- bare 1:1: six hops, one entry per hop (the chain's length only);
- bare fan-out: the same messages per hop as the mesh: 1 signal -> 4 legs (+ the route, which skips to
  the fills hop), 4 venue orders, 8 venue reports (each venue accepts, then fills), 8 normalized, 8 in
  USD, 9 executions (the last is final).

    python bench/roundtrip.py [--signals 1000]

Mesh path: signals -> router -> orders:routed -> normalizer -> orders:{4 venues} -> 4 sim venues (zero
latency) -> fills:raw -> normalizer -> fills:normalized -> fx -> fills -> fills aggregator ->
executions. Signals go one at a time; latency is from XADD to the final execution. Redis commands per
signal come from INFO commandstats around each run. Then each stage's handler time without I/O.
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
from collections.abc import Callable
from pathlib import Path

import redis
import yaml

from nexus_mesh.embedded import RedisServer
from nexus_protocol import Envelope, Event, Execution, Names, Side, Signal, decode, encode
from nexus_protocol.ids import new_signal_id

ROOT = Path(__file__).resolve().parents[1]
STAGES = ("router", "normalizer", "fx", "fills")
VENUES = ("nt8", "sierra", "quantower", "mt5-global")  # dev's NQ venues: the router's 4 legs
WARMUP = 50


def pct(xs: list[float], p: float) -> float:
    return statistics.quantiles(xs, n=1000)[int(p * 10) - 1]


def bench_config(tmp: Path) -> Path:
    cfg = tmp / "config"
    shutil.copytree(ROOT / "deploy" / "config", cfg)
    risk = yaml.safe_load((cfg / "risk.yaml").read_text())
    risk["default"].update(
        max_daily_trades=10**9, throttle_per_second=10**6, max_position_per_symbol=10**9,
        max_total_position=10**9, max_position_value_usd=10**15, max_order_qty=10**9,
        max_daily_loss_usd=10**15,  # buying and selling across the spread loses a little each time
    )  # fmt: skip
    risk["default"].pop("per_symbol", None)
    for env in (risk.get("environments") or {}).values():
        env.pop("per_symbol", None)
    (cfg / "risk.yaml").write_text(yaml.safe_dump(risk))
    # Exactly the 4 venues played here, each taking new exposure at any hour (a weekend included):
    # every signal sends 4 legs, none refused for a missing adapter or a closed session.
    venues = yaml.safe_load((cfg / "venues.yaml").read_text())
    dev = venues["environments"]["dev"]
    venues["environments"]["dev"] = {v: {**dev[v], "sessions": {"*": "always"}} for v in VENUES}
    (cfg / "venues.yaml").write_text(yaml.safe_dump(venues))
    return cfg


def start_mesh(url: str, ns: str, cfg: Path, logs: Path) -> list[subprocess.Popen[bytes]]:
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("NX_")},
        "NX_REDIS_URL": url,
        "NX_NAMESPACE": ns,
        "NX_ENVIRONMENT": "dev",
        "NX_CONFIG_DIR": str(cfg),
        "NX_LOG_LEVEL": "WARNING",
        "NX_FX_SOURCE": "fixed",
        "NX_FX_FIXED_USDBRL": "5.49",
    }
    mods = [(f"nexus_gateway.{s}", s, {}) for s in (*STAGES, "rollover")]
    mods += [
        ("nexus_gateway.sim_venue", f"venue-{v}", {"NX_VENUE": v, "NX_SIM_MD_INTERVAL_S": "3600"})
        for v in VENUES
    ]
    procs = []
    for module, name, extra in mods:
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


def wait_mesh(r: redis.Redis, names: Names, n: int) -> None:
    deadline = time.monotonic() + 180
    while len(list(r.scan_iter(match=names.health_pattern()))) < n or not r.hlen(names.contracts):
        if time.monotonic() > deadline:
            up = sorted(k.decode() for k in r.scan_iter(match=names.health_pattern()))
            raise RuntimeError(f"mesh did not come up: {len(up)} of {n} heartbeating ({up})")
        time.sleep(0.1)
    while not all(r.exists(names.control("venue", v)) for v in VENUES):
        time.sleep(0.05)


def commands(r: redis.Redis) -> dict[str, int]:
    return {k.removeprefix("cmdstat_"): int(v["calls"]) for k, v in r.info("commandstats").items()}


def counted(r: redis.Redis, n: int, run: Callable[[], list[float]]) -> tuple[list[float], dict[str, float]]:
    """Run, and the Redis commands per signal it caused (INFO commandstats before and after)."""
    before = commands(r)
    out = run()
    after = commands(r)
    per = {k: (v - before.get(k, 0)) / n for k, v in after.items() if v - before.get(k, 0) > 0}
    per.pop("info", None)  # our own INFO calls
    return out, per


def mesh_latencies(r: redis.Redis, names: Names, n: int) -> list[float]:
    cursor = b"$"
    out = []
    for i in range(n + WARMUP):
        sid = new_signal_id()
        sig = Signal(signal_id=sid, symbol="NQ", side=Side.BUY if i % 2 == 0 else Side.SELL, quantity=1)
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
        if i >= WARMUP:
            out.append(time.perf_counter() - t0)
    return out


def bare_chain(url: str, r: redis.Redis, ns: str, hops: list[tuple[int, int, int, int | None]], n: int,
               per_signal: int) -> list[float]:  # fmt: skip
    """Relays (in, out, fan, side); one signal at a time until `per_signal` entries reach the end."""
    streams = [f"{ns}:{{bare{i}}}" for i in range(max(max(h[1], h[3] or 0) for h in hops) + 1)]
    procs = []
    for src, dst, fan, side in hops:
        args = [url, streams[src], streams[dst], str(fan)] + ([streams[side]] if side is not None else [])
        procs.append(subprocess.Popen([sys.executable, str(ROOT / "bench" / "_bare_relay.py"), *args]))
    try:
        deadline = time.monotonic() + 30
        while not all(r.exists(streams[h[0]]) for h in hops):
            if time.monotonic() > deadline:
                raise RuntimeError("bare chain did not start")
            time.sleep(0.05)
        cursor = b"$"
        out = []
        for i in range(n + WARMUP):
            fields = encode(Envelope.new(Event(kind="bench", source="bench", message="x" * 40), id=f"b{i}"))
            t0 = time.perf_counter()
            r.xadd(streams[0], fields)  # type: ignore[arg-type]
            seen = 0
            while seen < per_signal:
                reply = r.xread({streams[-1]: cursor}, block=10_000)
                items = reply[0][1]
                cursor = items[-1][0]
                seen += len(items)
            if i >= WARMUP:
                out.append(time.perf_counter() - t0)
        return out
    finally:
        for p in procs:
            p.terminate()
            p.wait(10)


ONE_TO_ONE = [(i, i + 1, 1, None) for i in range(6)]
# router: 4 legs + the route (to the fills hop's input, stream 5); venues: 2 reports per order; then
# 1:1 to the executions (6): 9 per signal, as the mesh's
FAN_OUT = [(0, 1, 4, 5), (1, 2, 1, None), (2, 3, 2, None), (3, 4, 1, None), (4, 5, 1, None), (5, 6, 1, None)]
FAN_OUT_FINAL = 9


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--signals", type=int, default=1000)
    args = ap.parse_args()
    n = args.signals
    with tempfile.TemporaryDirectory() as tmp_s, RedisServer(Path(tmp_s) / "redis") as server:
        tmp = Path(tmp_s)
        print(f"service logs in {tmp}", file=sys.stderr)
        r = redis.Redis.from_url(server.url)
        names = Names("bench")
        procs = start_mesh(server.url, "bench", bench_config(tmp), tmp)
        try:
            wait_mesh(r, names, len(procs))
            bare1, c1 = counted(r, n + WARMUP, lambda: bare_chain(server.url, r, "bare1", ONE_TO_ONE, n, 1))
            bare4, c4 = counted(
                r, n + WARMUP, lambda: bare_chain(server.url, r, "bare4", FAN_OUT, n, FAN_OUT_FINAL)
            )
            bare_hops = [r.xlen(f"bare4:{{bare{i}}}") / (n + WARMUP) for i in range(7)]
            mesh, cm = counted(r, n + WARMUP, lambda: mesh_latencies(r, names, n))
            hops = ("signals", "orders:routed", "fills:raw", "fills:normalized", "fills", "executions")
            per_hop = {s: r.xlen(names.stream(s)) / (n + WARMUP) for s in hops}
            per_hop["orders:{venue}"] = sum(r.xlen(names.orders(v)) for v in VENUES) / (n + WARMUP)
        finally:
            for p in procs:
                p.terminate()
            for p in procs:
                p.wait(15)
        r.close()
    print(f"{n} signals, one at a time, same redis-server, same run; mesh with {len(VENUES)} legs per signal")
    print("mesh entries per signal: " + ", ".join(f"{k} {v:.2f}" for k, v in per_hop.items()))
    print("bare fan-out entries per signal, per hop: " + ", ".join(f"{v:.2f}" for v in bare_hops))
    legs = per_hop["orders:{venue}"]
    if legs < len(VENUES) - 0.005:
        print(f"WARNING: {legs:.2f} legs per signal reached a venue, not {len(VENUES)}: see the events")
    print(f"{'chain':<14} {'p50 ms':>8} {'p99 ms':>8} {'mean ms':>8} {'redis cmds/signal':>18}")
    for name, xs, c in (("bare 1:1", bare1, c1), ("bare fan-out", bare4, c4), ("mesh", mesh, cm)):
        p50, p99, mean = pct(xs, 50) * 1e3, pct(xs, 99) * 1e3, statistics.fmean(xs) * 1e3
        print(f"{name:<14} {p50:>8.3f} {p99:>8.3f} {mean:>8.3f} {sum(c.values()):>18.1f}")
    for name, base in (("bare 1:1", bare1), ("bare fan-out", bare4)):
        r50, r99 = pct(mesh, 50) / pct(base, 50), pct(mesh, 99) / pct(base, 99)
        print(
            f"mesh / {name:<13} p50 {r50:.2f}x   p99 {r99:.2f}x"
            + ("  (target p99 <= 1.30)" if "fan" in name else "")
        )
    print(
        "redis commands per signal, mesh: "
        + ", ".join(f"{k} {v:.1f}" for k, v in sorted(cm.items(), key=lambda x: -x[1]))
    )
    print(
        "redis commands per signal, bare fan-out: "
        + ", ".join(f"{k} {v:.1f}" for k, v in sorted(c4.items(), key=lambda x: -x[1]))
    )
    from bench_stages import report_stage_times

    report_stage_times()


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).parent))
    main()
