"""`nexusctl export`: orders, fills, executions and their legs to CSV and Parquet, with slippage.

Tables (one file each, `.csv` and `.parquet`):
- `orders`: routed orders (universal terms) and venue orders (the venue's symbol, contract, units);
- `fills`: venue reports after fx (`nx:{fills}`), in the venue's instrument, with the USD rate;
- `executions`: one row per signal, its final (else latest) execution; slippage of the combined price
  against the signal's reference price, in points of the universal instrument;
- `legs`: one row per leg of those executions; slippage against that venue's own quote when routed
  (points of the venue's instrument and USD), so futures and CFDs compare (docs/design.md, Sizing); and the
  leg's price against the signal's reference price (`vs_signal_ref_points`: for a CFD or another
  instrument than the universal one it includes that instrument's basis);
- `slippage`: per venue: legs sent, filled, fill rate, mean / median / p95 slippage, the mean against
  the signal's reference, total slippage in USD.
"""

from __future__ import annotations

import csv
import datetime as dt
import statistics
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from nexus_ops.records import WindowRecord, percentile
from nexus_protocol.enums import OrderStatus
from nexus_protocol.messages import Execution, Fill, Order, VenueOrder

Row = dict[str, Any]


def iso(ms: float | None) -> str | None:
    if ms is None:
        return None
    return dt.datetime.fromtimestamp(ms / 1000, dt.UTC).isoformat(timespec="milliseconds")


VENUE_COLUMNS = ("venue_symbol", "contract", "venue_quantity", "venue_reference_price", "rounding_residual")


def order_rows(rec: WindowRecord) -> list[Row]:
    rows = []
    for e in rec.orders:
        o = e.env.body
        if not isinstance(o, Order):
            continue
        vo = o if isinstance(o, VenueOrder) else None
        rows.append(
            {
                "entry_id": e.entry_id,
                "time": iso(e.ms),
                "stage": "venue" if vo else "routed",
                "client_order_id": o.client_order_id,
                "signal_id": o.signal_id,
                "venue": o.venue,
                "symbol": o.symbol,
                "side": o.side.value,
                "quantity": o.quantity,
                "order_type": o.order_type.value,
                "limit_price": o.limit_price,
                "reference_price": o.reference_price,
                "purpose": o.purpose,
                **{k: getattr(vo, k, None) for k in VENUE_COLUMNS},  # None for a routed order
            }
        )
    return rows


def fill_rows(rec: WindowRecord) -> list[Row]:
    rows = []
    for e in rec.fills:
        f = e.env.body
        if not isinstance(f, Fill):
            continue
        rows.append(
            {
                "entry_id": e.entry_id,
                "time": iso(e.ms),
                "fill_id": f.fill_id,
                "client_order_id": f.client_order_id,
                "signal_id": f.signal_id,
                "venue": f.venue,
                "status": f.status.value,
                "symbol": f.symbol,
                "venue_symbol": f.venue_symbol,
                "contract": f.contract,
                "side": f.side.value,
                "last_qty": f.last_qty,
                "last_price": f.last_price,
                "cum_qty": f.cum_qty,
                "avg_price": f.avg_price,
                "fee": f.fee,
                "currency": f.currency,
                "usd_rate": f.usd_rate,
                "fee_usd": f.fee_usd,
                "venue_reference_price": f.venue_reference_price,
                "reason": f.reason,
                "synthetic": f.synthetic,
            }
        )
    return rows


def execution_rows(rec: WindowRecord) -> list[Row]:
    rows = []
    for sid, sig in rec.signals.items():
        ex = rec.latest(sid)
        final = rec.final(sid)
        if ex is None:
            continue
        slip = None
        if ex.avg_price is not None and ex.reference_price is not None:
            slip = round((ex.avg_price - ex.reference_price) * ex.side.sign, 10)
        rows.append(
            {
                "signal_id": sid,
                "signal_time": iso(sig.ms),
                "origin_time": iso(sig.origin_ms),
                "symbol": ex.symbol,
                "side": ex.side.value,
                "quantity": ex.quantity,
                "status": ex.status.value,
                "final": ex.final,
                "filled_quantity": ex.filled_quantity,
                "avg_price": ex.avg_price,
                "reference_price": ex.reference_price,
                "slippage_points": slip,
                "realized_pnl_usd": ex.realized_pnl_usd,
                "fees_usd": ex.fees_usd,
                "legs": len(ex.legs),
                "final_time": iso(final[0].ms) if final else None,
                "latency_ms": round(final[0].ms - sig.origin_ms, 3) if final else None,
                "reason": ex.reason,
            }
        )
    return rows


def leg_rows(rec: WindowRecord) -> list[Row]:
    rows = []
    for sid in rec.signals:
        ex = rec.latest(sid)
        if not isinstance(ex, Execution):
            continue
        for leg in ex.legs:
            quote = vs_ref = None
            if leg.avg_price is not None and leg.slippage_points is not None:
                quote = leg.avg_price - leg.slippage_points * ex.side.sign
            if leg.avg_price is not None and ex.reference_price is not None:
                vs_ref = round((leg.avg_price - ex.reference_price) * ex.side.sign, 10)
            rows.append(
                {
                    "signal_id": sid,
                    "symbol": ex.symbol,
                    "side": ex.side.value,
                    "venue": leg.venue,
                    "client_order_id": leg.client_order_id,
                    "status": leg.status.value,
                    "reached_venue": leg.venue_symbol is not None,
                    "venue_symbol": leg.venue_symbol,
                    "contract": leg.contract,
                    "quantity": leg.quantity,
                    "filled_quantity": leg.filled_quantity,
                    "venue_filled_qty": leg.venue_filled_qty,
                    "avg_price": leg.avg_price,
                    "venue_quote": quote,
                    "slippage_points": leg.slippage_points,
                    "slippage_usd": leg.slippage_usd,
                    "vs_signal_ref_points": vs_ref,
                    "fees_usd": leg.fees_usd,
                    "realized_pnl_usd": leg.realized_pnl_usd,
                    "currency": leg.currency,
                    "reason": leg.reason,
                }
            )
    return rows


def venue_summary(legs: Sequence[Row]) -> list[Row]:
    """Per venue: legs that reached it, how many filled, fill rate, slippage statistics."""
    out = []
    for venue in sorted({r["venue"] for r in legs}):
        mine = [r for r in legs if r["venue"] == venue and r["reached_venue"]]
        filled = [r for r in mine if r["status"] == OrderStatus.FILLED.value]
        slips = [float(r["slippage_points"]) for r in mine if r["slippage_points"] is not None]
        usd = [float(r["slippage_usd"]) for r in mine if r["slippage_usd"] is not None]
        vs = [float(r["vs_signal_ref_points"]) for r in mine if r["vs_signal_ref_points"] is not None]
        refused = sum(1 for r in legs if r["venue"] == venue and not r["reached_venue"])
        out.append(
            {
                "venue": venue,
                "legs": len(mine),
                "filled": len(filled),
                "refused_before_venue": refused,
                "fill_rate": round(len(filled) / len(mine), 4) if mine else None,
                "mean_slippage_points": round(statistics.fmean(slips), 6) if slips else None,
                "median_slippage_points": statistics.median(slips) if slips else None,
                "p95_slippage_points": percentile(slips, 95),
                "mean_vs_signal_ref_points": round(statistics.fmean(vs), 6) if vs else None,
                "total_slippage_usd": round(sum(usd), 2),
                "mean_slippage_usd": round(statistics.fmean(usd), 2) if usd else None,
            }
        )
    return out


def tables(rec: WindowRecord) -> dict[str, list[Row]]:
    legs = leg_rows(rec)
    return {
        "orders": order_rows(rec),
        "fills": fill_rows(rec),
        "executions": execution_rows(rec),
        "legs": legs,
        "slippage": venue_summary(legs),
    }


def write_csv(path: Path, rows: Sequence[Row]) -> None:
    cols = list(rows[0]) if rows else []
    with path.open("w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=cols)
        w.writeheader()
        w.writerows(rows)


def write_parquet(path: Path, rows: Sequence[Row]) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    pq.write_table(pa.Table.from_pylist(list(rows)), path)


def export(
    rec: WindowRecord, out_dir: Path, formats: Sequence[str] = ("csv", "parquet")
) -> dict[str, list[Path]]:
    """Write every table in every format; returns the files per table."""
    out_dir.mkdir(parents=True, exist_ok=True)
    written: dict[str, list[Path]] = {}
    for name, rows in tables(rec).items():
        for fmt in formats:
            path = out_dir / f"{name}.{fmt}"
            (write_csv if fmt == "csv" else write_parquet)(path, rows)
            written.setdefault(name, []).append(path)
    return written
