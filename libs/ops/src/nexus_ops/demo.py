"""The demo: the whole mesh on an embedded Redis with simulated venues, signals in, executions out."""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

import redis
from rich.markup import escape

from nexus_ops import signals
from nexus_ops.cliutil import console
from nexus_ops.supervisor import Supervisor
from nexus_protocol import Names, Side, Signal

DEMO_SIGNALS = (("NQ", Side.BUY, 1.0), ("ES", Side.SELL, 1.0), ("WIN", Side.BUY, 2.0), ("NQ", Side.SELL, 1.0))


def run(root: Path, signals: int = 4, environment: str = "dev", archive: str | None = None) -> int:
    """`archive`: where the recorder writes (default NX_ARCHIVE_URL or the SQLite file under
    NX_DATA_DIR): it outlives the demo's Redis, so `nexusctl -N demo report` reads the run back."""
    with tempfile.TemporaryDirectory(prefix="nexus-demo-") as tmp:
        sup = Supervisor(
            root=root, environment=environment, data_dir=Path(tmp), namespace="demo", archive_url=archive
        )
        t0 = time.monotonic()
        services = sup.start()
        console.print(
            f"[bold]NEXUS mesh demo[/]: embedded Redis {sup.redis_url}, environment {environment}, "
            f"{len(services)} services: {', '.join(s.name for s in services)}"
        )
        try:
            failed = [o for o in sup.wait_ready() if not o.ok]
            for o in failed:
                console.print(f"[red]{o.name} not ready[/]: {escape(o.problem)}")
            if failed:
                console.print(f"(logs in {tmp}/logs)")
                return 1
            console.print(f"all services heartbeating after {time.monotonic() - t0:.1f} s")
            assert sup.redis_url is not None
            rc, sids = _drive(redis.Redis.from_url(sup.redis_url), Names("demo"), signals)
            return rc or (_archived(archive, "demo", sids) if archive else 0)
        finally:
            sup.stop()


def _drive(client: redis.Redis, names: Names, count: int) -> tuple[int, list[str]]:
    _wait_contracts(client, names)
    sent: dict[str, float] = {}
    for i in range(count):
        symbol, side, qty = DEMO_SIGNALS[i % len(DEMO_SIGNALS)]
        signal = Signal(symbol=symbol, side=side, quantity=qty, confidence=0.9, strategy="demo")
        sid = signals.publish(client, names, signal)
        sent[sid] = time.perf_counter()
        console.print(f"signal {sid}: {side.value} {qty:g} {symbol}")
    finals = signals.wait_finals(client, names, set(sent))
    for sid, (ex, at) in finals.items():
        signals.show(console, ex, (at - sent[sid]) * 1000)
    missing = set(sent) - set(finals)
    if missing:
        console.print(f"[red]no final execution for {len(missing)} signal(s) within 20 s[/]")
        return 1, list(sent)
    return 0, list(sent)


def _archived(url: str, namespace: str, sids: list[str], timeout_s: float = 30.0) -> int:
    """Wait until the recorder has committed every signal's final execution to the archive."""
    from sqlalchemy import distinct, func, select
    from sqlalchemy.exc import DBAPIError

    from nexus_archive import schema
    from nexus_archive.engine import open_engine, redacted

    engine = open_engine(url)
    t = schema.executions
    q = select(func.count(distinct(t.c.signal_id))).where(
        t.c.namespace == namespace, t.c.final, t.c.signal_id.in_(sids)
    )
    deadline, n = time.monotonic() + timeout_s, 0
    try:
        while time.monotonic() < deadline:
            try:
                with engine.connect() as conn:
                    n = int(conn.execute(q).scalar_one())
            except DBAPIError:
                n = 0  # the recorder has not made its tables yet
            if n == len(sids):
                break
            time.sleep(0.1)
    finally:
        engine.dispose()
    style = "green" if n == len(sids) else "red"
    console.print(
        f"\n[{style}]archive: {n} of {len(sids)} final executions recorded[/] in {redacted(url)}"
        f"  (read back, Redis gone: nexusctl -N {namespace} report --from today)"
    )
    return 0 if n == len(sids) else 1


def _wait_contracts(client: redis.Redis, names: Names, timeout_s: float = 20.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not client.hlen(names.contracts) and time.monotonic() < deadline:
        time.sleep(0.05)
