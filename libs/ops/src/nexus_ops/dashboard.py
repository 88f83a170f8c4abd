"""`nexusctl dashboard`: the seed's trading dashboard, live in a terminal (rich), refreshed every second.

Panels: status and uptime; gateway and platforms online; performance (latency avg and p99 from
executions: final execution entry time - signal origin; throughput: entries added to the
namespace's streams per second between frames; fill rate; active orders); today's trading (the session day
of risk.yaml); active positions with P&L; platforms with their last update. `q` or Ctrl-C quits;
`--once` prints one frame.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import os
import select
import sys
import termios
import time
import tty
from collections.abc import Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path

import redis
from rich.console import Console, Group, RenderableType
from rich.live import Live
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from nexus_ops import positions as positions_mod
from nexus_ops import status as status_mod
from nexus_ops.records import History, StreamHistory
from nexus_ops.tally import Tally, trading_session
from nexus_ops.trading import num, pct
from nexus_ops.views import age, money
from nexus_protocol.streams import Names

GATEWAY = ("router", "normalizer", "fx", "rollover", "fills")
QUIT_KEYS = {"q", "Q", "\x03", "\x1b"}


@dataclass
class Dashboard:
    client: redis.Redis
    names: Names
    expected: status_mod.Expected
    environment: str | None
    config_dir: Path | None
    ttl_ms: int = 10_000
    rediscover_s: float = 15.0  # SCAN walks the whole keyspace: not every frame
    history: History | None = None  # the archive (+ streams past it); None: the streams alone
    tally: Tally = field(init=False)
    _keys: status_mod.Keys | None = None
    _found_at: float = 0.0
    _added: tuple[float, int] | None = None  # (monotonic time, entries ever added to the streams)

    def __post_init__(self) -> None:
        session = trading_session(self.config_dir, self.environment)
        start = session.session_start(dt.datetime.now(dt.UTC))
        self.tally = Tally(self.names, int(start.timestamp() * 1000), session)
        if self.history is None:
            self.history = StreamHistory(self.client, self.names)

    def keys(self) -> status_mod.Keys:
        now = time.monotonic()
        if self._keys is None or now - self._found_at >= self.rediscover_s:
            self._keys, self._found_at = status_mod.discover(self.client, self.names), now
        return self._keys

    def frame(self) -> RenderableType:
        keys = self.keys()
        st = status_mod.collect(
            self.client,
            self.names,
            self.expected,
            environment=self.environment,
            ttl_ms=self.ttl_ms,
            keys=keys,
        )
        assert self.history is not None
        self.tally.update(self.history)
        pos = positions_mod.collect(self.client, self.names, self.config_dir, heartbeats=st.services)
        return Panel(
            Group(
                self._header(st),
                self._performance(st, self.throughput(keys)),
                self._trading(),
                self._positions(pos),
                self._platforms(st),
            ),
            title="[bold]NEXUS MESH TRADING DASHBOARD[/]",
            subtitle=f"namespace {self.names.namespace} · {self.environment or '?'} · q quits",
            width=min(100, max(78, Console().width)),
        )

    def throughput(self, keys: status_mod.Keys | None = None) -> float | None:
        """Entries per second added to the namespace's streams since the previous call: XINFO STREAM's
        `entries-added` (Redis 7; the length on older servers), O(1) per stream."""
        pipe = self.client.pipeline(transaction=False)
        streams = (keys or self.keys()).streams
        for k in streams:
            pipe.xinfo_stream(k)
        total = 0
        for info in pipe.execute(raise_on_error=False):
            if isinstance(info, dict):
                total += int(info.get("entries-added") or info.get("length") or 0)
        now, prev = time.monotonic(), self._added
        self._added = (now, total)
        if prev is None or now <= prev[0] or total < prev[1]:
            return None
        return (total - prev[1]) / (now - prev[0])

    def _header(self, st: status_mod.Status) -> RenderableType:
        running = {s.service for s in st.services}
        gateway_up = all(g in running for g in GATEWAY)
        ks_on = bool(st.killswitch and st.killswitch["on"])
        state, style = (
            ("KILL SWITCH ON", "bold red")
            if ks_on
            else ("ACTIVE", "bold green")
            if st.healthy and gateway_up
            else ("DEGRADED", "bold yellow")
            if running
            else ("DOWN", "bold red")
        )
        uptimes = [s.uptime_s for s in st.services if s.service in GATEWAY and s.uptime_s is not None]
        venues = [v for v in st.venues if v.expected] or st.venues
        online = sum(1 for v in venues if v.connected)
        g = Table.grid(expand=True, padding=(0, 2))
        g.add_column(ratio=1)
        g.add_column(ratio=1)
        g.add_row(
            Text.assemble("Status: ", ("● " + state, style)),
            f"Uptime: {age(min(uptimes)) if uptimes else '-'}",
        )
        g.add_row(
            Text.assemble("Gateway: ", ("● CONNECTED", "green") if gateway_up else ("○ DOWN", "red")),
            Text.assemble(
                "Platforms: ",
                (f"{online}/{len(venues)} ONLINE", "green" if venues and online == len(venues) else "yellow"),
            ),
        )
        return g

    def _performance(self, st: status_mod.Status, thr: float | None) -> RenderableType:
        avg, p99 = self.tally.latency()
        fr = self.tally.fill_rate()
        t = Table.grid(expand=True, padding=(0, 2))
        t.add_column(ratio=1)
        t.add_column(ratio=1)
        t.add_row(
            f"├─ Latency (avg): {_ms(avg)}", f"├─ Throughput: {'-' if thr is None else f'{thr:,.1f} msg/s'}"
        )
        t.add_row(f"├─ Latency (p99): {_ms(p99)}", f"└─ Fill Rate: {'-' if fr is None else f'{fr:.1%}'}")
        t.add_row(f"└─ Active Orders: {self.tally.active_orders()}", f"   Dead letters: {st.dead_letters}")
        return Group(Text("PERFORMANCE", style="bold"), t)

    def _trading(self) -> RenderableType:
        m = self.tally.trading()
        tr = m.total
        t = Table.grid(expand=True, padding=(0, 2))
        t.add_column(ratio=1)
        t.add_column(ratio=1)
        t.add_row(f"├─ Trades: {tr.trades}", f"├─ Win Rate: {pct(tr.win_rate)}")
        t.add_row(f"├─ Winners: {tr.winning}", f"├─ Avg Win: {money(_f(tr.avg_win))}")
        t.add_row(f"├─ Losers: {tr.losing}", f"├─ Avg Loss: {money(_f(tr.avg_loss))}")
        t.add_row(f"├─ Max Drawdown: {money(_f(tr.max_drawdown))}", f"├─ Sharpe (daily): {num(tr.sharpe)}")
        pnl = float(tr.net_pnl)
        t.add_row(
            Text.assemble("└─ Net P&L: ", (money(pnl), "green" if pnl >= 0 else "red")),
            f"└─ Profit Factor: {num(tr.profit_factor)}",
        )
        by = Table(box=None, padding=(0, 1), show_edge=False, header_style="dim")
        for col in ("", "trades", "win rate", "net P&L", "fill rate"):
            by.add_column(col, justify="left" if not col else "right")
        for label, group in (("platform", m.by_platform), ("symbol", m.by_symbol)):
            for name, st in group.items():
                by.add_row(
                    f"{label} {name}",
                    str(st.trades),
                    pct(st.win_rate),
                    money(_f(st.net_pnl)),
                    pct(st.fill_rate),
                )
        head = Text(
            f"TRADING (Today)   signals {len(self.tally.origins)}, refused {self.tally.rejected()}",
            style="bold",
        )
        return Group(head, t, by) if by.row_count else Group(head, t)

    def _positions(self, rows: list[positions_mod.PositionRow]) -> RenderableType:
        lines = [Text("ACTIVE POSITIONS", style="bold")]
        for i, r in enumerate(rows):
            branch = "└─" if i == len(rows) - 1 else "├─"
            pnl = r.unrealized_usd
            lines.append(
                Text.assemble(
                    f"{branch} {r.symbol} {r.venue}: {r.universal_quantity:+g} @ {r.avg_price:,.2f}  (P&L: ",
                    (money(pnl), "green" if (pnl or 0) >= 0 else "red"),
                    ")",
                )
            )
        if not rows:
            lines.append(Text("└─ none", style="dim"))
        return Group(*lines)

    def _platforms(self, st: status_mod.Status) -> RenderableType:
        lines = [Text("PLATFORMS", style="bold")]
        for i, v in enumerate(st.venues):
            branch = "└─" if i == len(st.venues) - 1 else "├─"
            seen = f"Last Update: {age(v.age_s)} ago" if v.age_s is not None else "no heartbeat"
            lines.append(
                Text.assemble(
                    f"{branch} {v.venue:<12} ",
                    ("● ONLINE " if v.connected else "○ OFFLINE", "green" if v.connected else "red"),
                    f"  {seen}",
                )
            )
        if not st.venues:
            lines.append(Text("└─ no venue configured or heartbeating", style="dim"))
        return Group(*lines)


def _f(v: float | int | Decimal | None) -> float | None:
    return None if v is None else float(v)


def _ms(v: float | None) -> str:
    return "-" if v is None else f"{v:,.1f}ms"


@contextlib.contextmanager
def _keys() -> Iterator[int | None]:
    """stdin in cbreak mode (keys arrive one by one; Ctrl-C still interrupts), restored after."""
    if not sys.stdin.isatty():
        yield None
        return
    fd = sys.stdin.fileno()
    saved = termios.tcgetattr(fd)
    tty.setcbreak(fd)
    try:
        yield fd
    finally:
        termios.tcsetattr(fd, termios.TCSADRAIN, saved)


def _quit_pressed(fd: int | None, timeout_s: float) -> bool:
    if fd is None:
        time.sleep(timeout_s)
        return False
    ready, _, _ = select.select([fd], [], [], timeout_s)
    if not ready:
        return False
    return bool(set(os.read(fd, 32).decode(errors="replace")) & QUIT_KEYS)


def run(
    dash: Dashboard,
    console: Console,
    *,
    once: bool = False,
    interval_s: float = 1.0,
    max_frames: int | None = None,
) -> int:
    if once:
        dash.throughput()  # a rate needs two readings
        time.sleep(min(interval_s, 1.0))
        console.print(dash.frame())
        return 0
    frames = 0
    with (
        _keys() as fd,
        Live(dash.frame(), console=console, screen=console.is_terminal, auto_refresh=False) as live,
    ):
        try:
            while max_frames is None or frames < max_frames:
                if _quit_pressed(fd, interval_s):
                    break
                live.update(dash.frame(), refresh=True)
                frames += 1
        except KeyboardInterrupt:
            pass
    return 0
