"""Scale-out: the normalizer's two hot paths with 1, 2 and 3 consumers in one group, on one Redis
(1 shard) and on a 3-primary Redis Cluster on loopback (3 shards), each beside a bare loop doing the
same work (bench/_bare_scale.py) in the same run, on the same Redis:

- md: ticks from 6 venues x 200 symbols, nx:{md:raw:<venue>} -> nx:{md:<SYMBOL>} (the lean path);
- orders: nx:{orders:routed} -> nx:{orders:<venue>}, each order published with its dedupe key (the order
  path's hop: the router, fx and fills hops commit the same way);
- orders-3p: the same with the symbols in three partitions (symbols.yaml `partitions:`, docs/scaling.md
  "Partitions"), so the routed orders are three streams, each in a slot of its own.

The backlog is written before the consumers start (their group made at 0 first), so no producer
competes for the CPU; throughput is messages over the span between the first and the last output
entry (Redis's own timestamps). Redis CPU per message is INFO cpu summed over the shards around the
run. Then the per-shard figure and the processes and shards the plan's 1.2M msgs/s of market data
would need, with the arithmetic (docs/scaling.md). Figures only; on a shared 2-core machine every
process competes for the same two cores, so more consumers or shards cannot add throughput here.

    python bench/scale.py [--messages 20000] [--consumers 1,2,3] [--paths md,orders,orders-3p]
"""

from __future__ import annotations

import argparse
import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import redis
from marketdata import SYMBOLS, TARGET, VENUES, bench_config, drain, preload, start

from nexus_mesh.config_files import load_symbols
from nexus_mesh.connection import connect
from nexus_mesh.embedded import RedisServer
from nexus_protocol import Envelope, Names, Order, Side, encode
from nexus_protocol.ids import client_order_id, new_signal_id
from nexus_protocol.partitions import Partitions
from nexus_testing.topologies import LocalCluster

ROOT = Path(__file__).resolve().parents[1]
GROUP = "normalizer"


@dataclass(frozen=True)
class Topology:
    label: str
    url: str
    ports: list[int]  # every primary, for INFO cpu and FLUSHALL


@contextmanager
def topology(shards: int, tmp: Path) -> Iterator[Topology]:
    if shards == 1:
        with RedisServer(tmp / "single") as server:
            yield Topology("1 shard", server.url, [server.port])
        return
    cluster = LocalCluster(tmp / "cluster", primaries=shards).start()
    try:
        yield Topology(f"{shards} shards", cluster.url, [n.port for n in cluster.nodes])
    finally:
        cluster.stop()


def preload_orders(r: redis.Redis, parts: Partitions, n: int) -> None:
    for stream in parts.streams("orders:routed"):
        r.xgroup_create(stream, GROUP, id="0", mkstream=True)
    pipe = r.pipeline(transaction=False)
    for i in range(n):
        v, s, sid = VENUES[i % len(VENUES)], SYMBOLS[(i // len(VENUES)) % len(SYMBOLS)], new_signal_id()
        coid = client_order_id(sid, f"b{i % len(VENUES)}")
        order = Order(client_order_id=coid, signal_id=sid, venue=v, symbol=s, side=Side.BUY, quantity=1)
        stream = parts.stream("orders:routed", s)
        pipe.xadd(stream, encode(Envelope.new(order, id=coid)))  # type: ignore[arg-type]
        if i % 2000 == 1999:
            pipe.execute()
    pipe.execute()


def cpu(ports: list[int]) -> float:
    total = 0.0
    for port in ports:
        info = redis.Redis(port=port).info("cpu")
        total += float(info["used_cpu_sys"]) + float(info["used_cpu_user"])
    return total


def run(
    topo: Topology, path: str, kind: str, consumers: int, n: int, ns: str, cfg: Path
) -> tuple[float, float]:
    """Messages/s and Redis CPU seconds per message for one configuration."""
    r = connect(topo.url, retries=3)
    names = Names(ns)
    if path == "md":
        preload(r, names, n)
        outs = [names.md(s) for s in SYMBOLS]
    else:
        registry = load_symbols(cfg)
        preload_orders(r, Partitions.of(names, registry), n)
        outs = [names.orders(v) for v in VENUES]
    cpu0 = cpu(topo.ports)
    procs = start(kind, path, consumers, topo.url, ns, cfg, n)
    got = drain(r, outs, n, procs, f"{path} {kind} x{consumers}")
    redis_cpu = cpu(topo.ports) - cpu0
    total, first, last = got
    for port in topo.ports:
        redis.Redis(port=port).flushall()
    r.close()
    return total / (max(1, last - first) / 1000), redis_cpu / total


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--messages", type=int, default=20_000)
    ap.add_argument("--consumers", default="1,2,3")
    ap.add_argument("--paths", default="md,orders,orders-3p")
    args = ap.parse_args()
    counts = [int(c) for c in args.consumers.split(",")]
    paths = args.paths.split(",")
    rows: list[tuple[str, str, int, float, float, float]] = []
    with tempfile.TemporaryDirectory() as tmp_s:
        tmp = Path(tmp_s)
        one = bench_config(tmp)
        configs = {"md": one, "orders": one, "orders-3p": bench_config(tmp, groups=3)}
        shape = f"{len(VENUES)} venues x {len(SYMBOLS)} symbols"
        print(f"{args.messages} messages per run, {shape}, {os.cpu_count()} cores")
        for shards in (1, 3):
            with topology(shards, tmp) as topo:
                for path in paths:
                    for c in counts:
                        ns = f"s{shards}p{paths.index(path)}c{c}"
                        cfg = configs[path]
                        bare, _ = run(topo, path, "bare", c, args.messages, ns + "b", cfg)
                        mesh, mcpu = run(topo, path, "mesh", c, args.messages, ns + "m", cfg)
                        rows.append((topo.label, path, c, bare, mesh, mcpu))
                        print(
                            f"  {topo.label} {path} x{c}: bare {bare:,.0f}/s, mesh {mesh:,.0f}/s", flush=True
                        )
    print(f"\n{'redis':<9} {'path':<9} {'consumers':>9} {'bare msg/s':>11} {'mesh msg/s':>11} {'ratio':>6} "
          f"{'per shard':>10} {'redis cpu us/msg':>17}")  # fmt: skip
    for label, path, c, bare, mesh, mcpu in rows:
        shards = int(label.split()[0])
        print(f"{label:<9} {path:<9} {c:>9} {bare:>11,.0f} {mesh:>11,.0f} {mesh / bare:>6.2f} "
              f"{mesh / shards:>10,.0f} {mcpu * 1e6:>17.1f}")  # fmt: skip
    md1 = next((r for r in rows if r[0] == "1 shard" and r[1] == "md" and r[2] == 1), None)
    if md1 is not None:
        per_process, cpu_per_msg = md1[4], md1[5]
        print(
            f"\n1.2M msgs/s of market data: {TARGET:,} / {per_process:,.0f} per normalizer process = "
            f"{TARGET / per_process:.0f} processes (each a core)\n"
            f"Redis: {TARGET:,} x {cpu_per_msg * 1e6:.1f} us CPU per message = "
            f"{TARGET * cpu_per_msg:.1f} cores -> {TARGET * cpu_per_msg / 0.7:.0f} shards "
            "at 70% of a core each,\n"
            "with the md streams spread over them (a stream per venue and per symbol: each its own slot)"
        )


if __name__ == "__main__":
    main()
