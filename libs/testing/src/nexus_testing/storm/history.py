"""What happened in a storm, from the three witnesses the checker compares (`checker.py`):

- the driver: every signal it tried to send through the NEXUS client, with what the client said
  (`SentSignal`: sent, unknown outcome, or refused in safe mode);
- the platforms: what each simulator recorded in its journal (`nexus_sim.journal`): every order it
  received per client order id and every fill it made (`PlatformHistory`);
- the mesh: what it published on its streams and holds in its state after the storm settled
  (`MeshHistory`): signals that reached the bridge, final executions, orders per venue, the fills
  stage's venue positions, entries pending in any group, dead letters, alarm events, the bridge's
  held symbols, and `nexusctl status`'s problems.

Each reader turns its source into plain values; the checks are pure functions of them.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import redis

from nexus_mesh.connection import as_str
from nexus_ops import status
from nexus_protocol.codec import Envelope, decode
from nexus_protocol.messages import DeadLetter, Event, Execution, Message, Signal, VenueOrder
from nexus_protocol.streams import Names
from nexus_sim.journal import read_journal

Outcome = Literal["sent", "unknown", "refused"]
ALARMS = ("position_mismatch", "position_drift", "duplicate_timeout", "group_recreated")
_EPS = 1e-9


@dataclass(frozen=True, slots=True)
class SentSignal:
    signal_id: str
    symbol: str
    side: str
    quantity: float
    sent_ns: int
    outcome: Outcome  # sent; unknown (the link failed during the send); refused (safe mode: not sent)


@dataclass(slots=True)
class PlatformHistory:
    """One platform's own record: orders received (times per client order id), those received again
    while an earlier copy was working (a copy the platform refused on arrival, e.g. an MT5 requote, is
    not working: re-sending it is no duplicate), and fills made."""

    venue: str
    received: Counter[str] = field(default_factory=Counter)
    duplicates: Counter[str] = field(default_factory=Counter)  # received again while a copy was working
    filled: dict[str, float] = field(default_factory=lambda: defaultdict(float))  # coid -> quantity
    positions: dict[str, float] = field(default_factory=lambda: defaultdict(float))  # symbol -> signed

    @classmethod
    def from_facts(cls, venue: str, facts: Iterator[dict[str, Any]]) -> PlatformHistory:
        h = cls(venue)
        live: Counter[str] = Counter()  # copies received and not refused on arrival
        for f in facts:
            coid = f["client_order_id"]
            if f["kind"] == "order":
                h.received[coid] += 1
                h.duplicates[coid] += 1 if live[coid] else 0
                live[coid] += 1
            elif f["kind"] == "rejected":
                live[coid] = max(0, live[coid] - 1)
            elif f["kind"] == "fill":
                h.filled[coid] += f["qty"]
                h.positions[f["symbol"]] += f["qty"] if f["side"] == "buy" else -f["qty"]
        return h

    @classmethod
    def read(cls, venue: str, journal: Path) -> PlatformHistory:
        return cls.from_facts(venue, read_journal(journal))


@dataclass(frozen=True, slots=True)
class FinalSeen:
    entry_ms: int  # when the final execution reached nx:executions (its stream entry id)
    status: str
    legs: tuple[tuple[str, str, str, float], ...]  # (venue, client order id, status, venue filled qty)


@dataclass(slots=True)
class MeshHistory:
    arrived: set[str] = field(default_factory=set)  # signal ids on the bridge's intake
    finals: dict[str, list[FinalSeen]] = field(default_factory=lambda: defaultdict(list))
    orders: dict[str, dict[str, VenueOrder]] = field(default_factory=lambda: defaultdict(dict))
    order_copies: Counter[tuple[str, str]] = field(default_factory=Counter)  # (venue, coid) entries
    venue_positions: dict[str, dict[str, float]] = field(default_factory=lambda: defaultdict(dict))
    pending: dict[str, int] = field(default_factory=dict)  # "stream group" -> entries pending
    dead_letters: list[str] = field(default_factory=list)  # "stream id: reason"
    alarms: Counter[str] = field(default_factory=Counter)
    held: dict[str, str] = field(default_factory=dict)  # symbol -> signal the bridge still holds it for
    status_problems: list[str] = field(default_factory=list)

    @classmethod
    def read(cls, client: redis.Redis, names: Names, venues: list[str]) -> MeshHistory:
        h = cls()
        for _, env in entries(client, names.bridge_intake):
            if isinstance(env.body, Signal):
                h.arrived.add(env.body.signal_id)
        for entry_id, env in entries(client, names.executions):
            ex = env.body
            if isinstance(ex, Execution) and ex.final:
                legs = tuple(
                    (leg.venue, leg.client_order_id, leg.status.value, leg.venue_filled_qty)
                    for leg in ex.legs
                )
                h.finals[ex.signal_id].append(FinalSeen(entry_ms(entry_id), ex.status.value, legs))
        for venue in venues:
            for _, env in entries(client, names.orders(venue)):
                if isinstance(env.body, VenueOrder):
                    h.orders[venue][env.body.client_order_id] = env.body
                    h.order_copies[(venue, env.body.client_order_id)] += 1
        for k, v in client.hgetall(names.state("fills", "venue_positions")).items():
            venue, _, symbol = as_str(k).partition("|")
            if abs(float(v)) > _EPS:
                h.venue_positions[venue][symbol] = float(v)
        h._read_groups(client, names)
        for _, env in entries(client, names.events):
            if isinstance(env.body, Event) and env.body.kind in ALARMS:
                h.alarms[env.body.kind] += 1
        for _, env in entries(client, names.dlq):
            if isinstance(env.body, DeadLetter):
                h.dead_letters.append(f"{env.body.stream} {env.body.entry_id}: {env.body.reason}")
        held: Any = client.hgetall(names.state("bridge", "working"))
        h.held = {as_str(k): as_str(v).partition("|")[0] for k, v in held.items()}
        return h

    def _read_groups(self, client: redis.Redis, names: Names) -> None:
        keys = status.discover(client, names)
        for g in status.groups(client, names, keys):
            if status.MD_MARK not in g.stream and g.pending:
                self.pending[f"{g.stream} {g.group}"] = g.pending
        self.status_problems = status.collect(client, names, status.Expected(), keys=keys).problems


def entries(client: redis.Redis, stream: str, batch: int = 5_000) -> Iterator[tuple[str, Envelope[Message]]]:
    """Every entry of `stream`, decoded, oldest first, read `batch` at a time."""
    start = "-"
    while True:
        got: Any = client.xrange(stream, start, "+", count=batch)
        for raw_id, fields in got:
            yield as_str(raw_id), decode(fields)
        if len(got) < batch:
            return
        start = "(" + as_str(got[-1][0])


def entry_ms(entry_id: str) -> int:
    return int(entry_id.partition("-")[0])
