"""The router's risk state in Redis, restart-safe and rebuilt from executions.

All keys share the hash tag `state:router`, so a decision and its bookkeeping commit in one
transaction. Every update *sets* a contribution (a leg's exposure, a signal's trade count or P&L)
and moves the total by the difference, so applying the same input twice changes nothing.

- `routes`: signal id -> the recorded decision (a packed Route). A redelivered signal reuses it, so
  the router never decides twice differently for one signal.
- `legs` / `exposure`: per leg its signed universal quantity (working: the quantity asked; terminal:
  what filled); per `venue|symbol` the sum. Risk counts working orders as exposure.
- `day:{YYYYMMDD}:signals` / `:pnl` / `:totals`: per session day, trades counted once per signal and
  realized P&L in USD per signal, with their totals. They expire a few days after.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import redis
from redis.client import Pipeline

from nexus_mesh.expiry import FieldExpiry
from nexus_mesh.scripts import LuaScript, run_pipeline
from nexus_protocol.codec import pack, unpack
from nexus_protocol.messages import Heartbeat, KillSwitchState, Route
from nexus_protocol.streams import Names

_SET_CONTRIB = """
local old = tonumber(redis.call('HGET', KEYS[1], ARGV[1]) or '0')
local new = tonumber(ARGV[2])
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
local total = redis.call('HINCRBYFLOAT', KEYS[2], ARGV[3], new - old)
if ARGV[4] ~= '0' then
  redis.call('PEXPIRE', KEYS[1], ARGV[4])
  redis.call('PEXPIRE', KEYS[2], ARGV[4])
end
return total
"""
DAY_TTL_MS = 4 * 86_400_000


@dataclass(slots=True)
class Snapshot:
    """Everything a decision reads, fetched in one round trip."""

    route: Route | None = None
    killswitch: KillSwitchState | None = None
    exposure: dict[str, float] = field(default_factory=dict)  # "venue|symbol" -> signed universal qty
    own_legs: dict[str, float] = field(default_factory=dict)  # this signal's legs already counted
    trades_today: int = 0
    pnl_today_usd: float = 0.0
    counted_today: bool = False
    last_prices: dict[str, float] = field(default_factory=dict)  # root -> last price
    venue_connected: dict[str, bool] = field(default_factory=dict)
    venue_can_trade: dict[str, bool] = field(
        default_factory=dict
    )  # from the heartbeat, where the adapter says


class RiskState:
    def __init__(self, client: redis.Redis, names: Names, retention_ms: int = 8 * 86_400_000) -> None:
        self._client = client
        self._names = names
        self._routes = names.state("router", "routes")
        self._legs = names.state("router", "legs")
        # A decision is kept for redeliveries, a leg's contribution until its order ends; then the window.
        self.routes_expiry = FieldExpiry(
            client, names.state("router", "routes_finished"), (self._routes,), retention_ms
        )
        self.legs_expiry = FieldExpiry(
            client, names.state("router", "legs_finished"), (self._legs,), retention_ms
        )
        self._exposure = names.state("router", "exposure")
        self._set_contrib = LuaScript(_SET_CONTRIB)

    def _day(self, day: str, what: str) -> str:
        return self._names.state("router", "day", day, what)

    def snapshot(
        self, signal_id: str, coids: Sequence[str], venues: Sequence[str], roots: Sequence[str], day: str
    ) -> Snapshot:
        pipe = self._client.pipeline(transaction=False)
        pipe.hget(self._routes, signal_id)
        pipe.get(self._names.killswitch)
        pipe.hgetall(self._exposure)
        pipe.hmget(self._legs, list(coids)) if coids else pipe.echo("")
        pipe.hgetall(self._day(day, "totals"))
        pipe.hexists(self._day(day, "signals"), signal_id)
        pipe.hmget(self._names.state("md", "last"), list(roots))
        for v in venues:
            pipe.get(self._names.control("venue", v))
        route, kill, exposure, legs, totals, counted, prices, *venue_raw = pipe.execute()
        snap = Snapshot()
        if route is not None:
            decoded = unpack(route)
            snap.route = decoded if isinstance(decoded, Route) else None
        if kill is not None:
            k = unpack(kill)
            snap.killswitch = k if isinstance(k, KillSwitchState) else None
        snap.exposure = {k.decode(): float(v) for k, v in exposure.items()}
        if coids:
            snap.own_legs = {c: float(v) for c, v in zip(coids, legs, strict=True) if v is not None}
        snap.trades_today = int(float(totals.get(b"trades", 0)))
        snap.pnl_today_usd = float(totals.get(b"pnl", 0.0))
        snap.counted_today = bool(counted)
        snap.last_prices = {r: float(p) for r, p in zip(roots, prices, strict=True) if p is not None}
        for v, raw in zip(venues, venue_raw, strict=True):
            hb = unpack(raw) if raw is not None else None
            snap.venue_connected[v] = isinstance(hb, Heartbeat) and bool(hb.venue_connected)
            if isinstance(hb, Heartbeat) and isinstance(hb.detail.get("can_trade"), bool):
                snap.venue_can_trade[v] = hb.detail["can_trade"]
        return snap

    def pnl_today(self, day: str) -> float:
        """The session day's realized P&L in USD (0 before the day's first execution)."""
        return float(self._client.hget(self._day(day, "totals"), "pnl") or 0.0)

    def commit(self, route: Route, legs: dict[str, tuple[str, float]], day: str) -> None:
        """Record the decision, its legs' exposure (coid -> (venue|symbol, signed qty)), and the trade."""

        def build(pipe: Pipeline) -> None:
            pipe.hsetnx(self._routes, route.signal_id, pack(route))
            self.routes_expiry.finished([route.signal_id], pipe)
            self._queue_legs(pipe, legs)
            if legs:
                self._set_contrib.queue(
                    pipe,
                    [self._day(day, "signals"), self._day(day, "totals")],
                    [route.signal_id, "1", "trades", str(DAY_TTL_MS)],
                )

        run_pipeline(self._client, build, [self._set_contrib], transaction=True)

    def apply_execution(
        self,
        legs: dict[str, tuple[str, float]],
        signal_id: str,
        pnl_usd: float,
        day: str,
        finished: Sequence[str] = (),
    ) -> None:
        """An execution update: each leg's exposure becomes what it is now; the signal's P&L counts.
        `finished` legs (terminal) start their retention clock."""

        def build(pipe: Pipeline) -> None:
            self._queue_legs(pipe, legs)
            self.legs_expiry.finished(finished, pipe)
            self._set_contrib.queue(
                pipe,
                [self._day(day, "pnl"), self._day(day, "totals")],
                [signal_id, repr(pnl_usd), "pnl", str(DAY_TTL_MS)],
            )

        run_pipeline(self._client, build, [self._set_contrib], transaction=True)

    def _queue_legs(self, pipe: Pipeline, legs: dict[str, tuple[str, float]]) -> None:
        for coid, (key, qty) in legs.items():
            self._set_contrib.queue(pipe, [self._legs, self._exposure], [coid, repr(qty), key, "0"])
