"""The bridge's state: read through the stage view, written as the batch's writes, restart-safe.

All keys share the hash tag `state:bridge` (`nx:{state:bridge}:...`, owner "bridge": cached in
process, versioned; see `nexus_mesh.state`). The processor commits a decision with its outputs in
one MULTI/EXEC, so every check-then-write below is atomic.

- `working` (hash): symbol -> `{signal_id}|{claimed_ms}`, the one working signal per symbol.
  Claimed with the decision; released when that signal's final execution arrives (if it is still
  the holder), or by the timeout sweep (only if it still holds exactly the value swept, so a fresh
  claim is never released by an old sweep).
- `decision:{signal_id}` (string, JSON, TTL = dedupe TTL): what the bridge decided for the signal.
  A redelivered intake entry replays it, so one signal always gets the same answer and output ids.
- `counted:{signal_id}` (string, JSON, TTL): the final execution was counted by the breakers; the
  value holds the trips it caused, so a redelivery re-emits the same events (same ids) and counts
  nothing twice.
- `breakers` (string, JSON): `breakers.BreakerState` - loss streak, pauses, kill switch bookkeeping.
- `day:{YYYYMMDD}:pnl` / `:totals` (hashes, 4 days TTL): realized P&L per signal and the day's total.
- `venues` (hash): venue -> `up` or `down`, the last state the venue watch alerted on.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import msgspec
import redis

from nexus_bridge.breakers import BreakerState, Trip, apply_trade
from nexus_bridge.config import BridgeConfig
from nexus_bridge.filters import Refusal
from nexus_mesh.commit import write_owned
from nexus_mesh.connection import as_bytes, as_str
from nexus_mesh.context import Context
from nexus_mesh.state import Read, Writes, hget, string, whole
from nexus_protocol.codec import unpack
from nexus_protocol.errors import DecodeError
from nexus_protocol.messages import Execution, Heartbeat, Signal
from nexus_protocol.streams import Names

OWNER = "bridge"
DAY_TTL_MS = 4 * 86_400_000


class Decision(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """The bridge's answer to one signal: the signal sent on (maybe smaller, fewer venues) or a refusal."""

    signal: Signal | None = None
    refusal: Refusal | None = None
    resized: dict[str, Any] = msgspec.field(default_factory=dict)  # the reduced-size band's notes
    venues_down: tuple[str, ...] = ()  # venues left out because their adapter is not connected


@dataclass(frozen=True, slots=True)
class Holder:
    signal_id: str
    since_ms: int
    raw: str  # the stored value, for compare-and-delete


@dataclass(frozen=True, slots=True)
class Applied:
    """What counting one final execution did."""

    released: bool
    trips: list[Trip]
    breakers: BreakerState


class BridgeKeys:
    """The names of the bridge's state keys (owner "bridge": one hash tag, cached, versioned)."""

    def __init__(self, names: Names) -> None:
        self.names = names
        self.working = self._k("working")
        self.breakers = self._k("breakers")
        self.venues = self._k("venues")

    def _k(self, *rest: str) -> str:
        return self.names.state(OWNER, *rest)

    def decision(self, signal_id: str) -> str:
        return self._k("decision", signal_id)

    def counted(self, signal_id: str) -> str:
        return self._k("counted", signal_id)

    def day(self, day: str, what: str) -> str:
        return self._k("day", day, what)

    def intake_reads(self, signal: Signal) -> list[Read]:
        return [
            string(self.decision(signal.signal_id)),
            hget(self.working, signal.symbol),
            string(self.breakers),
        ]

    def final_reads(self, ex: Execution, day: str) -> list[Read]:
        return [
            string(self.counted(ex.signal_id)),
            hget(self.working, ex.symbol),
            string(self.breakers),
            hget(self.day(day, "pnl"), ex.signal_id),
            whole(self.day(day, "totals")),
        ]


# ---- the stage's reads and writes (pure: through the view, returned as writes) ---------------------


def decision(ctx: Context, keys: BridgeKeys, signal_id: str) -> Decision | None:
    raw = ctx.get(keys.decision(signal_id))
    return msgspec.json.decode(raw, type=Decision) if raw is not None else None


def breakers(ctx: Context, keys: BridgeKeys) -> BreakerState:
    return _breakers(ctx.get(keys.breakers))


def record(keys: BridgeKeys, signal_id: str, d: Decision, ttl_ms: int) -> Writes:
    return Writes().set(keys.decision(signal_id), msgspec.json.encode(d), px=ttl_ms)


def claim(
    ctx: Context, keys: BridgeKeys, symbol: str, signal_id: str, now_ms: int, d: Decision, ttl_ms: int
) -> tuple[Decision | Holder, Writes]:
    """Make `signal_id` the symbol's working signal and record `d`; the holder when another signal
    is working on the symbol (and nothing written)."""
    cur = ctx.hget(keys.working, symbol)
    if cur is not None and not as_str(cur).startswith(f"{signal_id}|"):
        return _holder(as_str(cur)), Writes()
    writes = record(keys, signal_id, d, ttl_ms).hset(keys.working, symbol, f"{signal_id}|{now_ms}")
    return d, writes


def working(ctx: Context, keys: BridgeKeys) -> dict[str, Holder]:
    return {k: _holder(as_str(v)) for k, v in ctx.hgetall(keys.working).items()}


def release_exact(ctx: Context, keys: BridgeKeys, symbol: str, holder: Holder) -> Writes:
    """Release `symbol` only if it still holds exactly `holder` (an old sweep never frees a new claim)."""
    cur = ctx.hget(keys.working, symbol)
    return Writes().hdel(keys.working, symbol) if cur is not None and as_str(cur) == holder.raw else Writes()


def apply_final(
    ctx: Context,
    keys: BridgeKeys,
    ex: Execution,
    *,
    day: str,
    is_today: bool,
    now_ms: int,
    cfg: BridgeConfig,
    ttl_ms: int,
) -> tuple[Applied, Writes]:
    """Count a final execution once: release its symbol, add its P&L to the day, run the breakers."""
    sid, symbol = ex.signal_id, ex.symbol
    ctx.need(*keys.final_reads(ex, day))
    counted = ctx.get(keys.counted(sid))
    holder = ctx.hget(keys.working, symbol)
    mine = holder is not None and as_str(holder).startswith(f"{sid}|")
    state = breakers(ctx, keys)
    writes = Writes()
    if mine:
        writes.hdel(keys.working, symbol)
    trade = ex.filled_quantity > 0 or ex.realized_pnl_usd != 0
    if counted is not None or not trade:
        trips = [Trip(**t) for t in json.loads(counted)["trips"]] if counted is not None else []
        return Applied(mine, trips, state), writes
    k_pnl, k_totals = keys.day(day, "pnl"), keys.day(day, "totals")
    old = float(ctx.hget(k_pnl, sid) or 0.0)
    total = float(ctx.hgetall(k_totals).get("pnl", 0.0)) - old + ex.realized_pnl_usd
    state, trips = apply_trade(
        state,
        signal_id=sid,
        pnl_usd=ex.realized_pnl_usd,
        day_pnl_usd=total,
        is_today=is_today,
        day=day,
        now_ms=now_ms,
        cfg=cfg,
    )
    writes.hset(k_pnl, sid, repr(ex.realized_pnl_usd)).hset(k_totals, "pnl", repr(total))
    writes.pexpire(k_pnl, DAY_TTL_MS).pexpire(k_totals, DAY_TTL_MS)
    writes.set(keys.breakers, state.model_dump_json())
    writes.set(keys.counted(sid), json.dumps({"trips": [_trip(t) for t in trips]}), px=ttl_ms)
    return Applied(mine, trips, state), writes


def venues_connected(ctx: Context, names: Names, venues: Sequence[str]) -> dict[str, bool]:
    """Each venue's link as its adapter heartbeats it (`nx:{control}:venue:{venue}`, with a TTL)."""
    out = {}
    for v in venues:
        raw = ctx.get(names.control("venue", v))
        try:
            hb = unpack(as_bytes(raw)) if raw is not None else None
        except DecodeError:
            hb = None
        out[v] = isinstance(hb, Heartbeat) and bool(hb.venue_connected)
    return out


def venue_reads(names: Names, venues: Sequence[str]) -> list[Read]:
    return [string(names.control("venue", v)) for v in venues]


# ---- operators and tests: the same state read from Redis directly -------------------------------


class BridgeState:
    """The bridge's state as `nexus-bridge status` and tests read it, and the operator's breaker reset
    (which changes the state version, so the running bridge drops what it cached)."""

    def __init__(self, client: redis.Redis, names: Names) -> None:
        self.client = client
        self.names = names
        self.keys = BridgeKeys(names)

    def breakers(self) -> BreakerState:
        return _breakers(self.client.get(self.keys.breakers))

    def working(self) -> dict[str, Holder]:
        return {as_str(k): _holder(as_str(v)) for k, v in self.client.hgetall(self.keys.working).items()}

    def day_pnl(self, day: str) -> float:
        return float(self.client.hget(self.keys.day(day, "totals"), "pnl") or 0.0)

    def update_breakers(self, change: Callable[[BreakerState], BreakerState]) -> BreakerState:
        """Apply `change(state) -> state` as one owned-state write (WATCHed, versioned)."""
        out: list[BreakerState] = []

        def writes(get: Callable[[str], bytes | None]) -> Writes:
            out[:] = [change(_breakers(get(self.keys.breakers)))]
            return Writes().set(self.keys.breakers, out[0].model_dump_json())

        write_owned(self.client, self.names.state(OWNER, "version"), writes)
        return out[0]


def _breakers(raw: Any) -> BreakerState:
    return BreakerState.model_validate_json(raw) if raw is not None else BreakerState()


def _trip(t: Trip) -> dict[str, Any]:
    return {
        "breaker": t.breaker,
        "value": t.value,
        "threshold": t.threshold,
        "until_ms": t.until_ms,
        "trip_id": t.trip_id,
    }


def _holder(value: str) -> Holder:
    sid, _, since = value.partition("|")
    try:
        since_ms = int(since)
    except ValueError:
        since_ms = 0
    return Holder(sid, since_ms, value)
