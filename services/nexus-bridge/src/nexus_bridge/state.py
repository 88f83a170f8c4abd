"""The bridge's state in Redis: restart-safe, and every update safe to apply twice.

All keys share the hash tag `state:bridge` (`nx:{state:bridge}:...`), so a script or transaction
touching several of them stays in one slot (Redis Cluster).

- `working` (hash): symbol -> `{signal_id}|{claimed_ms}`, the one working signal per symbol.
  Claimed atomically with the decision (a Lua script); released when that signal's final execution
  arrives (compare-and-delete on the signal id), or by the timeout sweep (compare-and-delete on the
  exact value, so a fresh claim is never released by an old sweep).
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
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import redis
from pydantic import BaseModel, ConfigDict, Field
from redis.client import Pipeline

from nexus_bridge.breakers import BreakerState, Trip, apply_trade
from nexus_bridge.config import BridgeConfig
from nexus_bridge.filters import Refusal
from nexus_mesh.connection import as_bytes
from nexus_mesh.scripts import LuaScript, run_pipeline
from nexus_protocol.codec import unpack
from nexus_protocol.errors import DecodeError
from nexus_protocol.messages import Execution, Heartbeat, Signal
from nexus_protocol.streams import Names

DAY_TTL_MS = 4 * 86_400_000

# KEYS: working, decision key. ARGV: symbol, signal id, now ms, decision JSON, decision TTL ms.
_CLAIM = """
local d = redis.call('GET', KEYS[2])
if d then return {'decided', d} end
local cur = redis.call('HGET', KEYS[1], ARGV[1])
if cur and string.sub(cur, 1, #ARGV[2] + 1) ~= ARGV[2] .. '|' then return {'busy', cur} end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2] .. '|' .. ARGV[3])
redis.call('SET', KEYS[2], ARGV[4], 'PX', ARGV[5])
return {'claimed', ARGV[4]}
"""
# KEYS: working. ARGV: symbol, value (exact) -> 1 if released.
_RELEASE_EXACT = """
if redis.call('HGET', KEYS[1], ARGV[1]) == ARGV[2] then return redis.call('HDEL', KEYS[1], ARGV[1]) end
return 0
"""


class Decision(BaseModel):
    """The bridge's answer to one signal: the signal sent on (maybe smaller, fewer venues) or a refusal."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    signal: Signal | None = None
    refusal: Refusal | None = None
    resized: dict[str, Any] = Field(default_factory=dict)  # the reduced-size band's notes
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


def _s(v: bytes | str | None) -> str:
    return v.decode() if isinstance(v, bytes) else (v or "")


class BridgeState:
    def __init__(self, client: redis.Redis, names: Names, *, decision_ttl_ms: int) -> None:
        self.client = client
        self.names = names
        self.decision_ttl_ms = decision_ttl_ms
        self.k_working = self._k("working")
        self.k_breakers = self._k("breakers")
        self.k_venues = self._k("venues")
        self._claim = LuaScript(_CLAIM)
        self._release_exact = LuaScript(_RELEASE_EXACT)

    def _k(self, *rest: str) -> str:
        return self.names.state("bridge", *rest)

    # ---- decisions and duplicate prevention --------------------------------------------------

    def decision(self, signal_id: str) -> Decision | None:
        raw = self.client.get(self._k("decision", signal_id))
        return Decision.model_validate_json(raw) if raw is not None else None

    def record(self, signal_id: str, decision: Decision) -> Decision:
        """Record a refusal; if a decision was recorded first (a redelivery), that one stands."""
        key = self._k("decision", signal_id)
        if self.client.set(key, decision.model_dump_json(), nx=True, px=self.decision_ttl_ms):
            return decision
        return self.decision(signal_id) or decision

    def claim(self, symbol: str, signal_id: str, now_ms: int, decision: Decision) -> Decision | Holder:
        """Make `signal_id` the symbol's working signal and record `decision`, atomically.

        The decision when claimed (or the one recorded first, on a redelivery); the holder when another
        signal is working on the symbol.
        """
        keys = [self.k_working, self._k("decision", signal_id)]
        args = [symbol, signal_id, str(now_ms), decision.model_dump_json(), str(self.decision_ttl_ms)]
        reply = run_pipeline(self.client, lambda p: self._claim.queue(p, keys, args), [self._claim])[0]
        status, value = _s(reply[0]), _s(reply[1])
        if status == "busy":
            return _holder(value)
        return Decision.model_validate_json(value)

    def working(self) -> dict[str, Holder]:
        return {_s(k): _holder(_s(v)) for k, v in self.client.hgetall(self.k_working).items()}

    def release_exact(self, symbol: str, holder: Holder) -> bool:
        keys, args = [self.k_working], [symbol, holder.raw]
        reply = run_pipeline(
            self.client, lambda p: self._release_exact.queue(p, keys, args), [self._release_exact]
        )
        return bool(reply[0])

    # ---- breakers -----------------------------------------------------------------------------

    def breakers(self) -> BreakerState:
        return _breakers(self.client.get(self.k_breakers))

    def update_breakers(self, change: Any) -> BreakerState:
        """Apply `change(state) -> state` under WATCH (safe with several bridge instances)."""

        out: list[BreakerState] = []

        def txn(pipe: Pipeline) -> None:
            new: BreakerState = change(_breakers(pipe.get(self.k_breakers)))
            pipe.multi()
            pipe.set(self.k_breakers, new.model_dump_json())
            out[:] = [new]

        self.client.transaction(txn, self.k_breakers)
        return out[0]

    def apply_final(
        self, ex: Execution, *, day: str, is_today: bool, now_ms: int, cfg: BridgeConfig
    ) -> Applied:
        """Count a final execution once: release its symbol, add its P&L to the day, run the breakers."""
        sid, symbol = ex.signal_id, ex.symbol
        k_counted = self._k("counted", sid)
        k_pnl, k_totals = self._k("day", day, "pnl"), self._k("day", day, "totals")
        trade = ex.filled_quantity > 0 or ex.realized_pnl_usd != 0

        out: list[Applied] = []

        def txn(pipe: Pipeline) -> None:
            counted = pipe.get(k_counted)
            holder = pipe.hget(self.k_working, symbol)
            mine = holder is not None and _s(holder).startswith(f"{sid}|")
            state = _breakers(pipe.get(self.k_breakers))
            if counted is not None or not trade:
                trips = [Trip(**t) for t in json.loads(counted)["trips"]] if counted is not None else []
                pipe.multi()
                if mine:
                    pipe.hdel(self.k_working, symbol)
                out[:] = [Applied(mine, trips, state)]
                return
            old = float(pipe.hget(k_pnl, sid) or 0.0)
            total = float(pipe.hget(k_totals, "pnl") or 0.0) - old + ex.realized_pnl_usd
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
            pipe.multi()
            if mine:
                pipe.hdel(self.k_working, symbol)
            pipe.hset(k_pnl, sid, repr(ex.realized_pnl_usd))
            pipe.hincrbyfloat(k_totals, "pnl", ex.realized_pnl_usd - old)
            pipe.pexpire(k_pnl, DAY_TTL_MS)
            pipe.pexpire(k_totals, DAY_TTL_MS)
            pipe.set(self.k_breakers, state.model_dump_json())
            pipe.set(k_counted, json.dumps({"trips": [_trip(t) for t in trips]}), px=self.decision_ttl_ms)
            out[:] = [Applied(mine, trips, state)]

        self.client.transaction(txn, k_counted, self.k_working, self.k_breakers, k_pnl, k_totals)
        return out[0]

    def day_pnl(self, day: str) -> float:
        return float(self.client.hget(self._k("day", day, "totals"), "pnl") or 0.0)

    # ---- venues -------------------------------------------------------------------------------

    def venues_connected(self, venues: Sequence[str]) -> dict[str, bool]:
        """Each venue's link as its adapter heartbeats it (`nx:{control}:venue:{venue}`, with a TTL)."""
        if not venues:
            return {}
        raws = self.client.mget([self.names.control("venue", v) for v in venues])
        out = {}
        for v, raw in zip(venues, raws, strict=True):
            try:
                hb = unpack(as_bytes(raw)) if raw is not None else None
            except DecodeError:
                hb = None
            out[v] = isinstance(hb, Heartbeat) and bool(hb.venue_connected)
        return out

    def venue_states(self) -> dict[str, str]:
        return {_s(k): _s(v) for k, v in self.client.hgetall(self.k_venues).items()}

    def set_venue_state(self, venue: str, state: str) -> None:
        self.client.hset(self.k_venues, venue, state)


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
