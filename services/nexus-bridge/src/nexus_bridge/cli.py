"""`nexus-bridge`: run a strategy against the mesh, look at the bridge, reset its breakers.

    nexus-bridge run --strategy nexus_bridge.examples.momentum:strategy --symbols NQ
    nexus-bridge run --strategy mypkg.strat:strategy --replay ticks.parquet --journal out.jsonl
    nexus-bridge status
    nexus-bridge reset-breakers --reason "reviewed the losses"

The Redis URL and namespace come from --redis-url / NX_REDIS_URL and --namespace / NX_NAMESPACE.
The bridge service itself is `python -m nexus_bridge`.
"""

from __future__ import annotations

import datetime as dt
import os
import signal
import socket
import threading
from pathlib import Path
from types import FrameType
from typing import Annotated

import redis
import typer
from rich.console import Console
from rich.table import Table

from nexus_bridge.breakers import BreakerState
from nexus_bridge.client import NexusGatewayInterface
from nexus_bridge.host import StrategyError, StrategyHost, load_strategy
from nexus_bridge.state import BridgeState
from nexus_bridge.wire import status_key
from nexus_mesh.logs import configure_logging
from nexus_mesh.publish import Output, Publisher
from nexus_protocol.codec import Envelope, unpack
from nexus_protocol.errors import NexusError
from nexus_protocol.messages import Event, Heartbeat
from nexus_protocol.streams import DEFAULT_NAMESPACE, Names

app = typer.Typer(add_completion=False, no_args_is_help=True, help="The NEXUS side of the mesh.")
console = Console()
_URL = typer.Option(None, "--redis-url", envvar="NX_REDIS_URL", help="redis:// URL of the mesh")
_NS = typer.Option(DEFAULT_NAMESPACE, "--namespace", envvar="NX_NAMESPACE", help="the mesh's namespace")


def _params(items: list[str]) -> dict[str, str]:
    out = {}
    for item in items:
        name, eq, value = item.partition("=")
        if not eq or not name:
            raise typer.BadParameter(f"--param {item!r}: want name=value")
        out[name.strip()] = value.strip()
    return out


_Strategy = Annotated[str, typer.Option("--strategy", help="package.module:callable")]
_Replay = Annotated[
    Path | None, typer.Option("--replay", help="a tick file (CSV or Parquet) instead of live data")
]
_Symbols = Annotated[
    str, typer.Option("--symbols", help="live: roots to read, comma separated (default: all)")
]
_Param = Annotated[list[str] | None, typer.Option("--param", help="name=value for the strategy (repeatable)")]
_Journal = Annotated[
    Path | None, typer.Option("--journal", help="write signals and executions here (JSON lines)")
]
_Duration = Annotated[
    float, typer.Option("--duration", help="live: stop after this many seconds (0: on a signal)")
]
_Speed = Annotated[float, typer.Option("--speed", help="replay: x real time (0: as fast as possible)")]
_Drain = Annotated[float, typer.Option("--drain", help="replay: wait this long for the last executions")]
_All = Annotated[bool, typer.Option("--all-executions", help="deliver every execution, not only ours")]


@app.command()
def run(
    strategy: _Strategy,
    replay: _Replay = None,
    symbols: _Symbols = "",
    param: _Param = None,
    journal: _Journal = None,
    duration: _Duration = 0.0,
    speed: _Speed = 0.0,
    drain: _Drain = 30.0,
    all_executions: _All = False,
    redis_url: str | None = _URL,
    namespace: str = _NS,
) -> None:
    """Run a strategy: ticks in, its signals through the bridge, executions back to it."""
    configure_logging(
        "nexus-bridge-host",
        f"{socket.gethostname()}-{os.getpid()}",
        level=os.environ.get("NX_LOG_LEVEL", "INFO"),
    )
    try:
        strat = load_strategy(strategy, _params(param or []))
        quotes = None
        if replay is not None:
            from nexus_sim.replay import TickFileError, load_ticks

            try:
                quotes = load_ticks(replay)
            except (TickFileError, OSError) as exc:
                raise StrategyError(f"--replay {replay}: {exc}") from exc
        roots = [s for s in symbols.split(",") if s.strip()]
        gw = NexusGatewayInterface(
            redis_url,
            namespace=namespace,
            symbols=roots,
            all_executions=all_executions,
            strategy=strategy.rsplit(":", 1)[-1],
        )
        gw.connect()
    except NexusError as exc:
        console.print(f"[red]{exc}[/red]")
        raise typer.Exit(2) from None
    stop = threading.Event()

    def _stop(_signum: int, _frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    host = StrategyHost(strat, gw, journal=journal)
    try:
        if quotes is not None:
            host.run_replay(quotes, stop, speed=speed, drain_s=drain)
        else:
            host.run_live(stop, duration)
    finally:
        gw.stop()
        host.close()
    console.print(f"done: {host.counters}")


def _names(namespace: str) -> Names:
    return Names(namespace)


def _client(redis_url: str | None) -> redis.Redis:
    if not redis_url:
        raise typer.BadParameter("no --redis-url and no NX_REDIS_URL")
    return redis.Redis.from_url(redis_url)


def _ms(ms: int) -> str:
    return dt.datetime.fromtimestamp(ms / 1000, dt.UTC).strftime("%Y-%m-%d %H:%M:%S UTC") if ms else "-"


@app.command()
def status(redis_url: str | None = _URL, namespace: str = _NS) -> None:
    """The bridge service's status, breakers and working symbols."""
    client, names = _client(redis_url), _names(namespace)
    raw = client.get(status_key(names))
    hb = unpack(raw) if isinstance(raw, bytes) else None
    console.print(
        "bridge service: "
        + ("[green]running[/green]" if isinstance(hb, Heartbeat) else "[red]not running[/red]")
    )
    st = BridgeState(client, names)
    b = st.breakers()
    table = Table("breaker", "state")
    table.add_row("loss streak", str(b.loss_streak))
    table.add_row("consecutive losses paused until", _ms(b.loss_until_ms))
    table.add_row("daily loss paused until", _ms(b.daily_until_ms))
    console.print(table)
    work = Table("symbol", "working signal", "since")
    for sym, h in sorted(st.working().items()):
        work.add_row(sym, h.signal_id, _ms(h.since_ms))
    console.print(work)
    if isinstance(hb, Heartbeat) and hb.detail.get("venues_down"):
        console.print(f"venues paused: {', '.join(hb.detail['venues_down'])}")


@app.command("reset-breakers")
def reset_breakers(
    reason: str = typer.Option(..., "--reason", help="why (recorded on nx:events)"),
    redis_url: str | None = _URL,
    namespace: str = _NS,
) -> None:
    """End the circuit breakers' pauses and the loss streak (the kill switch stays as it is)."""
    client, names = _client(redis_url), _names(namespace)
    st = BridgeState(client, names)
    before = st.breakers()
    st.update_breakers(
        lambda s: s.model_copy(update={"loss_streak": 0, "loss_until_ms": 0, "daily_until_ms": 0})
    )
    ev = Event(
        kind="circuit_breaker_reset",
        source="nexus-bridge-cli",
        message=f"breakers reset by operator: {reason}",
        data={"check": "operator", "before": before.model_dump()},
    )
    stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%S%f")
    Publisher(client, dedupe_ttl_ms=86_400_000).publish(
        [Output(names.events, Envelope.new(ev, id=f"bridge:reset:operator:{stamp}"))]
    )
    console.print("breakers reset" + ("" if before != BreakerState() else " (none was set)"))


def main() -> None:
    app()


if __name__ == "__main__":
    main()
