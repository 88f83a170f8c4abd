"""The strategy host on a tick file: in process (Parquet) and as the `nexus-bridge run --replay`
command (CSV). Ticks come from the file; signals go through a running bridge; the test plays the
gateway by answering each routed signal with a final execution, which must reach the strategy."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
from collections.abc import Callable
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import redis

from nexus_bridge import NexusGatewayInterface
from nexus_bridge.examples.momentum import Momentum
from nexus_bridge.host import StrategyHost
from nexus_mesh.processor import StreamProcessor
from nexus_protocol import Envelope, Execution, Names, OrderStatus, Signal
from nexus_sim.replay import load_ticks
from nexus_testing import REPO_ROOT, read_stream, xadd

ROWS = [  # a 10-point rise over three ticks: the momentum strategy buys once
    ("2025-03-03T14:30:00.000000001", "NQ", 20999.75, 21000.25, 21000.0, 1),
    ("2025-03-03T14:30:00.5", "NQ", 20999.75, 21000.25, 21000.0, 2),
    ("2025-03-03T14:30:01", "NQ", 21009.75, 21010.25, 21010.0, 1),
    ("2025-03-03T14:30:01.5", "NQ", 21009.75, 21010.25, 21010.0, 1),
]


def answer_signals(client: redis.Redis, names: Names, stop: threading.Event) -> None:
    """Fill every signal the bridge routes (the gateway's part, played by the test)."""
    done: set[str] = set()
    while not stop.is_set():
        for e in read_stream(client, names.signals):
            s = e.body
            if isinstance(s, Signal) and s.signal_id not in done:
                ex = Execution(
                    signal_id=s.signal_id,
                    symbol=s.symbol,
                    side=s.side,
                    quantity=s.quantity,
                    status=OrderStatus.FILLED,
                    final=True,
                    filled_quantity=s.quantity,
                    avg_price=s.reference_price,
                )
                xadd(client, names.executions, Envelope.new(ex, id=f"{s.signal_id}:final", trace=s.signal_id))
                done.add(s.signal_id)
        stop.wait(0.05)


def test_replay_parquet_in_process(
    redis_url: str,
    namespace: str,
    client: redis.Redis,
    names: Names,
    tmp_path: Path,
    bridge_thread: Callable[..., StreamProcessor],
) -> None:
    bridge_thread(redis_url)
    path = tmp_path / "ticks.parquet"
    cols = list(zip(*ROWS, strict=True))
    pq.write_table(
        pa.table(
            {n: list(c) for n, c in zip(("ts", "symbol", "bid", "ask", "last", "size"), cols, strict=True)}
        ),
        path,
    )
    strat = Momentum(lookback=3, threshold_points=5)
    gw = NexusGatewayInterface(redis_url, namespace=namespace)
    gw.connect()
    host = StrategyHost(strat, gw, journal=tmp_path / "journal.jsonl")
    stop = threading.Event()
    gateway = threading.Thread(target=answer_signals, args=(client, names, stop), daemon=True)
    gateway.start()
    try:
        host.run_replay(load_ticks(path), threading.Event(), drain_s=10)
    finally:
        stop.set()
        gw.stop()
        host.close()
    assert host.counters["ticks"] == 4 and host.counters["signals"] == 1
    [ex] = strat.executions
    assert ex["status"] == "filled" and ex["final"] and ex["avg_price"] == 21010.0
    kinds = [json.loads(line)["kind"] for line in (tmp_path / "journal.jsonl").read_text().splitlines()]
    assert kinds == ["started", "signal", "execution", "finished"]


def test_replay_csv_through_the_cli(
    redis_url: str,
    namespace: str,
    client: redis.Redis,
    names: Names,
    tmp_path: Path,
    bridge_thread: Callable[..., StreamProcessor],
) -> None:
    bridge_thread(redis_url)
    path = tmp_path / "ticks.csv"
    path.write_text("ts,symbol,bid,ask,last,size\n" + "".join(",".join(map(str, r)) + "\n" for r in ROWS))
    journal = tmp_path / "journal.jsonl"
    stop = threading.Event()
    gateway = threading.Thread(target=answer_signals, args=(client, names, stop), daemon=True)
    gateway.start()
    try:
        out = subprocess.run(
            [
                sys.executable,
                "-m",
                "nexus_bridge.cli",
                "run",
                "--strategy",
                "nexus_bridge.examples.momentum:strategy",
                "--param",
                "lookback=3",
                "--param",
                "threshold_points=5",
                "--replay",
                str(path),
                "--drain",
                "10",
                "--journal",
                str(journal),
                "--redis-url",
                redis_url,
                "--namespace",
                namespace,
            ],
            cwd=REPO_ROOT,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
    finally:
        stop.set()
    assert out.returncode == 0, out.stdout + out.stderr
    rows = [json.loads(line) for line in journal.read_text().splitlines()]
    [sig] = [r for r in rows if r["kind"] == "signal"]
    [ex] = [r["execution"] for r in rows if r["kind"] == "execution"]
    assert ex["signal_id"] == sig["signal_id"] and ex["final"]
    assert rows[-1]["kind"] == "finished" and rows[-1]["open_signals"] == []
    assert f"momentum execution NQ {sig['signal_id']}: filled" in out.stderr


def test_cli_refuses_a_bad_strategy(redis_url: str, namespace: str) -> None:
    out = subprocess.run(
        [
            sys.executable,
            "-m",
            "nexus_bridge.cli",
            "run",
            "--strategy",
            "no.such.module:x",
            "--redis-url",
            redis_url,
            "--namespace",
            namespace,
        ],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert out.returncode == 2 and "no.such.module" in out.stdout + out.stderr
