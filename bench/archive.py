"""The recorder's throughput into SQLite and PostgreSQL beside a bare batched INSERT loop, in the same
run, and whether it keeps up with the mesh at the rate bench/roundtrip.py reaches.

    python bench/archive.py [--signals 2000] [--rounds 2] [--mesh-signals 500] [--pg URL]

1. Throughput: a backlog of signal lives (signal, route, routed and venue order, fill raw /
   normalized / in USD, execution: 8 entries on 8 streams) is written, then one process drains it
   into an empty archive: `nexus_gateway.recorder`, or bench/_bare_archive.py, a plain loop doing the
   same work (the same streams, batch size, decode, rows, tables and indexes, the same compiled
   INSERT ... ON CONFLICT DO NOTHING by executemany in one transaction per batch, commit, then XACK)
   on the bare driver with no stream processor. Entries/s is measured from Redis (acknowledged
   entries over time, from the first acknowledgement to the last), so start-up is not counted.
   Target: recorder >= 0.8x the bare loop.
2. Where the time goes: per entry, in-process, the parts both do (decode, rows) and the write of
   a batch through the archive store (SQLAlchemy connection, one transaction) beside the bare driver.
3. Keeping up: the gateway stages and a simulated venue (as bench/roundtrip.py starts them) plus the
   recorder; signals one at a time as roundtrip.py sends them. Reported: signals/s reached, entries
   recorded per signal, the entries/s the recorder must sustain, its largest backlog during the run,
   and how long after the last final execution the archive held everything.
PostgreSQL: --pg or NX_TEST_PG_URL (default postgresql://postgres@127.0.0.1:5432/postgres): a database
is created and dropped per measurement. Figures only, never an assertion.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import redis

from nexus_archive.recorded import GROUP, recorded_streams
from nexus_mesh.embedded import RedisServer
from nexus_mesh.venues import load_venues
from nexus_protocol import Names
from nexus_protocol.codec import encode
from nexus_testing.archive import create_database, drop_database, signal_life

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "bench"))
import _bare_archive  # noqa: E402
import roundtrip  # noqa: E402  (the mesh as bench/roundtrip.py runs it)

T = TypeVar("T")
BATCH = 500
VENUES = ("nt8",)  # the sample signal lives go to nt8; the recorder also reads the other venues' streams


def preload(r: redis.Redis, names: Names, signals: int) -> int:
    pipe, n = r.pipeline(transaction=False), 0
    for i in range(signals):
        for s in signal_life(f"B{i:07d}", 1_795_000_000_000 + i):
            pipe.xadd(names.stream(s.stream), encode(s.env))  # type: ignore[arg-type]
            n += 1
        if i % 200 == 199:
            pipe.execute()
    pipe.execute()
    return n


def acknowledged(r: redis.Redis, keys: list[str], group: str) -> int:
    pipe = r.pipeline(transaction=False)
    for k in keys:
        pipe.xinfo_groups(k)
    done = 0
    for groups in pipe.execute(raise_on_error=False):
        for g in groups if isinstance(groups, list) else ():
            name = g["name"].decode() if isinstance(g["name"], bytes) else g["name"]
            if name == group:
                done += int(g.get("entries-read") or 0) - int(g.get("pending") or 0)
    return done


def drain_rate(
    r: redis.Redis, keys: list[str], group: str, total: int, proc: subprocess.Popen[bytes]
) -> float:
    """Entries/s from the first acknowledgement to the last (start-up excluded)."""
    t0 = n0 = None
    deadline = time.monotonic() + 600
    while time.monotonic() < deadline:
        n = acknowledged(r, keys, group)
        now = time.perf_counter()
        if n and t0 is None:
            t0, n0 = now, n
        if n >= total:
            assert t0 is not None and n0 is not None
            return (total - n0) / max(now - t0, 1e-6)
        if proc.poll() is not None:
            raise RuntimeError(f"the {group} process exited with {proc.returncode}")
        time.sleep(0.01)
    raise RuntimeError(f"{group}: {acknowledged(r, keys, group)} of {total} after 600 s")


def recorder(
    url: str, redis_url: str, ns: str, cfg: Path | None = None, env: str = "dev"
) -> subprocess.Popen[bytes]:
    base = {k: v for k, v in os.environ.items() if not k.startswith("NX_")}
    extra = {"NX_CONFIG_DIR": str(cfg)} if cfg else {}
    return subprocess.Popen(
        [sys.executable, "-m", "nexus_gateway.recorder"],
        env={
            **base,
            "NX_REDIS_URL": redis_url,
            "NX_NAMESPACE": ns,
            "NX_ARCHIVE_URL": url,
            "NX_ENVIRONMENT": env,
            "NX_BATCH_SIZE": str(BATCH),
            "NX_LOG_LEVEL": "WARNING",
            "NX_CONSUMER": "bench",
            **extra,
        },
        cwd=ROOT,
    )


def bare(url: str, redis_url: str, ns: str) -> subprocess.Popen[bytes]:
    script = str(ROOT / "bench" / "_bare_archive.py")
    streams = recorded_streams(VENUES)
    return subprocess.Popen([sys.executable, script, url, redis_url, ns, str(BATCH), *streams], cwd=ROOT)


def with_database(kind: str, tmp: Path, run: Callable[[str], T]) -> T:
    if kind == "sqlite":
        path = tmp / f"{uuid.uuid4().hex[:8]}.db"
        return run(f"sqlite:///{path}")
    name = f"nxbench_{uuid.uuid4().hex[:10]}"
    url = create_database(name)
    try:
        return run(url)
    finally:
        drop_database(name)


def throughput(server: RedisServer, kind: str, who: str, signals: int, tmp: Path) -> float:
    r = redis.Redis.from_url(server.url)
    ns = f"b{uuid.uuid4().hex[:8]}"
    names = Names(ns)
    keys = [names.stream(s) for s in recorded_streams(VENUES)]
    total = preload(r, names, signals)

    def measure(url: str) -> float:
        proc = recorder(url, server.url, ns) if who == "recorder" else bare(url, server.url, ns)
        try:
            return drain_rate(r, keys, GROUP if who == "recorder" else "bare", total, proc)
        finally:
            proc.terminate()
            proc.wait(15)

    try:
        return with_database(kind, tmp, measure)
    finally:
        for k in r.scan_iter(match=f"{ns}:*", count=10_000):
            r.delete(k)
        r.close()


def keep_up(server: RedisServer, kind: str, signals: int, tmp: Path) -> dict[str, float]:
    r = redis.Redis.from_url(server.url)
    ns = f"k{uuid.uuid4().hex[:8]}"
    names = Names(ns)
    cfg = roundtrip.bench_config(tmp)
    keys = [names.stream(s) for s in recorded_streams(load_venues(cfg, "dev"))]

    def measure(url: str) -> dict[str, float]:
        procs = roundtrip.start_mesh(server.url, ns, cfg, tmp)
        procs.append(rec := recorder(url, server.url, ns, cfg))
        backlog: list[int] = []
        stop = threading.Event()

        def watch() -> None:
            while not stop.is_set():
                written = sum(int(x) for x in _lengths(r, keys))
                backlog.append(written - acknowledged(r, keys, GROUP))
                time.sleep(0.05)

        try:
            roundtrip.wait_mesh(r, names, len(procs))
            watcher = threading.Thread(target=watch, daemon=True)
            watcher.start()
            t0 = time.perf_counter()
            lat = roundtrip.mesh_latencies(r, names, signals)
            elapsed = time.perf_counter() - t0
            last_final = time.perf_counter()
            total = sum(int(x) for x in _lengths(r, keys))
            drain_rate(r, keys, GROUP, total, rec)
            drained_ms = (time.perf_counter() - last_final) * 1000
            stop.set()
            watcher.join()
            return {
                "signals_per_s": (signals + 50) / elapsed,  # mesh_latencies sends 50 warm-up signals first
                "p50_ms": statistics.median(lat) * 1000,
                "entries_per_signal": total / (signals + 50),
                "needed_per_s": total / elapsed,
                "max_backlog": float(max(backlog or [0])),
                "drained_ms": drained_ms,
            }
        finally:
            stop.set()
            for p in procs:
                p.terminate()
            for p in procs:
                p.wait(15)

    try:
        return with_database(kind, tmp, measure)
    finally:
        r.close()


def costs(kind: str, signals: int, tmp: Path) -> dict[str, float]:
    """Microseconds per entry of each part, best of 3, on entries as Redis returns them."""
    import datetime as dt

    from nexus_archive.engine import open_engine
    from nexus_archive.migrate import upgrade
    from nexus_archive.rows import Rows, rows
    from nexus_archive.store import ArchiveStore, by_table, compiled_insert
    from nexus_protocol.codec import decode

    samples = [s for i in range(signals) for s in signal_life(f"C{i:07d}", 1_795_000_000_000 + i)]
    fields = [
        {k.encode(): v if isinstance(v, bytes) else v.encode() for k, v in encode(s.env).items()}
        for s in samples
    ]
    now, n = dt.datetime.now(dt.UTC), len(samples)

    def best(fn: Callable[[], object]) -> float:
        times = []
        for _ in range(3):
            t0 = time.perf_counter()
            fn()
            times.append(time.perf_counter() - t0)
        return min(times) / n * 1e6

    envs = [decode(f) for f in fields]
    batch = [rows("nx", s.stream, s.entry_id, e, now) for s, e in zip(samples, envs, strict=True)]

    def renamed(rnd: int) -> list[Rows]:  # a new namespace each round: every insert is new
        ns = f"r{rnd}"
        return [
            Rows(b.table, {**b.row, "namespace": ns}, [{**x, "namespace": ns} for x in b.legs]) for b in batch
        ]

    def write(url: str) -> float:
        engine = open_engine(url)
        upgrade(engine)
        store, spent = ArchiveStore(engine), []
        for rnd in range(3):
            fresh = renamed(rnd)
            t0 = time.perf_counter()
            for i in range(0, n, BATCH):
                store.write(fresh[i : i + BATCH])
            spent.append(time.perf_counter() - t0)
        engine.dispose()
        return min(spent) / n * 1e6

    def bare_write(url: str) -> float:
        conn, dialect = _bare_archive.connect(url)
        spent = []
        for rnd in range(3):
            fresh = renamed(rnd)
            t0 = time.perf_counter()
            cur = conn.cursor()
            for i in range(0, n, BATCH):
                for table, values in by_table(fresh[i : i + BATCH]):
                    ins = compiled_insert(dialect, table)
                    cur.executemany(ins.sql, ins.params(values))
                conn.commit()
            spent.append(time.perf_counter() - t0)
        conn.close()
        return min(spent) / n * 1e6

    def with_db(fn: Callable[[str], float]) -> float:
        return with_database(kind, tmp, fn)

    return {
        "decode": best(lambda: [decode(f) for f in fields]),
        "rows": best(
            lambda: [rows("nx", s.stream, s.entry_id, e, now) for s, e in zip(samples, envs, strict=True)]
        ),
        "store write": with_db(write),
        "driver write": with_db(bare_write),
    }


def _lengths(r: redis.Redis, keys: list[str]) -> list[Any]:
    pipe = r.pipeline(transaction=False)
    for k in keys:
        pipe.xlen(k)
    return list(pipe.execute())


def keeping_up(server: RedisServer, signals: int, capacity: dict[str, float], tmp: Path) -> None:
    print(f"\nkeeping up: {signals} signals one at a time through the mesh (as roundtrip.py)")
    head = (
        "database",
        "signals/s",
        "entries/signal",
        "needed/s",
        "capacity/s",
        "headroom",
        "max backlog",
    )
    print("{:<11} {:>9} {:>14} {:>9} {:>10} {:>8} {:>11} {:>10}".format(*head, "drained ms"))
    for kind in ("sqlite", "postgresql"):
        (tmp / kind).mkdir()
        k = keep_up(server, kind, signals, tmp / kind)
        room = capacity[kind] / k["needed_per_s"]
        print(
            f"{kind:<11} {k['signals_per_s']:>9.0f} {k['entries_per_signal']:>14.1f} "
            f"{k['needed_per_s']:>9.0f} {capacity[kind]:>10,.0f} {room:>7.1f}x "
            f"{k['max_backlog']:>11.0f} {k['drained_ms']:>10.0f}"
        )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--signals", type=int, default=2000, help="signal lives in the backlog (8 entries each)")
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument(
        "--mesh-signals", type=int, default=500, help="signals through the mesh for part 3 (0: skip it)"
    )
    ap.add_argument("--pg", default=None, help="PostgreSQL admin URL (default NX_TEST_PG_URL or local)")
    args = ap.parse_args()
    if args.pg:
        os.environ["NX_TEST_PG_URL"] = args.pg
    rates: dict[tuple[str, str], list[float]] = {}
    with tempfile.TemporaryDirectory() as tmp_s, RedisServer(Path(tmp_s) / "redis") as server:
        tmp = Path(tmp_s)
        entries = args.signals * 8
        print(f"backlog {entries} entries ({args.signals} signal lives), batch {BATCH}, {args.rounds} rounds")
        for _ in range(args.rounds):
            for kind in ("sqlite", "postgresql"):
                for who in ("bare", "recorder"):  # alternating, so drift hits both
                    rates.setdefault((kind, who), []).append(throughput(server, kind, who, args.signals, tmp))
        print(
            "{:<11} {:>15} {:>19} {:>6}  (target >= 0.80)".format(
                "database", "bare entries/s", "recorder entries/s", "ratio"
            )
        )
        capacity = {}
        for kind in ("sqlite", "postgresql"):
            b, rec = statistics.median(rates[(kind, "bare")]), statistics.median(rates[(kind, "recorder")])
            capacity[kind] = rec
            runs = "  ".join(
                f"{x:,.0f}/{y:,.0f}"
                for x, y in zip(rates[(kind, "bare")], rates[(kind, "recorder")], strict=True)
            )
            print(f"{kind:<11} {b:>15,.0f} {rec:>19,.0f} {rec / b:>6.2f}   runs bare/recorder: {runs}")
        print(f"\nwhere the time goes, microseconds per entry (in-process, {entries} entries, best of 3)")
        parts = {kind: costs(kind, args.signals, tmp) for kind in ("sqlite", "postgresql")}
        print("{:<19} {:>8} {:>11}".format("part", "sqlite", "postgresql"))
        for part in parts["sqlite"]:
            print(f"{part:<19} {parts['sqlite'][part]:>8.1f} {parts['postgresql'][part]:>11.1f}")
        if args.mesh_signals > 0:
            keeping_up(server, args.mesh_signals, capacity, tmp)


if __name__ == "__main__":
    main()
