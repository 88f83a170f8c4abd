"""The demo: the dev environment on an embedded Redis (every platform's real adapter against its
simulator, as the compose files define it), signals in, executions out.

It runs on a loopback address of its own (`free_loopback_address`), so a mesh that `nexusctl up`
started on this machine keeps its ports. Signals go in as NEXUS sends them, each with the last
market price as its reference; the second round closes the first one's positions, so the executions
show realized P&L in USD (WIN's made in BRL, converted at the rate the fx stage takes from the WDO quote).
The recorder writes the run to the archive, which outlives the demo's Redis: `nexusctl -N demo report`
reads it back.
"""

from __future__ import annotations

import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import redis
from rich.markup import escape
from rich.table import Table

from nexus_ops import signals
from nexus_ops.cliutil import console
from nexus_ops.compose import free_loopback_address
from nexus_ops.supervisor import Supervisor
from nexus_protocol import Names, Side, Signal

NAMESPACE = "demo"
# (symbol, side, quantity): a round that opens positions on every platform, then one that closes them
DEMO_SIGNALS = (
    ("NQ", Side.BUY, 1.0),
    ("ES", Side.SELL, 1.0),
    ("WIN", Side.BUY, 2.0),
    ("NQ", Side.SELL, 1.0),
    ("ES", Side.BUY, 1.0),
    ("WIN", Side.SELL, 2.0),
)
ROUND = 3


def run(
    root: Path, signals: int = len(DEMO_SIGNALS), environment: str = "dev", archive: str | None = None
) -> int:
    """`archive`: where the recorder writes (default NX_ARCHIVE_URL or the SQLite file under
    NX_DATA_DIR)."""
    with tempfile.TemporaryDirectory(prefix="nexus-demo-") as tmp:
        sup = Supervisor(
            root=root,
            environment=environment,
            data_dir=Path(tmp),
            namespace=NAMESPACE,
            address=free_loopback_address(),
            archive_url=archive,
        )
        t0 = time.monotonic()
        services = sup.start()
        console.print(
            f"[bold]NEXUS mesh demo[/]: environment {environment}, embedded Redis {sup.redis_url}, "
            f"{len(services)} processes on {sup.address}"
        )
        try:
            failed = [o for o in sup.wait_ready() if not o.ok]
            for o in failed:
                console.print(f"[red]{o.name} not ready[/]: {escape(o.problem)}")
            linked = sup.wait_linked() if not failed else {}
            down = [v for v, up in linked.items() if not up]
            if failed or down:
                console.print(f"[red]platform links down: {', '.join(down)}[/]" if down else "")
                console.print(f"(logs in {sup.logs_dir})")
                return 1
            console.print(_platforms(sup, linked))
            console.print(f"every adapter linked to its platform after {time.monotonic() - t0:.1f} s\n")
            assert sup.redis_url is not None
            rc, sids = _drive(redis.Redis.from_url(sup.redis_url), Names(NAMESPACE), signals)
            return rc or (_archived(archive, NAMESPACE, sids) if archive else 0)
        finally:
            sup.stop()


def _platforms(sup: Supervisor, linked: dict[str, bool]) -> Table:
    """Each venue: the adapter that serves it and the simulator that plays its platform."""
    table = Table(title="platforms", title_justify="left", box=None, pad_edge=False)
    for col in ("venue", "adapter", "platform simulator", "link"):
        table.add_column(col)
    sims = {s.name: s for s in sup.services.values() if s.simulator}
    for svc in sup.services.values():
        venue = svc.environment.get("NX_VENUE")
        if venue is None:
            continue
        sim = sims.get(f"sim-{venue}")
        table.add_row(
            venue,
            f"{svc.name} ({svc.module})",
            f"{sim.name} ({sim.module})" if sim else "-",
            "[green]linked[/]" if linked.get(venue) else "[red]down[/]",
        )
    return table


def _drive(client: redis.Redis, names: Names, count: int) -> tuple[int, list[str]]:
    script = [DEMO_SIGNALS[i % len(DEMO_SIGNALS)] for i in range(count)]
    roots = {symbol for symbol, _side, _qty in script} | {"WDO"}
    last = names.state("md", "last")
    if not _wait(lambda: client.hlen(names.contracts) and all(client.hmget(last, sorted(roots))), 30.0):
        console.print("[red]no active contracts or no market data within 30 s[/]")
        return 1, []
    wdo: Any = client.hget(names.contracts, "WDO")
    rate: Any = client.hget(last, "WDO")
    console.print(f"USDBRL {float(rate) / 1000:.4f}: the WDO quote ({wdo.decode()}, BRL per USD 1,000)")
    missing, published = 0, []
    for start in range(0, len(script), ROUND):
        sent: dict[str, float] = {}
        for symbol, side, qty in script[start : start + ROUND]:
            reference: Any = client.hget(last, symbol)
            signal = Signal(
                symbol=symbol,
                side=side,
                quantity=qty,
                confidence=0.9,
                strategy="demo",
                reference_price=float(reference) if reference else None,
            )
            sid = signals.publish(client, names, signal)
            sent[sid] = time.perf_counter()
            published.append(sid)
            console.print(f"signal {sid}: {side.value} {qty:g} {symbol}")
        finals = signals.wait_finals(client, names, set(sent))
        for sid, at in sent.items():
            if sid in finals:
                ex, done = finals[sid]
                signals.show(console, ex, (done - at) * 1000)
        missing += len(set(sent) - set(finals))
        console.print()
    if missing:
        console.print(f"[red]no final execution for {missing} signal(s) within 20 s[/]")
        return 1, published
    return 0, published


def _wait(ready: Callable[[], Any], timeout_s: float) -> bool:
    deadline = time.monotonic() + timeout_s
    while not ready():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


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
