"""`nexusctl report`: one self-contained HTML file with inline SVG charts for a window of signals.

Latency per stage uses two clocks the record already has: every entry's `ts` header (origin time,
carried from the signal on the order path and from the venue report on the fill path) and its
Redis entry id (when the stage published it, on Redis's clock). `entry time - ts` is the time since
origin at that stage; the difference between two stages of the same trace is that hop's time.
Across hosts the two clocks differ by the hosts' offset (keep them NTP-synchronized).
"""

from __future__ import annotations

import datetime as dt
import statistics
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from html import escape

from nexus_archive.metrics import TradingStats
from nexus_mesh.session import TradingSession
from nexus_ops import svg
from nexus_ops.export import Row, execution_rows, leg_rows, venue_summary
from nexus_ops.records import History, Window, WindowRecord, entries_of, percentile
from nexus_ops.trading import Metrics, day_of, finals_of, metrics, num, pct


@dataclass
class Stage:
    name: str
    since_origin_ms: list[float] = field(default_factory=list)
    hop_ms: list[float] = field(default_factory=list)


def _headers(
    history: History, stream: str, window: Window, traces: set[str], kind: str | None = None
) -> Iterable[tuple[str, str, float, float]]:
    """(trace, id, entry ms, origin ms) of entries of one stream that belong to `traces`."""
    for e in entries_of(history, stream, window):
        if e.env.trace not in traces or (kind is not None and e.env.type != kind):
            continue
        yield e.env.trace, e.env.id, float(e.ms), e.env.ts / 1e6


def stage_latencies(history: History, rec: WindowRecord, slack_ms: int = 120_000) -> list[Stage]:
    """Order path (signal -> routed -> venue order) by trace, fill path (report -> normalized ->
    converted -> execution) by fill id; each stage's time since origin and since the stage before."""
    traces, win = set(rec.signals), rec.window.widened(slack_ms)
    order_keys = [
        ("signal on the bus", ["signals"], None),
        ("routed (router)", ["orders:routed"], None),
        ("venue order (normalizer)", [f"orders:{v}" for v in rec.venues], None),
    ]
    stages: list[Stage] = []
    prev: dict[str, float] = {}
    for label, keys, kind in order_keys:
        st, first = Stage(label), dict[str, float]()
        for key in keys:
            for trace, _id, ms, origin in _headers(history, key, win, traces, kind):
                st.since_origin_ms.append(ms - origin)
                first[trace] = min(first.get(trace, ms), ms)
                if trace in prev:
                    st.hop_ms.append(ms - prev[trace])
        stages.append(st)
        prev = first
    fill_keys = [
        ("venue report (adapter)", "fills:raw", None),
        ("normalized (normalizer)", "fills:normalized", None),
        ("in USD (fx)", "fills", "fill"),
        ("execution (fills)", "executions", None),
    ]
    prev = {}
    for label, key, kind in fill_keys:
        st, seen = Stage(label), dict[str, float]()
        for _trace, ident, ms, origin in _headers(history, key, win, traces, kind):
            fill_id = ident.split(":", 1)[1] if key == "executions" else ident
            if key == "executions" and fill_id == "route":
                continue  # an execution caused by the route, not by a fill
            st.since_origin_ms.append(ms - origin)
            seen.setdefault(fill_id, ms)
            if fill_id in prev:
                st.hop_ms.append(ms - prev[fill_id])
        stages.append(st)
        prev = seen
    e2e = Stage("end to end: final execution - signal origin")
    for e, _ex in rec.finals():
        sig = rec.signals.get(_ex.signal_id)
        if sig is not None:
            e2e.since_origin_ms.append(e.ms - sig.origin_ms)
    stages.append(e2e)
    return stages


def _stats(values: Sequence[float]) -> list[str]:
    if not values:
        return ["0", "-", "-", "-", "-"]
    return [
        str(len(values)),
        svg.fmt(statistics.fmean(values)),
        svg.fmt(percentile(list(values), 50) or 0),
        svg.fmt(percentile(list(values), 99) or 0),
        svg.fmt(max(values)),
    ]


def _table(head: Sequence[str], rows: Iterable[Sequence[object]]) -> str:
    th = "".join(f"<th>{escape(h)}</th>" for h in head)
    body = "".join(
        "<tr>" + "".join(f"<td>{escape('-' if c is None else str(c))}</td>" for c in r) + "</tr>"
        for r in rows
    )
    return f"<table><thead><tr>{th}</tr></thead><tbody>{body}</tbody></table>"


def summary(rec: WindowRecord, legs: Sequence[Row]) -> dict[str, object]:
    finals = rec.finals()
    statuses = Counter(ex.status.value for _e, ex in finals)
    reached = [r for r in legs if r["reached_venue"]]
    filled = [r for r in reached if r["status"] == "filled"]
    lat = [e.ms - rec.signals[ex.signal_id].origin_ms for e, ex in finals if ex.signal_id in rec.signals]
    return {
        "signals": len(rec.signals),
        "final executions": len(finals),
        **{f"  {k}": v for k, v in sorted(statuses.items())},
        "not final": len(rec.signals) - len(finals),
        "legs sent to venues": len(reached),
        "legs filled": len(filled),
        "fill rate": f"{len(filled) / len(reached):.1%}" if reached else "-",
        "realized P&L USD": f"{sum(ex.realized_pnl_usd for _e, ex in finals):,.2f}",
        "fees USD": f"{sum(ex.fees_usd for _e, ex in finals):,.2f}",
        "latency avg ms": svg.fmt(statistics.fmean(lat)) if lat else "-",
        "latency p99 ms": svg.fmt(percentile(lat, 99) or 0) if lat else "-",
    }


CSS = """body{font-family:system-ui,sans-serif;margin:24px;color:#222;max-width:1100px}
table{border-collapse:collapse;margin:8px 0 16px}td,th{border:1px solid #ddd;padding:3px 8px;text-align:right}
th{background:#f4f4f4}td:first-child,th:first-child{text-align:left}
h2{margin-top:32px;border-bottom:1px solid #ccc}
.note{color:#666;font-size:90%}svg{display:block;margin:8px 0}"""


STAT_COLUMNS = (
    "trades", "wins", "losses", "win rate", "avg win", "avg loss", "profit factor",
    "Sharpe (daily)", "max drawdown", "net P&L", "fill rate",
)  # fmt: skip


def stat_cells(st: TradingStats) -> list[str]:
    """One row of STAT_COLUMNS (money in USD)."""
    return [
        str(st.trades),
        str(st.winning),
        str(st.losing),
        pct(st.win_rate),
        num(st.avg_win),
        num(st.avg_loss),
        num(st.profit_factor),
        num(st.sharpe),
        num(st.max_drawdown),
        num(st.net_pnl),
        pct(st.fill_rate),
    ]


def trading_section(m: Metrics) -> list[str]:
    return [
        "<h2>Trading</h2>",
        "<p class='note'>A trade: a final execution that filled (per platform: a leg that filled). Win / loss"
        " by realized P&amp;L (an opening trade is neither); net P&amp;L after fees, USD; Sharpe of the net "
        "P&amp;L per session day, annualized (&radic;252); max drawdown of cumulative net P&amp;L; fill rate:"
        " legs filled / legs that reached a venue (docs/archive.md).</p>",
        _table(["", *STAT_COLUMNS], [["all", *stat_cells(m.total)]]),
        "<h3>Per platform</h3>",
        _table(["platform", *STAT_COLUMNS], [[k, *stat_cells(v)] for k, v in m.by_platform.items()]),
        "<h3>Per symbol</h3>",
        _table(["symbol", *STAT_COLUMNS], [[k, *stat_cells(v)] for k, v in m.by_symbol.items()]),
    ]


def build(history: History, rec: WindowRecord, session: TradingSession | None = None) -> str:
    names = history.names
    legs = leg_rows(rec)
    venues = venue_summary(legs)
    stages = stage_latencies(history, rec)
    execs = execution_rows(rec)
    now = dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
    parts = [
        f"<!doctype html><html><head><meta charset='utf-8'><title>NEXUS mesh report {escape(names.namespace)}"
        f"</title><style>{CSS}</style></head><body>",
        f"<h1>NEXUS mesh report</h1><p>namespace <b>{escape(names.namespace)}</b>, signals "
        f"{escape(rec.window.describe())}, generated {now}</p>",
        "<h2>Summary</h2>",
        _table(["", "value"], summary(rec, legs).items()),
        *trading_section(metrics(finals_of(rec.finals()), day_of(session or TradingSession()))),
    ]
    parts += [
        "<h2>Latency per stage</h2>",
        "<p class='note'>Time since origin: entry time on Redis minus the entry's origin time (`ts`): the "
        "signal's on the order path, the venue report's on the fill path. Hop: since the previous stage of "
        "the same signal (order path) or fill (fill path). Milliseconds.</p>",
        _table(
            ["stage", "n", "avg", "p50", "p99", "max", "hop p50", "hop p99"],
            [
                [
                    s.name,
                    *_stats(s.since_origin_ms),
                    svg.fmt(percentile(s.hop_ms, 50) or 0) if s.hop_ms else "-",
                    svg.fmt(percentile(s.hop_ms, 99) or 0) if s.hop_ms else "-",
                ]
                for s in stages
            ],
        ),
        svg.bar_chart(
            [(s.name, percentile(s.since_origin_ms, 99) or 0.0) for s in stages if s.since_origin_ms],
            "p99 time since origin per stage",
            "ms",
        ),
        svg.histogram(stages[-1].since_origin_ms, "end-to-end latency", "ms"),
    ]
    parts += [
        "<h2>Slippage per venue</h2>",
        "<p class='note'>Each leg against its venue's own quote when routed (points of the venue's "
        "instrument; USD at the leg's rate). Positive: paid more / received less than the quote.</p>",
        _table(
            ["venue", "legs", "filled", "fill rate", "mean pts", "median pts", "p95 pts", "total USD"],
            [
                [
                    v["venue"],
                    v["legs"],
                    v["filled"],
                    "-" if v["fill_rate"] is None else f"{v['fill_rate']:.1%}",
                    v["mean_slippage_points"],
                    v["median_slippage_points"],
                    v["p95_slippage_points"],
                    v["total_slippage_usd"],
                ]
                for v in venues
            ],
        ),
        svg.bar_chart(
            [(v["venue"], float(v["total_slippage_usd"])) for v in venues], "total slippage per venue", "USD"
        ),
        "<h2>Fill rate</h2>",
        svg.bar_chart(
            [(v["venue"], 100.0 * float(v["fill_rate"])) for v in venues if v["fill_rate"] is not None],
            "legs filled / legs that reached the venue",
            "%",
        ),
    ]
    pnl_points, running = [], 0.0
    for e, ex in rec.finals():
        running += ex.realized_pnl_usd
        pnl_points.append((float(e.ms), running))
    by_symbol: dict[str, float] = {}
    for r in execs:
        by_symbol[r["symbol"]] = by_symbol.get(r["symbol"], 0.0) + float(r["realized_pnl_usd"] or 0.0)
    refusals = Counter((r["reason"] or "?").split(":")[0] for r in execs if r["status"] == "rejected")
    parts += [
        "<h2>P&amp;L</h2>",
        svg.line_chart(pnl_points, "cumulative realized P&L", "USD"),
        svg.bar_chart(sorted(by_symbol.items()), "realized P&L per symbol", "USD"),
        "<h2>Refused signals</h2>",
        _table(["reason", "signals"], refusals.most_common(15)),
        "</body></html>",
    ]
    return "\n".join(parts)
