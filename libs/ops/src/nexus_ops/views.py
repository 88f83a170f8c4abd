"""Rich renderings of what `status` and `positions` collect (tables for a terminal)."""

from __future__ import annotations

from rich.console import Console, Group, RenderableType
from rich.table import Table
from rich.text import Text

from nexus_ops.eod import Checklist
from nexus_ops.positions import PositionRow
from nexus_ops.replay import ReplayResult
from nexus_ops.status import Status
from nexus_ops.trading import num, pct


def age(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    if seconds < 60:
        return f"{seconds:.1f}s"
    if seconds < 3600:
        return f"{seconds / 60:.0f}m"
    if seconds < 86_400:
        return f"{seconds // 3600:.0f}h {seconds % 3600 // 60:02.0f}m"
    return f"{seconds / 86_400:.1f}d"


def money(v: float | None, currency: str = "USD") -> str:
    if v is None:
        return "-"
    sign = "+" if v > 0 else "-" if v < 0 else ""
    return f"{sign}{'$' if currency == 'USD' else currency + ' '}{abs(v):,.2f}"


def _dot(ok: bool) -> Text:
    return Text("●", style="green") if ok else Text("○", style="red")


def status_view(st: Status) -> RenderableType:
    head = Text.assemble(
        ("HEALTHY" if st.healthy else "UNHEALTHY", "bold green" if st.healthy else "bold red"),
        f"  namespace {st.namespace}",
        f"  environment {st.environment or '?'}",
    )
    svc = Table(title="services", title_justify="left", expand=False)
    for col in ("", "service", "instance", "heartbeat", "uptime", "processed", "dead letters"):
        svc.add_column(col, justify="right" if col in ("processed", "dead letters") else "left")
    for r in st.services:
        svc.add_row(
            _dot(True),
            r.service,
            r.instance,
            age(r.age_s),
            age(r.uptime_s),
            f"{r.processed:,}",
            str(r.dead_lettered),
        )
    for m in st.missing:
        svc.add_row(_dot(False), m, "-", "missing", "-", "-", "-")
    ven = Table(title="venues", title_justify="left")
    for col in ("", "venue", "link", "last update", "adapter instance"):
        ven.add_column(col)
    for v in st.venues:
        ven.add_row(
            _dot(v.connected),
            v.venue + ("" if v.expected else " (unexpected)"),
            "connected" if v.connected else "DOWN",
            age(v.age_s),
            v.instance or "-",
        )
    grp = Table(title="consumer groups", title_justify="left")
    for col in ("stream", "group", "length", "consumers", "pending", "lag", "oldest pending"):
        grp.add_column(col, justify="left" if col in ("stream", "group") else "right")
    for g in st.groups:
        grp.add_row(
            g.stream.split(":", 1)[1],
            g.group,
            f"{g.length:,}",
            str(g.consumers),
            str(g.pending),
            "-" if g.lag is None else str(g.lag),
            age(g.oldest_pending_age_s),
        )
    tail = Text()
    ks = st.killswitch
    tail.append(
        f"kill switch: {'ON' if ks and ks['on'] else 'off'}", style="bold red" if ks and ks["on"] else ""
    )
    tail.append(f"    dead letters: {st.dead_letters}\n", style="yellow" if st.dead_letters else "")
    for p in st.problems:
        tail.append(f"problem: {p}\n", style="red")
    for w in st.warnings:
        tail.append(f"warning: {w}\n", style="yellow")
    return Group(head, svc, ven, grp, tail)


def positions_view(rows: list[PositionRow]) -> RenderableType:
    t = Table(title="positions", title_justify="left")
    for col in (
        "symbol",
        "venue",
        "venue symbol",
        "qty",
        "avg",
        "last",
        "unrealized",
        "unrealized USD",
        "realized USD",
    ):
        t.add_column(col, justify="left" if col in ("symbol", "venue", "venue symbol") else "right")
    total_u = total_r = 0.0
    for r in rows:
        mark = "" if r.price_source != "root" else "*"
        t.add_row(
            r.symbol,
            r.venue,
            r.venue_symbol + (f" ({r.contract})" if r.contract else ""),
            f"{r.quantity:+g}",
            f"{r.avg_price:,.2f}",
            "-" if r.last_price is None else f"{r.last_price:,.2f}{mark}",
            money(r.unrealized, r.currency),
            money(r.unrealized_usd),
            money(r.realized_usd),
        )
        total_u += r.unrealized_usd or 0.0
        total_r += r.realized_usd
    t.add_section()
    t.add_row("total", "", "", "", "", "", "", money(total_u), money(total_r))
    note = Text("* priced at the root's last price (no tick from that venue)", style="dim")
    return Group(t, note) if any(r.price_source == "root" for r in rows) else t


def print_view(console: Console, view: RenderableType) -> None:
    console.print(view)


def replay_view(result: ReplayResult) -> RenderableType:
    t = Table(
        title=f"replay {result.source} -> {result.sandbox} ({result.window.describe()})", title_justify="left"
    )
    for col in (
        "signal",
        "symbol",
        "side",
        "qty",
        "original",
        "orig avg",
        "replay",
        "replay avg",
        "Δ avg",
        "replay P&L",
        "ms",
    ):
        t.add_column(
            col, justify="left" if col in ("signal", "symbol", "side", "original", "replay") else "right"
        )
    for r in result.items:
        o, f = r.original, r.final
        delta = (
            (f.avg_price - o.avg_price)
            if (o and f and o.avg_price is not None and f.avg_price is not None)
            else None
        )
        t.add_row(
            r.signal.signal_id,
            r.signal.symbol,
            r.signal.side.value,
            f"{r.signal.quantity:g}",
            o.status.value if o else "-",
            _px(o.avg_price if o else None),
            Text(f.status.value if f else "NOT FINAL", style="" if f else "red"),
            _px(f.avg_price if f else None),
            _px(delta),
            money(f.realized_pnl_usd if f else None),
            "-" if r.latency_ms is None else f"{r.latency_ms:.0f}",
        )
    same = sum(1 for r in result.items if r.final and r.original and r.final.status is r.original.status)
    done = len(result.items) - len(result.missing)
    foot = Text(
        f"{len(result.items)} signals replayed, {done} final, {len(result.missing)} not final within the "
        f"timeout; same outcome as the original: {same}; {result.elapsed_s:.1f} s; "
        f"sandbox kept: nexusctl --namespace {result.sandbox} report / export"
    )
    return Group(t, foot)


def _px(v: float | None) -> str:
    return "-" if v is None else f"{v:,.2f}"


def eod_view(cl: Checklist) -> RenderableType:
    t = Table(title=f"end of day {cl.day} ({cl.window.describe()})", title_justify="left")
    for col in ("", "item", "detail"):
        t.add_column(col)
    for item in cl.items:
        t.add_row(_dot(item.ok), item.name, Text(item.detail, style="" if item.ok else "red"))
    if cl.trading is None:
        return t
    m = cl.trading.total
    trades = Text(
        f"trades {m.trades}  wins {m.winning}  losses {m.losing}  win rate {pct(m.win_rate)}  "
        f"net P&L {money(float(m.net_pnl))}  profit factor {num(m.profit_factor)}  "
        f"max drawdown {money(float(m.max_drawdown))}  fill rate {pct(m.fill_rate)}"
    )
    return Group(t, trades)
