"""The rollover service: the active contract of every dated root in nx:contracts, with its history.

Every tick (NX_ROLLOVER_TICK_INTERVAL_S) the service computes each dated root's active contract from
the symbol registry's roll rules (`calendar.py`) and today's date in the root's exchange time zone,
and compares it with the hash `names.contracts` (root -> code, e.g. NQ -> NQM25).

Guarantee: every change of active contract is recorded once in the history, even across crashes,
restarts and two instances running at once.

- On a change its tick returns a `ContractRoll` on `names.contract_history` (a stream: the history)
  and a `contract_roll` Event on `names.events`, with ids derived from root + contract, and the new
  hash value; the processor commits them together (MULTI/EXEC). A crash leaves all or none; a second
  instance computes the same ids and publishes nothing new.
- The first value of a root (empty hash) is a change too, with `previous` None: the history starts.
- It never moves a root backwards. A hash value later than the calendar's (an operator's early roll
  with HSET, or a clock set back) is kept, and one `contract_ahead` warning says so.
- With NX_ROLLOVER_ROLL_POSITIONS on, a roll reports each open position in the old contract (from
  the fills aggregator's `names.state("fills", "positions")`) as a `position_roll_required` warning.
  It does not place the roll orders; see docs/rollover.md for why and what is missing.
"""

from __future__ import annotations

import datetime as dt
import logging
import warnings
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import redis

from nexus_gateway.rollover.calendar import SESSIONS_FROM, SESSIONS_TO, RollRule, preload
from nexus_gateway.rollover.config import RolloverSettings
from nexus_gateway.rollover.logic import (
    Ahead,
    Change,
    ahead_event,
    decide,
    open_positions,
    position_events,
    roll_outputs,
    roll_signals,
)
from nexus_mesh.config_files import load_symbols
from nexus_mesh.context import Context
from nexus_mesh.processor import StreamProcessor
from nexus_mesh.publish import Output
from nexus_mesh.state import Result, Writes
from nexus_protocol.symbols import SymbolRegistry

__all__ = ["RollClock", "RolloverStage", "build", "exchange_zone", "rules_from_registry"]

log = logging.getLogger(__name__)


def exchange_zone(calendar_name: str) -> ZoneInfo:
    """The time zone of an exchange_calendars calendar (CMES -> America/Chicago)."""
    import exchange_calendars as xc

    with warnings.catch_warnings():  # the same pandas 3 deprecations calendar.py silences
        warnings.simplefilter("ignore", DeprecationWarning)
        warnings.simplefilter("ignore", FutureWarning)
        cal = xc.get_calendar(calendar_name, start=SESSIONS_FROM.isoformat(), end=SESSIONS_TO.isoformat())
    return ZoneInfo(str(cal.tz))


def rules_from_registry(registry: SymbolRegistry) -> dict[str, RollRule]:
    """The roll rule of every dated root of the registry (roots with calendar `none` do not roll)."""
    return {
        root: RollRule.from_registry(root, spec)
        for root, spec in registry.symbols.items()
        if spec.calendar != "none"
    }


class RollClock:
    """Today's date: the system's in a given zone, unless pinned (tests) or read from a file (tests).

    A file that is missing, empty or not an ISO date falls back to the pinned or system date, with
    one warning per distinct content. Write it atomically (write a temporary file, then rename).
    """

    def __init__(self, pinned: dt.date | None = None, file: Path | None = None) -> None:
        self.pinned = pinned
        self.file = file
        self._bad: str | None = None

    @property
    def mode(self) -> str:
        return "file" if self.file is not None else "pinned" if self.pinned is not None else "system"

    def _from_file(self) -> dt.date | None:
        if self.file is None:
            return None
        try:
            text = self.file.read_text().strip()
            return dt.date.fromisoformat(text)
        except (OSError, ValueError) as exc:
            problem = f"{type(exc).__name__}: {exc}"
            if problem != self._bad:
                self._bad = problem
                log.warning(
                    "clock file %s unusable (%s): using the %s date",
                    self.file,
                    problem,
                    "pinned" if self.pinned else "system",
                )
            return None

    def today(self, zone: ZoneInfo) -> dt.date:
        found = self._from_file()
        if found is not None:
            return found
        if self.pinned is not None:
            return self.pinned
        return dt.datetime.now(zone).date()


class RolloverStage:
    """The tick of the rollover processor: decide per root, publish, then set the hash."""

    def __init__(self, settings: RolloverSettings, registry: SymbolRegistry) -> None:
        self.settings = settings
        self.names = settings.names
        self.registry = registry
        self.rules = rules_from_registry(registry)
        preload(self.rules.values())  # build the holiday calendars now, not on the first tick
        self.zones = {root: exchange_zone(rule.exchange_calendar or "") for root, rule in self.rules.items()}
        self.clock = RollClock(settings.rollover_today, settings.rollover_clock_file)
        self.active: dict[str, str] = {}
        self._reported: set[Ahead] = set()
        self.ticks = 0
        if self.clock.mode != "system":
            log.warning(
                "clock is %s (NX_ROLLOVER_TODAY / NX_ROLLOVER_CLOCK_FILE): a test setting", self.clock.mode
            )

    def __repr__(self) -> str:
        return f"<RolloverStage roots={sorted(self.rules)} clock={self.clock.mode}>"

    def tick(self, ctx: Context) -> Result:
        current = {k: v.decode(errors="replace") for k, v in ctx.hgetall(self.names.contracts).items()}
        outs: list[Output] = []
        changes: list[Change] = []
        ahead: set[Ahead] = set()
        for root, rule in self.rules.items():
            found = decide(rule, self.clock.today(self.zones[root]), current.get(root))
            if isinstance(found, Change):
                changes.append(found)
                outs += roll_outputs(found, self.names, self.settings.service)
            elif isinstance(found, Ahead) and found not in self._reported:
                ahead.add(found)  # its id dedupes too; remembering it only saves the round trip
                outs.append(ahead_event(found, self.names, self.settings.service))
        writes = Writes()
        if changes:
            outs += self._position_events(ctx, changes)  # rolls them, or warns that they need rolling
            for c in changes:  # committed with the history and events: all or nothing
                writes.hset(self.names.contracts, c.root, c.contract.code)
                log.info(
                    "%s: %s -> %s (roll date %s, expiry %s)",
                    c.root,
                    c.previous,
                    c.contract.code,
                    c.roll_date,
                    c.expiry,
                )
        self._reported |= ahead  # after the last read: a read may call this tick again
        self.active = {**current, **{c.root: c.contract.code for c in changes}}
        self.ticks += 1
        return Result(outs, writes)

    def _position_events(self, ctx: Context, changes: list[Change]) -> list[Output]:
        raw = {k.encode(): v for k, v in ctx.hgetall(self.names.state("fills", "positions")).items()}
        outs: list[Output] = []
        for change in changes:
            if change.previous is None:
                continue
            spec = self.registry.symbols[change.root]
            dated = {venue for venue, vs in spec.venues.items() if vs.dated}
            found = open_positions(raw, change.root, change.previous, dated)
            if self.settings.rollover_roll_positions:
                outs += roll_signals(change, found, self.names, self.settings.service)
            else:
                outs += position_events(change, found, self.names, self.settings.service)
        return outs

    def detail(self) -> dict[str, Any]:
        return {"clock": self.clock.mode, "active": dict(self.active), "ticks": self.ticks}


def build(settings: RolloverSettings, client: redis.Redis) -> StreamProcessor:
    stage = RolloverStage(settings, load_symbols(settings.config_dir))
    return StreamProcessor(
        settings,
        [],
        client=client,
        tick=stage.tick,
        tick_interval_s=settings.rollover_tick_interval_s,
        heartbeat_detail=stage.detail,
    )
