"""The demo: the whole mesh on an embedded Redis with simulated venues, signals in, executions out."""

from __future__ import annotations

import tempfile
import time
from pathlib import Path
from typing import Any

import redis
from rich.console import Console
from rich.table import Table

from nexus_mesh.publish import Output, Publisher
from nexus_ops.supervisor import Supervisor
from nexus_protocol import Envelope, Execution, Names, Side, Signal, decode
from nexus_protocol.ids import new_signal_id

console = Console()
DEMO_SIGNALS = (("NQ", Side.BUY, 1.0), ("ES", Side.SELL, 1.0), ("WIN", Side.BUY, 2.0), ("NQ", Side.SELL, 1.0))


def run(root: Path, signals: int = 4, environment: str = "dev") -> int:
    with tempfile.TemporaryDirectory(prefix="nexus-demo-") as tmp:
        sup = Supervisor(root=root, environment=environment, data_dir=Path(tmp), namespace="demo")
        t0 = time.monotonic()
        services = sup.start()
        console.print(
            f"[bold]NEXUS mesh demo[/]: embedded Redis {sup.redis_url}, environment {environment}, "
            f"{len(services)} services: {', '.join(s.name for s in services)}"
        )
        try:
            failed = sup.wait_ready()
            if failed:
                console.print(f"[red]not ready: {', '.join(failed)}[/] (logs in {tmp}/logs)")
                return 1
            console.print(f"all services heartbeating after {time.monotonic() - t0:.1f} s")
            assert sup.redis_url is not None
            return _drive(redis.Redis.from_url(sup.redis_url), Names("demo"), signals)
        finally:
            sup.stop()


def _drive(client: redis.Redis, names: Names, count: int) -> int:
    _wait_contracts(client, names)
    pub = Publisher(client, dedupe_ttl_ms=86_400_000)
    sent: dict[str, float] = {}
    for i in range(count):
        symbol, side, qty = DEMO_SIGNALS[i % len(DEMO_SIGNALS)]
        sid = new_signal_id()
        pub.publish(
            [
                Output(
                    names.signals,
                    Envelope.new(
                        Signal(
                            signal_id=sid,
                            symbol=symbol,
                            side=side,
                            quantity=qty,
                            confidence=0.9,
                            strategy="demo",
                        ),
                        id=sid,
                    ),
                )
            ]
        )
        sent[sid] = time.perf_counter()
        console.print(f"signal {sid}: {side.value} {qty:g} {symbol}")
    finals = _collect(client, names, set(sent))
    for sid, (ex, at) in finals.items():
        avg = f"{ex.avg_price:.2f}" if ex.avg_price else "-"
        console.print(
            f"\n[bold]{ex.side.value} {ex.quantity:g} {ex.symbol}[/] -> [bold]{ex.status.value}[/], "
            f"{ex.filled_quantity:g} filled over {len(ex.legs)} venues, avg {avg}, "
            f"P&L USD {ex.realized_pnl_usd:.2f}, {(at - sent[sid]) * 1000:.1f} ms  [dim]{sid}[/]"
        )
        table = Table(box=None, show_header=False, pad_edge=False)
        for leg in ex.legs:
            table.add_row(
                "   ",
                leg.venue,
                leg.venue_symbol or "",
                f"{leg.venue_filled_qty:g}",
                f"@ {leg.avg_price:.2f}" if leg.avg_price else "",
                leg.status.value,
                leg.reason or "",
            )
        console.print(table)
    missing = set(sent) - set(finals)
    if missing:
        console.print(f"[red]no final execution for {len(missing)} signal(s) within 20 s[/]")
        return 1
    return 0


def _wait_contracts(client: redis.Redis, names: Names, timeout_s: float = 20.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not client.hlen(names.contracts) and time.monotonic() < deadline:
        time.sleep(0.05)


def _collect(
    client: redis.Redis, names: Names, wanted: set[str], timeout_s: float = 20.0
) -> dict[str, tuple[Execution, float]]:
    finals: dict[str, tuple[Execution, float]] = {}
    cursor = "0-0"
    deadline = time.monotonic() + timeout_s
    while wanted - set(finals) and time.monotonic() < deadline:
        reply: Any = client.xread({names.executions: cursor}, block=500, count=100)
        for _stream, entries in reply or []:
            for entry_id, fields in entries:
                cursor = entry_id
                ex = decode(fields).body
                if isinstance(ex, Execution) and ex.final and ex.signal_id in wanted:
                    finals.setdefault(ex.signal_id, (ex, time.perf_counter()))
    return finals
