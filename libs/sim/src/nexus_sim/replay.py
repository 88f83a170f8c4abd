"""Tick files for replay: CSV always, Parquet when pyarrow is importable.

Columns: `ts` (ISO 8601, naive meaning UTC, up to nanosecond fractions; or integer epoch nanoseconds),
`symbol`, `bid`, `ask`, `last`, `size`; optional `bid_size`, `ask_size`. Empty `last` or `size` cells
repeat the previous value for that symbol (mid and 0 for the first row). Rows are returned sorted by
time (stable, so equal timestamps keep file order), which is the order a replay emits them in.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from nexus_sim.model import Quote

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_FRACTION = re.compile(r"^(?P<head>[^.]*?)(?:\.(?P<frac>\d+))?(?P<tz>Z|[+-]\d{2}:?\d{2})?$")
_UNIT_NS = {"s": 1_000_000_000, "ms": 1_000_000, "us": 1_000, "ns": 1}


class TickFileError(ValueError):
    """A tick file that cannot be read: missing column, bad timestamp or number."""


def parse_ts_ns(value: object) -> int:
    """Epoch nanoseconds from an int, a digit string (epoch ns), an ISO 8601 string or a datetime."""
    if isinstance(value, bool):
        raise TickFileError(f"bad timestamp {value!r}")
    if isinstance(value, int):
        return value
    if isinstance(value, datetime):
        aware = value if value.tzinfo is not None else value.replace(tzinfo=UTC)
        delta = aware - _EPOCH
        return (delta.days * 86_400 + delta.seconds) * 1_000_000_000 + delta.microseconds * 1_000
    text = str(value).strip()
    if re.fullmatch(r"-?\d+", text):
        return int(text)
    match = _FRACTION.match(text)
    if match is None:
        raise TickFileError(f"bad timestamp {value!r}")
    # Parse the fraction ourselves: datetime stops at microseconds and feeds often carry nanoseconds.
    try:
        whole = datetime.fromisoformat(match["head"] + (match["tz"] or ""))
    except ValueError as exc:
        raise TickFileError(f"bad timestamp {value!r}") from exc
    frac = (match["frac"] or "")[:9].ljust(9, "0")
    return parse_ts_ns(whole) + int(frac)


def _number(row: Mapping[str, Any], column: str, line: int) -> float | None:
    raw = row.get(column)
    if raw is None or (isinstance(raw, str) and not raw.strip()):
        return None
    try:
        return float(raw)
    except (TypeError, ValueError) as exc:
        raise TickFileError(f"row {line}: bad {column} {raw!r}") from exc


def quotes_from_rows(rows: Iterable[Mapping[str, Any]], *, symbol: str | None = None) -> list[Quote]:
    """Validate rows (dicts keyed by column name) into time-ordered quotes, optionally one symbol's."""
    quotes: list[Quote] = []
    last_seen: dict[str, tuple[float, float]] = {}
    for line, row in enumerate(rows, start=1):
        for column in ("ts", "symbol"):
            if row.get(column) in (None, ""):
                raise TickFileError(f"row {line}: missing {column}")
        row_symbol = str(row["symbol"]).strip()
        if symbol is not None and row_symbol != symbol:
            continue
        bid = _number(row, "bid", line)
        ask = _number(row, "ask", line)
        if bid is None or ask is None:
            raise TickFileError(f"row {line}: missing bid or ask")
        if bid > ask:
            raise TickFileError(f"row {line}: bid {bid} above ask {ask}")
        prev_last, prev_size = last_seen.get(row_symbol, ((bid + ask) / 2, 0.0))
        last = _number(row, "last", line)
        size = _number(row, "size", line)
        last = prev_last if last is None else last
        size = prev_size if size is None else size
        last_seen[row_symbol] = (last, size)
        bid_size = _number(row, "bid_size", line)
        ask_size = _number(row, "ask_size", line)
        try:
            ts_ns = parse_ts_ns(row["ts"])
        except TickFileError as exc:
            raise TickFileError(f"row {line}: {exc}") from exc
        quotes.append(
            Quote(
                symbol=row_symbol,
                bid=bid,
                ask=ask,
                last=last,
                bid_size=size if bid_size is None else bid_size,
                ask_size=size if ask_size is None else ask_size,
                last_size=size,
                ts_ns=ts_ns,
            )
        )
    quotes.sort(key=lambda q: q.ts_ns)
    return quotes


def _parquet_rows(path: Path) -> list[dict[str, Any]]:
    try:
        import pyarrow as pa
        import pyarrow.parquet as pq
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise TickFileError(f"{path}: reading Parquet needs pyarrow") from exc
    table = pq.read_table(path)
    if "ts" in table.column_names and pa.types.is_timestamp(table.schema.field("ts").type):
        # as_py() would truncate nanoseconds to microseconds: go through the raw integers instead.
        unit = table.schema.field("ts").type.unit
        raw = table.column("ts").cast(pa.int64()).to_pylist()
        ts = [None if v is None else v * _UNIT_NS[unit] for v in raw]
        table = table.set_column(table.column_names.index("ts"), "ts", pa.array(ts, pa.int64()))
    rows: list[dict[str, Any]] = table.to_pylist()
    return rows


def load_ticks(path: str | Path, *, symbol: str | None = None) -> list[Quote]:
    """Read a `.csv` or `.parquet` tick file into time-ordered quotes (one symbol's if given)."""
    path = Path(path)
    if path.suffix.lower() in (".parquet", ".pq"):
        return quotes_from_rows(_parquet_rows(path), symbol=symbol)
    with path.open(newline="", encoding="utf-8") as handle:
        reader = csv.DictReader(handle)
        if reader.fieldnames is None:
            raise TickFileError(f"{path}: empty file")
        missing = {"ts", "symbol", "bid", "ask"} - {name.strip() for name in reader.fieldnames}
        if missing:
            raise TickFileError(f"{path}: missing columns {sorted(missing)}")
        rows = [{k.strip(): v for k, v in row.items() if k is not None} for row in reader]
    return quotes_from_rows(rows, symbol=symbol)
