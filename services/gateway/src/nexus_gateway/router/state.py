"""The router's risk state, read through the stage view and written as the batch's writes (no Redis).

All keys share the hash tag `state:router` (owner "router": cached in process, versioned). Every
update *sets* a contribution (a leg's exposure, a signal's trade count or P&L) and moves the total
by the difference, so applying the same input twice changes nothing.

- `routes`: signal id -> the recorded decision (a packed Route). A redelivered signal reuses it, so
  the router never decides twice differently for one signal.
- `legs` / `exposure`: per leg its signed universal quantity (working: the quantity asked; terminal:
  what filled, marked `=` once its retention clock has started); per `venue|symbol` the sum. Risk
  counts working orders as exposure. Only what changes is written: an execution that moves nothing
  writes nothing.
- `day:{YYYYMMDD}:signals` / `:pnl` / `:totals`: per session day, trades counted once per signal and
  realized P&L in USD per signal, with their totals. They expire a few days after.
- `routes_finished` / `legs_finished`: retention clocks (`nexus_mesh.expiry`).

Read per batch, never cached (other services write them): the kill switch, the venues' link
heartbeats, the last market price per root (`nx:{state:md}:last`, from the normalizer).
"""

from __future__ import annotations

from collections.abc import Container, Sequence
from dataclasses import dataclass, field

from nexus_mesh.context import Context
from nexus_mesh.state import Read, Writes, string, whole
from nexus_protocol.codec import pack, unpack
from nexus_protocol.errors import DecodeError
from nexus_protocol.messages import Heartbeat, KillSwitchState, Route
from nexus_protocol.streams import Names

OWNER = "router"
DAY_TTL_MS = 4 * 86_400_000
_DAY_HASHES = ("totals", "signals", "pnl")


@dataclass(slots=True)
class Snapshot:
    """Everything a decision reads."""

    route: Route | None = None
    killswitch: KillSwitchState | None = None
    exposure: dict[str, float] = field(default_factory=dict)  # "venue|symbol" -> signed universal qty
    own_legs: dict[str, float] = field(default_factory=dict)  # this signal's legs already counted
    trades_today: int = 0
    pnl_today_usd: float = 0.0
    counted_today: bool = False
    last_prices: dict[str, float] = field(default_factory=dict)  # root -> last price
    venue_connected: dict[str, bool] = field(default_factory=dict)
    venue_can_trade: dict[str, bool] = field(default_factory=dict)  # from the heartbeat, where it says
    venue_equity_usd: dict[str, float] = field(default_factory=dict)  # the account's, where its adapter says
    venue_equity: dict[str, tuple[float, str]] = field(default_factory=dict)  # in another currency


class RiskState:
    """Key names and the pure reads and writes of the router's state."""

    def __init__(self, names: Names) -> None:
        self.names = names
        self.routes = names.state(OWNER, "routes")
        self.legs = names.state(OWNER, "legs")
        self.exposure = names.state(OWNER, "exposure")
        self.routes_finished = names.state(OWNER, "routes_finished")
        self.legs_finished = names.state(OWNER, "legs_finished")
        self.last_prices = names.state("md", "last")
        self._reads: dict[str, tuple[Read, ...]] = {}

    def day(self, day: str, what: str) -> str:
        return self.names.state(OWNER, "day", day, what)

    def fresh(self, venues: Sequence[str]) -> list[Read]:
        """What every batch reads anew: the kill switch, last prices, each venue's link."""
        return [
            string(self.names.killswitch),
            whole(self.last_prices),
            *(string(self.names.control("venue", v)) for v in venues),
        ]

    def signal_reads(self, day: str) -> tuple[Read, ...]:
        """What a decision reads: the hashes whole, so they are loaded once and then answered from
        the cache, a new signal's absence included (a week of decisions is a few MB)."""
        reads = self._reads.get(day)
        if reads is None:
            hashes = (self.routes, self.exposure, self.legs, *(self.day(day, w) for w in _DAY_HASHES))
            reads = tuple(whole(h) for h in hashes)
            self._reads = {day: reads}
        return reads

    def snapshot(
        self, ctx: Context, signal_id: str, coids: Sequence[str], venues: Sequence[str], day: str
    ) -> Snapshot:
        ctx.need(*self.signal_reads(day))
        snap = Snapshot()
        route = _unpack(ctx.hget(self.routes, signal_id))
        snap.route = route if isinstance(route, Route) else None
        kill = _unpack(ctx.get(self.names.killswitch))
        snap.killswitch = kill if isinstance(kill, KillSwitchState) else None
        snap.exposure = {k: float(v) for k, v in ctx.hgetall(self.exposure).items()}
        for c in coids:
            raw = ctx.hget(self.legs, c)
            if raw is not None:
                snap.own_legs[c] = leg_qty(raw)
        totals = ctx.hgetall(self.day(day, "totals"))
        snap.trades_today = int(float(totals.get("trades", 0)))
        snap.pnl_today_usd = float(totals.get("pnl", 0.0))
        snap.counted_today = ctx.hget(self.day(day, "signals"), signal_id) is not None
        snap.last_prices = {r: float(p) for r, p in ctx.hgetall(self.last_prices).items()}
        for v in venues:
            hb = _unpack(ctx.get(self.names.control("venue", v)))
            snap.venue_connected[v] = isinstance(hb, Heartbeat) and bool(hb.venue_connected)
            if isinstance(hb, Heartbeat) and isinstance(hb.detail.get("can_trade"), bool):
                snap.venue_can_trade[v] = hb.detail["can_trade"]
            if isinstance(hb, Heartbeat):
                _equity(snap, v, hb.detail)
        return snap

    def pnl_today(self, ctx: Context, day: str) -> float:
        """The session day's realized P&L in USD (0 before the day's first execution)."""
        return float(ctx.hgetall(self.day(day, "totals")).get("pnl", 0.0))

    def commit(self, ctx: Context, route: Route, legs: dict[str, tuple[str, float]], day: str) -> Writes:
        """Record the decision, its legs' exposure (coid -> (venue|symbol, signed qty)), and the trade."""
        w = Writes().hset(self.routes, route.signal_id, pack(route))
        w.zadd(self.routes_finished, route.signal_id, ctx.now_ns() // 1_000_000)
        self._legs(ctx, w, legs)
        if legs:
            self._contribution(ctx, w, day, "signals", route.signal_id, "trades", 1.0)
        return w

    def apply_execution(
        self,
        ctx: Context,
        legs: dict[str, tuple[str, float]],
        signal_id: str,
        pnl_usd: float,
        day: str,
        finished: Sequence[str] = (),
    ) -> Writes:
        """An execution update: each leg's exposure becomes what it is now; the signal's P&L counts.
        `finished` legs (terminal) start their retention clock."""
        ctx.need(*self.signal_reads(day))
        w = Writes()
        for c in self._legs(ctx, w, legs, set(finished)):
            w.zadd(self.legs_finished, c, ctx.now_ns() // 1_000_000)
        self._contribution(ctx, w, day, "pnl", signal_id, "pnl", pnl_usd)
        return w

    def _legs(
        self, ctx: Context, w: Writes, legs: dict[str, tuple[str, float]], done: Container[str] = ()
    ) -> list[str]:
        """Set each leg's exposure (a `done` leg's marked finished); returns the legs finished now.
        A leg whose figure and mark are as recorded is left alone: the same execution seen again,
        or the next one of its signal, writes nothing."""
        exposure = ctx.hgetall(self.exposure)
        newly_done = []
        for coid, (key, qty) in legs.items():
            raw = ctx.hget(self.legs, coid)
            old = leg_qty(raw) if raw is not None else 0.0
            finished = coid in done
            value = (_DONE if finished else b"") + repr(qty).encode()
            if value == raw:
                continue
            if finished and not (raw or b"").startswith(_DONE):
                newly_done.append(coid)
            w.hset(self.legs, coid, value)
            if qty != old:
                total = float(exposure.get(key, 0.0)) + qty - old
                exposure[key] = repr(total).encode()
                w.hset(self.exposure, key, repr(total))
        return newly_done

    def _contribution(
        self, ctx: Context, w: Writes, day: str, what: str, member: str, total_field: str, value: float
    ) -> None:
        """Set `member`'s contribution in `day:what` and move the day's `total_field` by the change."""
        per, totals = self.day(day, what), self.day(day, "totals")
        raw = ctx.hget(per, member)
        old = float(raw or 0.0)
        if value == old and (raw is not None or value == 0.0):
            return  # as recorded (a contribution not recorded is 0)
        total = float(ctx.hgetall(totals).get(total_field, 0.0)) + value - old
        w.hset(per, member, repr(value)).hset(totals, total_field, repr(total))
        if raw is None:  # a new member: the day's keys live on a few days from their latest one
            w.pexpire(per, DAY_TTL_MS).pexpire(totals, DAY_TTL_MS)


_DONE = b"="  # a finished leg's figure starts with it (its retention clock has started)


def leg_qty(raw: bytes) -> float:
    """A leg's recorded signed quantity (`=` marks a finished leg)."""
    return float(raw.removeprefix(_DONE))


def _number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _equity(snap: Snapshot, venue: str, detail: dict[str, object]) -> None:
    """The account's equity from its venue heartbeat: in USD, else in its own currency (the router
    converts that at its own rate)."""
    usd, amount, currency = detail.get("equity_usd"), detail.get("equity"), detail.get("equity_currency")
    if _number(usd):
        snap.venue_equity_usd[venue] = float(usd)  # type: ignore[arg-type]
    elif _number(amount) and isinstance(currency, str):
        snap.venue_equity[venue] = (float(amount), currency)  # type: ignore[arg-type]


_UNPACKED: dict[bytes, object] = {}  # heartbeats and the kill switch: the same bytes for many signals


def _unpack(raw: bytes | None) -> object:
    if raw is None:
        return None
    found = _UNPACKED.get(raw)
    if found is None:
        try:
            found = unpack(raw)
        except DecodeError:
            found = False
        if len(_UNPACKED) > 1024:
            _UNPACKED.clear()
        _UNPACKED[raw] = found
    return found or None
