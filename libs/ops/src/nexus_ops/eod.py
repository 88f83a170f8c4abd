"""`nexusctl eod`: the plan's after-close checklist for one session day; any failed item fails it.

Items (each passes, or fails naming what is wrong):
- positions: every position flat, or each open one explained (carried overnight on purpose);
- signals final: every signal of the day has a final execution (archive, and streams past it);
- nothing pending: no consumer group on an order or fill stream holds an unacknowledged entry;
- dead letters: each dead letter of the day explained by an operator's note;
- archive caught up: the recorder's group has read and acknowledged everything on every recorded
  stream (so the archive holds the day, and Redis may trim it);
- backup: a backup of the archive written after the day's last archived entry.
The day's trading metrics (the plan's "review all trades, calculate win rate") come with it.

An explanation is a note in the archive (`nexusctl eod --explain SUBJECT "why"`): the subject of a
dead letter is its id, of an open position `position:SYMBOL:VENUE`, of a pending entry
`pending:STREAM:ENTRY-ID`.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import redis

from nexus_archive.backup import Manifest
from nexus_archive.read import ArchiveReader
from nexus_archive.recorded import GROUP, recorded_streams
from nexus_mesh.connection import as_str
from nexus_mesh.lag import group_lag
from nexus_mesh.session import TradingSession
from nexus_ops import positions as positions_mod
from nexus_ops.records import History, Window
from nexus_ops.status import MD_MARK
from nexus_ops.trading import Metrics, day_of, metrics
from nexus_protocol.messages import Execution, Signal
from nexus_protocol.streams import Names

_DAY = dt.timedelta(days=1)
_SHOWN = 10  # ids listed per failed item


@dataclass
class Item:
    name: str
    ok: bool
    detail: str


@dataclass
class Checklist:
    day: dt.date
    window: Window
    items: list[Item] = field(default_factory=list)
    trading: Metrics | None = None

    @property
    def ok(self) -> bool:
        return all(i.ok for i in self.items)

    @property
    def failed(self) -> list[str]:
        return [i.name for i in self.items if not i.ok]

    def add(self, name: str, problems: Sequence[str], ok_detail: str) -> None:
        shown = ", ".join(problems[:_SHOWN]) + (
            f" (+{len(problems) - _SHOWN} more)" if len(problems) > _SHOWN else ""
        )
        self.items.append(Item(name, not problems, shown if problems else ok_detail))


def session_window(session: TradingSession, day: dt.date | None, now: dt.datetime) -> tuple[dt.date, Window]:
    """The session day `day` and its window: from the reset the day before to the reset on the day
    (`TradingSession.session_day`). Default: the session of an hour ago, the one that just closed
    when eod runs after the reset, today's when it runs before."""
    if day is None:
        day = dt.datetime.strptime(session.session_day(now - dt.timedelta(hours=1)), "%Y%m%d").date()
    tz = ZoneInfo(session.session_timezone)
    hh, mm = (int(x) for x in session.session_reset_at.split(":"))
    reset = dt.time(hh, mm)
    start = dt.datetime.combine(day - _DAY, reset, tzinfo=tz)
    end = dt.datetime.combine(day, reset, tzinfo=tz)
    return day, Window(int(start.timestamp() * 1000), int(end.timestamp() * 1000))


def _signals(history: History, window: Window) -> tuple[list[str], list[tuple[dt.datetime, Execution]]]:
    """Signal ids of the window, and the first final execution of each that has one."""
    sids = list(
        dict.fromkeys(
            e.env.body.signal_id or e.env.id
            for e in history.entries("signals", window)
            if isinstance(e.env.body, Signal)
        )
    )
    wanted, finals = set(sids), {}
    for e in history.entries("executions", window.widened(_DAY // dt.timedelta(milliseconds=1))):
        ex = e.env.body
        if isinstance(ex, Execution) and ex.final and ex.signal_id in wanted and ex.signal_id not in finals:
            finals[ex.signal_id] = (dt.datetime.fromtimestamp(e.ms / 1000, dt.UTC), ex)
    return sids, [finals[s] for s in sids if s in finals]


def _pending(client: redis.Redis, names: Names, notes: dict[str, str]) -> list[str]:
    out = []
    for raw in client.scan_iter(match=names.all_pattern, count=5000, _type="stream"):
        key = as_str(raw)
        if MD_MARK in key:
            continue
        groups: Any = client.xinfo_groups(key)
        for g in groups:
            if not int(g.get("pending") or 0):
                continue
            for p in client.xpending_range(key, g["name"], "-", "+", 1000):
                subject = f"pending:{key}:{as_str(p['message_id'])}"
                if subject not in notes:
                    out.append(f"{as_str(g['name'])} on {key}: {as_str(p['message_id'])}")
    return out


def _behind(client: redis.Redis, names: Names, venues: Sequence[str]) -> list[str]:
    out = []
    for stream in recorded_streams(venues):
        key = names.stream(stream)
        try:
            groups: Any = client.xinfo_groups(key)
        except redis.ResponseError:
            continue  # no such stream: nothing to record
        mine = [g for g in groups if as_str(g["name"]) == GROUP]
        if not mine:
            if int(client.xlen(key)):
                out.append(f"{stream}: no recorder group")
            continue
        lag, pending = group_lag(client, key, mine[0]), int(mine[0].get("pending") or 0)
        if lag is None or lag or pending:
            out.append(f"{stream}: {'?' if lag is None else lag} unread, {pending} unacknowledged")
    return out


def latest_backup(folder: Path) -> tuple[Path, Manifest] | None:
    found = []
    for m in sorted(folder.glob("archive-*.json")):
        try:
            found.append((m, Manifest.read(m)))
        except Exception:
            continue
    return max(found, key=lambda p: p[1].created_at) if found else None


def run(
    history: History,
    reader: ArchiveReader,
    client: redis.Redis | None,
    *,
    day: dt.date,
    window: Window,
    session: TradingSession,
    config_dir: Path,
    venues: Sequence[str],
    backups: Path,
) -> Checklist:
    names = history.names
    notes = reader.notes()
    cl = Checklist(day, window)
    if client is not None:
        rows = positions_mod.collect(client, names, config_dir)
        open_ = [
            f"{r.symbol} {r.universal_quantity:+g} at {r.venue}"
            for r in rows
            if r.universal_quantity and f"position:{r.symbol}:{r.venue}" not in notes
        ]
        cl.add("positions", open_, "flat" if not rows else f"{len(rows)} open, each explained")
    sids, finals = _signals(history, window)
    done = {ex.signal_id for _t, ex in finals}
    cl.add("signals final", [s for s in sids if s not in done], f"{len(sids)} signals, each final")
    if client is not None:
        cl.add("nothing pending", _pending(client, names, notes), "no unacknowledged entry")
    dls = reader.dead_letters(window.start_ms, window.end_ms)
    cl.add(
        "dead letters",
        [f"{d.id} ({d.reason})" for d in dls if d.note is None],
        f"{len(dls)} dead letters, each explained" if dls else "none",
    )
    if client is not None:
        cl.add(
            "archive caught up", _behind(client, names, venues), "the recorder has read and stored everything"
        )
    last = reader.last_entry_time()
    found = latest_backup(backups)
    if found is None:
        cl.add("backup", [f"no backup in {backups} (nexusctl backup)"], "")
    else:
        _path, manifest = found
        stale = last is not None and dt.datetime.fromisoformat(manifest.created_at) < last
        problem = f"the latest, {manifest.file}, predates the archive's last entry ({last}): nexusctl backup"
        cl.add(
            "backup",
            [problem] if stale else [],
            f"{manifest.file}, {manifest.rows} rows, {manifest.created_at}",
        )
    cl.trading = metrics(finals, day_of(session))
    return cl
