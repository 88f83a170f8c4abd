"""Reading the mesh's record: stream entries in a time window, decoded, grouped by signal.

Entry ids are Redis's own clock (milliseconds); every entry's `ts` header is its origin time
(nanoseconds) carried from the signal (order path) or from the venue report (fill path). A window
selects *signals* by their entry time; what they caused is read up to `slack_ms` later.
"""

from __future__ import annotations

import datetime as dt
import heapq
import math
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

import redis

from nexus_mesh.connection import as_str
from nexus_protocol.codec import Envelope, decode
from nexus_protocol.errors import DecodeError
from nexus_protocol.messages import Execution, Fill, Message, Order, Signal, VenueOrder
from nexus_protocol.partitions import PARTITIONED, partition_base
from nexus_protocol.streams import Names

_CHUNK = 5_000
END_OF_TIME_MS = 253_402_300_799_000  # 9999-12-31T23:59:59Z: a window open to the future
_RELATIVE = re.compile(r"-(?P<n>\d+(?:\.\d+)?)(?P<unit>[smhd])")
_UNIT_S = {"s": 1, "m": 60, "h": 3_600, "d": 86_400}


def entry_ms(entry_id: Any) -> int:
    return int(as_str(entry_id).split("-", 1)[0])


def entry_order(entry_id: str) -> tuple[int, int]:
    """A Redis entry id as (ms, seq): how entries sort."""
    ms, _, seq = entry_id.partition("-")
    return int(ms), int(seq or 0)


def parse_time(value: str, *, now: dt.datetime | None = None, end: bool = False) -> dt.datetime:
    """ISO 8601 (a naive time is UTC), a date, `today` or `yesterday` (UTC; its start, with `end` the
    next day's start), `now`, or a relative `-30m` / `-2h` / `-1d`."""
    now = now or dt.datetime.now(dt.UTC)
    v = value.strip()
    if v == "now":
        return now
    if v in ("today", "yesterday"):
        day = now.astimezone(dt.UTC).replace(hour=0, minute=0, second=0, microsecond=0)
        day -= dt.timedelta(days=1 if v == "yesterday" else 0)
        return day + dt.timedelta(days=1) if end else day
    m = _RELATIVE.fullmatch(v)
    if m:
        return now - dt.timedelta(seconds=float(m["n"]) * _UNIT_S[m["unit"]])
    if re.fullmatch(r"\d{4}-\d{2}-\d{2}", v):
        day = dt.datetime.fromisoformat(v).replace(tzinfo=dt.UTC)
        return day + dt.timedelta(days=1) if end else day
    try:
        t = dt.datetime.fromisoformat(v)
    except ValueError:
        raise ValueError(f"{value!r}: not a time (ISO 8601, a date, today, 'now' or '-2h')") from None
    return t if t.tzinfo else t.replace(tzinfo=dt.UTC)


@dataclass(frozen=True, slots=True)
class Window:
    start_ms: int
    end_ms: int

    @classmethod
    def parse(cls, start: str | None, end: str | None, *, default_start: str = "-1d") -> Window:
        t0 = parse_time(start or default_start)
        t1 = parse_time(end or "now", end=True)
        if t1 <= t0:
            raise ValueError(f"--to ({t1.isoformat()}) is not after --from ({t0.isoformat()})")
        return cls(int(t0.timestamp() * 1000), int(t1.timestamp() * 1000))

    def widened(self, slack_ms: int) -> Window:
        return Window(self.start_ms, self.end_ms + slack_ms)

    def describe(self) -> str:
        f = dt.datetime.fromtimestamp(self.start_ms / 1000, dt.UTC).strftime("%Y-%m-%d %H:%M:%S")
        t = dt.datetime.fromtimestamp(self.end_ms / 1000, dt.UTC).strftime("%Y-%m-%d %H:%M:%S")
        return f"{f} .. {t} UTC"


def raw_range(client: redis.Redis, key: str, window: Window) -> Iterator[tuple[str, Mapping[bytes, bytes]]]:
    """Entries of `key` whose id time lies in the window, oldest first, read in chunks."""
    start = f"{window.start_ms}-0"
    end = f"{window.end_ms}-18446744073709551615"
    while True:
        rows: Any = client.xrange(key, min=start, max=end, count=_CHUNK)
        for entry_id, fields in rows or ():
            yield as_str(entry_id), fields
        if not rows or len(rows) < _CHUNK:
            return
        ms, seq = as_str(rows[-1][0]).split("-")
        start = f"{ms}-{int(seq) + 1}"


@dataclass(frozen=True, slots=True)
class StreamEntry:
    stream: str
    entry_id: str
    env: Envelope[Message]

    @property
    def ms(self) -> int:
        return entry_ms(self.entry_id)

    @property
    def origin_ms(self) -> float:
        return self.env.ts / 1e6


def entries(client: redis.Redis, key: str, window: Window) -> Iterator[StreamEntry]:
    """Decoded entries; an undecodable one is skipped (it is in the dead-letter stream already)."""
    for entry_id, fields in raw_range(client, key, window):
        try:
            yield StreamEntry(key, entry_id, decode(fields))
        except DecodeError:
            continue


@dataclass
class WindowRecord:
    """Signals of a window and everything they caused."""

    window: Window
    signals: dict[str, StreamEntry] = field(default_factory=dict)
    executions: dict[str, list[StreamEntry]] = field(
        default_factory=dict
    )  # signal id -> its execution updates
    orders: list[StreamEntry] = field(default_factory=list)  # routed (Order) and venue (VenueOrder) orders
    fills: list[StreamEntry] = field(default_factory=list)  # nx:{fills} Fill entries (after fx)

    def final(self, signal_id: str) -> tuple[StreamEntry, Execution] | None:
        """The first final execution of a signal, with its entry."""
        for e in self.executions.get(signal_id, ()):
            ex = e.env.body
            if isinstance(ex, Execution) and ex.final:
                return e, ex
        return None

    def latest(self, signal_id: str) -> Execution | None:
        found = self.final(signal_id)
        if found is not None:
            return found[1]
        ups = self.executions.get(signal_id)
        body = ups[-1].env.body if ups else None
        return body if isinstance(body, Execution) else None

    def finals(self) -> list[tuple[StreamEntry, Execution]]:
        out = [f for sid in self.signals if (f := self.final(sid)) is not None]
        return sorted(out, key=lambda p: p[0].entry_id)

    @property
    def venues(self) -> list[str]:
        return sorted({e.env.body.venue for e in self.orders if isinstance(e.env.body, Order)})


class History(Protocol):
    """Where the past is read: the streams (`StreamHistory`), or the archive with the streams for
    what it has not received yet (`nexus_ops.history.ArchiveHistory`)."""

    names: Names

    def entries(self, stream: str, window: Window) -> Iterator[StreamEntry]:
        """Entries of a logical stream (`signals`, `orders:nt8`...) with an entry time in the window."""
        ...

    def streams(self, prefix: str) -> list[str]:
        """Logical streams starting with `prefix` that hold anything."""
        ...


@dataclass
class StreamHistory:
    """The streams alone."""

    client: redis.Redis
    names: Names

    def entries(self, stream: str, window: Window) -> Iterator[StreamEntry]:
        return entries(self.client, self.names.stream(stream), window)

    def streams(self, prefix: str) -> list[str]:
        head = f"{self.names.namespace}:{{{prefix}"  # `nx:{orders:` for `orders:`
        keys = {as_str(k) for k in self.client.scan_iter(match=f"{head}*}}", count=1000, _type="stream")}
        return sorted(k[len(self.names.namespace) + 2 : -1] for k in keys)


def entries_of(history: History, stream: str, window: Window) -> Iterator[StreamEntry]:
    """`history.entries`, and for a stream partitioned by symbol group (nexus_protocol.partitions)
    the entries of every partition of it found, merged in entry order."""
    if stream not in PARTITIONED:
        return history.entries(stream, window)
    found = [s for s in history.streams(stream + ":") if partition_base(s) == stream]
    each = [history.entries(s, window) for s in dict.fromkeys([stream, *found])]
    return heapq.merge(*each, key=lambda e: entry_order(e.entry_id))


def load(
    history: History,
    window: Window,
    *,
    slack_ms: int = 120_000,
    venues: list[str] | None = None,
) -> WindowRecord:
    """Signals in the window and what they caused up to `slack_ms` after it."""
    rec = WindowRecord(window)
    for e in history.entries("signals", window):
        body = e.env.body
        if isinstance(body, Signal):
            rec.signals.setdefault(body.signal_id or e.env.id, e)
    wanted = set(rec.signals)
    later = window.widened(slack_ms)
    for e in history.entries("executions", later):
        body = e.env.body
        if isinstance(body, Execution) and body.signal_id in wanted:
            rec.executions.setdefault(body.signal_id, []).append(e)
    for e in entries_of(history, "orders:routed", later):
        if isinstance(e.env.body, Order) and e.env.body.signal_id in wanted:
            rec.orders.append(e)
    for v in sorted(set(venues or ()) | set(rec.venues)):
        for e in history.entries(f"orders:{v}", later):
            if isinstance(e.env.body, VenueOrder) and e.env.body.signal_id in wanted:
                rec.orders.append(e)
    for e in entries_of(history, "fills", later):
        if isinstance(e.env.body, Fill) and e.env.body.signal_id in wanted:
            rec.fills.append(e)
    return rec


def percentile(values: list[float], q: float) -> float | None:
    """The q-th percentile (0..100), nearest rank; None for no values."""
    if not values:
        return None
    s = sorted(values)
    rank = max(1, min(len(s), math.ceil(q / 100 * len(s))))
    return s[rank - 1]
