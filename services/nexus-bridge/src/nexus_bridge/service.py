"""The bridge service (`python -m nexus_bridge`): the guards between NEXUS and nx:signals.

Inputs, through the consumer group `nexus-bridge`:
- `nx:{bridge:intake}`: signals from clients. A signal whose id is not a ULID is refused at once
  (`signal_invalid`). Each other runs the filters (confidence, MQScore, noise, reduced size), the
  open circuit breakers, the venue guard and duplicate prevention, in that order; the first that
  refuses produces an Event and a final rejected Execution on nx:executions (so the client's
  execution callback hears why), else the signal is published to nx:signals with its own id
  (idempotent). The decision is recorded (`state.py`) before its outputs go out; a redelivered
  entry replays it, so a signal is never decided twice differently.
- `nx:executions`: final executions release their symbol and feed the circuit breakers.
Executions are read first in every batch, so a fill and the next signal read together are taken
in the order they happened.

Periodic work (NX_BRIDGE_TICK_INTERVAL_S): release symbols past the duplicate timeout (a critical
event), watch the venues' heartbeats (alert on a disconnect, note a reconnect), switch the kill switch
on for a daily-loss trip, announce expired pauses, and keep the status key clients read.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

import redis

from nexus_bridge.breakers import BreakerState, expired, open_breakers
from nexus_bridge.config import BridgeConfig, BridgeSettings, load_config
from nexus_bridge.filters import Refusal, lot_for, screen
from nexus_bridge.outputs import decision_outputs, paused, trip_event, utc, when
from nexus_bridge.state import (
    OWNER,
    BridgeKeys,
    BridgeState,
    Decision,
    apply_final,
    breakers,
    claim,
    decision,
    record,
    release_exact,
    venue_reads,
    venues_connected,
    working,
)
from nexus_bridge.venues import load_trading_venues, venues_for
from nexus_bridge.wire import intake_stream, status_key
from nexus_mesh.config_files import check_roots, load_symbols
from nexus_mesh.context import Context
from nexus_mesh.deadletter import Rejected, recovered_signal, short_reason
from nexus_mesh.killswitch import killswitch_writes
from nexus_mesh.processor import Input, StreamProcessor
from nexus_mesh.state import Read, Result, Writes, string
from nexus_protocol.codec import Envelope, pack
from nexus_protocol.enums import Severity
from nexus_protocol.ids import derived_signal_id, is_signal_id, signal_id_problem
from nexus_protocol.messages import Execution, Heartbeat, Message, Signal
from nexus_protocol.symbols import SymbolRegistry

log = logging.getLogger(__name__)


class Bridge:
    def __init__(
        self,
        settings: BridgeSettings,
        client: redis.Redis,
        cfg: BridgeConfig,
        registry: SymbolRegistry,
        venues: dict[str, tuple[str, ...]],
        now_ms: Callable[[], int] | None = None,
    ) -> None:
        self.settings = settings
        self.names = settings.names
        self.client = client  # for the processor; the handlers read and write through their context
        self.cfg = cfg
        self.registry = registry
        self.venues = venues
        self.keys = BridgeKeys(self.names)
        self.state = BridgeState(client, self.names)  # operators' and tests' view of the same state
        self.ttl_ms = settings.dedupe_ttl_ms
        self._now_ms = now_ms or (lambda: time.time_ns() // 1_000_000)
        self._started_ns = time.time_ns()
        self._venue_up: dict[str, bool] = {}
        self.counters = {"accepted": 0, "refused": 0, "released": 0, "timeouts": 0}

    def __repr__(self) -> str:
        c = self.counters
        return (
            f"<Bridge {self.names.namespace} accepted={c['accepted']} refused={c['refused']} "
            f"released={c['released']} timeouts={c['timeouts']}>"
        )

    # ---- intake -------------------------------------------------------------------------------

    def _intake_signal(self, env: Envelope[Message], ctx: Context | None) -> Signal | None:
        signal = env.body
        if not isinstance(signal, Signal):
            return None
        if not signal.signal_id and ctx is not None:
            signal = signal.replace(signal_id=derived_signal_id(env.ts, f"{ctx.stream}/{ctx.entry_id}"))
        return signal

    def prefetch(self, env: Envelope[Message]) -> list[Read]:
        signal = self._intake_signal(env, None)
        return self.keys.intake_reads(signal) if signal is not None and is_signal_id(signal.signal_id) else []

    def on_intake(self, env: Envelope[Message], ctx: Context) -> Result:
        signal = self._intake_signal(env, ctx)
        if signal is None:
            return Result(
                [
                    ctx.event(
                        "bad_intake",
                        f"a {env.body.TYPE} on the bridge intake: only signals belong there",
                        severity=Severity.WARNING,
                        event_id=f"bridge:bad_intake:{ctx.stream}:{ctx.entry_id}",
                    )
                ]
            )
        problem = signal_id_problem(signal.signal_id)
        if problem is not None:  # answered, nothing recorded: the same entry always gets this answer
            self.counters["refused"] += 1
            refusal = Refusal(
                kind="signal_invalid", check="signal_id", reason=problem, severity=Severity.WARNING
            )
            return Result(decision_outputs(self.names, ctx, env, signal, Decision(refusal=refusal)))
        ctx.need(*self.keys.intake_reads(signal))
        recorded = decision(ctx, self.keys, signal.signal_id)
        d, writes = (recorded, Writes()) if recorded is not None else self._decide(signal, ctx)
        self.counters["accepted" if d.signal is not None else "refused"] += 1
        return Result(decision_outputs(self.names, ctx, env, signal, d), writes)

    def on_dead_intake(self, r: Rejected, ctx: Context) -> Result:
        """An intake entry dead-lettered (undecodable, a text over its limit, a NaN...) is answered all
        the same when an id can be recovered from it: a final rejected execution and an event, recorded
        (for a ULID) so the id is never decided again; nothing is claimed."""
        signal = recovered_signal(r)
        if signal is None:
            return Result()
        sid = signal.signal_id
        why = short_reason(r.reason)
        refusal = Refusal(kind="signal_invalid", check="entry", reason=why, severity=Severity.WARNING)
        d, writes = Decision(refusal=refusal), Writes()
        if is_signal_id(sid):
            ctx.need(string(self.keys.decision(sid)))
            if decision(ctx, self.keys, sid) is not None:
                return Result()  # decided and answered before
            d, writes = self._refused(sid, refusal)
        self.counters["refused"] += 1
        env = r.envelope or Envelope(id=sid, trace=sid, ts=ctx.now_ns(), body=signal)
        return Result(decision_outputs(self.names, ctx, env, signal, d), writes)

    def _refused(self, sid: str, refusal: Refusal) -> tuple[Decision, Writes]:
        d = Decision(refusal=refusal)
        return d, record(self.keys, sid, d, self.ttl_ms)

    def _decide(self, signal: Signal, ctx: Context) -> tuple[Decision, Writes]:
        sid = signal.signal_id
        screened = screen(signal, self.cfg, lot_for(self.registry, signal.symbol, self.cfg.lots))
        if screened.signal is None:
            return self._refused(sid, screened.refusal)  # type: ignore[arg-type]
        out = screened.signal
        now = self._now_ms()
        pauses = [] if out.reduce_only else open_breakers(breakers(ctx, self.keys), now, self.cfg)
        if pauses:  # (closing a position, reduce_only, stays possible while trading is paused)
            p = pauses[0]
            return self._refused(sid, paused(p.breaker, p.value, p.threshold, p.until_ms))
        down: tuple[str, ...] = ()
        if self.cfg.venue_guard:
            targets = venues_for(out.symbol, self.venues, out.venues)
            if targets:
                up = venues_connected(ctx, self.names, targets)
                live = tuple(v for v in targets if up[v])
                down = tuple(v for v in targets if not up[v])
                if not live:
                    refusal = Refusal(
                        kind="venue_unavailable",
                        check="venue_connected",
                        severity=Severity.WARNING,
                        reason=f"no venue for {out.symbol} is connected ({', '.join(down)} paused)",
                        value=len(live),
                        threshold=1,
                        data={"venues": list(down)},
                    )
                    return self._refused(sid, refusal)
                if down:
                    out = out.replace(venues=live)
        d = Decision(signal=out, resized=screened.notes, venues_down=down)
        result, writes = claim(ctx, self.keys, out.symbol, sid, now, d, self.ttl_ms)
        if isinstance(result, Decision):
            return result, writes
        reason = (
            f"{out.symbol} already has a working signal {result.signal_id} (since {when(result.since_ms)}): "
            "one working signal per symbol until every leg is filled, rejected or cancelled"
        )
        refusal = Refusal(
            kind="duplicate_signal",
            check="duplicate",
            reason=reason,
            value=result.signal_id,
            data={"working_signal_id": result.signal_id, "working_since_ms": result.since_ms},
        )
        return self._refused(sid, refusal)

    # ---- executions ---------------------------------------------------------------------------

    def on_execution(self, env: Envelope[Message], ctx: Context) -> Result:
        ex = env.body
        if not isinstance(ex, Execution) or not ex.final or not is_signal_id(ex.signal_id):
            return Result()  # (a refused malformed id held no symbol and names no state key)
        now = self._now_ms()
        day = self.cfg.session_day(utc(env.ts // 1_000_000))
        applied, writes = apply_final(
            ctx, self.keys, ex, day=day, is_today=day == self.cfg.session_day(utc(now)), now_ms=now,
            cfg=self.cfg, ttl_ms=self.ttl_ms,
        )  # fmt: skip
        if applied.released:
            self.counters["released"] += 1
            log.info("%s released: final execution of %s (%s)", ex.symbol, ex.signal_id, ex.status.value)
        result = Result([trip_event(ctx, ex, t) for t in applied.trips], writes)
        if applied.trips:
            result += self._apply_killswitch(ctx, applied.breakers)
        return result

    # ---- periodic work ------------------------------------------------------------------------

    def tick(self, ctx: Context) -> Result:
        now = self._now_ms()
        result = self._sweep_timeouts(ctx, now)
        if self.cfg.venue_guard:
            result += self._watch_venues(ctx, now)
        state = breakers(ctx, self.keys)
        result += self._apply_killswitch(ctx, state)
        result += self._expire_pauses(ctx, state, now)
        result.writes.set(
            status_key(self.names), pack(self._status(ctx, now)), px=self.settings.bridge_status_ttl_ms
        )
        return result

    def _sweep_timeouts(self, ctx: Context, now: int) -> Result:
        limit_ms = int(self.cfg.duplicate_timeout_s * 1000)
        result = Result()
        for symbol, h in working(ctx, self.keys).items():
            if now - h.since_ms < limit_ms:
                continue
            result.outputs.append(
                ctx.event(
                    "duplicate_timeout",
                    f"{symbol}: signal {h.signal_id} has had no final execution for "
                    f"{(now - h.since_ms) / 1000:.0f} s (limit {self.cfg.duplicate_timeout_s:g} s); "
                    "the symbol is released - check its legs at the venues",
                    severity=Severity.CRITICAL,
                    event_id=f"bridge:duplicate_timeout:{h.signal_id}",
                    trace=h.signal_id,
                    symbol=symbol,
                    signal_id=h.signal_id,
                    data={
                        "check": "duplicate_timeout",
                        "value": (now - h.since_ms) / 1000,
                        "threshold": self.cfg.duplicate_timeout_s,
                    },
                )
            )
            result.writes.extend(release_exact(ctx, self.keys, symbol, h))
            self.counters["timeouts"] += 1
            log.warning("%s released by timeout (signal %s)", symbol, h.signal_id)
        return result

    def _watch_venues(self, ctx: Context, now: int) -> Result:
        up = venues_connected(ctx, self.names, list(self.venues))
        self._venue_up = up
        seen = {k: v.decode() for k, v in ctx.hgetall(self.keys.venues).items()}
        result = Result()
        for venue, connected in up.items():
            new = "up" if connected else "down"
            before = seen.get(venue)
            if before == new:
                continue
            if new == "down":
                result.outputs.append(
                    ctx.event(
                        "venue_disconnected",
                        f"{venue} is not connected (no live adapter heartbeat): it is paused, "
                        "signals go to the connected venues only",
                        severity=Severity.CRITICAL,
                        event_id=f"bridge:venue_down:{venue}:{now}",
                        venue=venue,
                        data={"venue": venue},
                    )
                )
            elif before == "down":
                result.outputs.append(
                    ctx.event(
                        "venue_reconnected",
                        f"{venue} is connected again: it takes signals again",
                        event_id=f"bridge:venue_up:{venue}:{now}",
                        venue=venue,
                        data={"venue": venue},
                    )
                )
            result.writes.hset(self.keys.venues, venue, new)
        return result

    def _apply_killswitch(self, ctx: Context, st: BreakerState) -> Result:
        if not st.killswitch_pending or st.killswitch_pending == st.killswitch_done:
            return Result()
        reason = (
            f"nexus-bridge daily loss breaker: the day's P&L USD {st.daily_trip_value:,.2f} is at or "
            f"below USD -{self.cfg.daily_loss_limit_usd:,.2f}"
        )
        writes, event = killswitch_writes(
            self.names,
            True,
            reason=reason,
            by=self.settings.service,
            activation=f"bridge:{st.killswitch_pending}",
        )
        done = st.model_copy(update={"killswitch_done": st.killswitch_pending})
        writes.set(self.keys.breakers, done.model_dump_json())
        log.critical("kill switch on: %s", reason)
        return Result([event], writes)

    def _expire_pauses(self, ctx: Context, st: BreakerState, now: int) -> Result:
        state, done = expired(st, now)
        if not done:
            return Result()
        events = [
            ctx.event(
                "circuit_breaker_reset",
                f"{b}: the pause ended at {when(until)}",
                event_id=f"bridge:reset:{b}:{until}",
                data={"check": b, "until_ms": until},
            )
            for b, until in done
        ]
        return Result(events, Writes().set(self.keys.breakers, state.model_dump_json()))

    def _status(self, ctx: Context, now: int) -> Heartbeat:
        pauses = open_breakers(breakers(ctx, self.keys), now, self.cfg)
        detail = {
            "paused": [{"check": p.breaker, "until_ms": p.until_ms} for p in pauses],
            "venues_down": sorted(v for v, ok in self._venue_up.items() if not ok),
            "working": {s: h.signal_id for s, h in working(ctx, self.keys).items()},
            **self.counters,
        }
        return Heartbeat(
            service=self.settings.service,
            instance=self.settings.consumer,
            started_ns=self._started_ns,
            detail=detail,
        )


def make_bridge(
    settings: BridgeSettings, client: redis.Redis, *, now_ms: Callable[[], int] | None = None
) -> Bridge:
    """The bridge from its settings and config files (a bad one raises ConfigError naming it)."""
    cfg = load_config(settings)
    registry = load_symbols(settings.config_dir)
    check_roots(cfg.lots, registry, f"{settings.config_file}: lots")
    venues = load_trading_venues(settings.config_dir, settings.environment, registry)
    return Bridge(settings, client, cfg, registry, venues, now_ms=now_ms)


def processor(bridge: Bridge) -> StreamProcessor:
    """The bridge on its streams: executions first in every read, then the intake."""
    settings, names = bridge.settings, bridge.names
    return StreamProcessor(
        settings,
        [
            Input(names.executions, bridge.on_execution),
            Input(
                intake_stream(names),
                bridge.on_intake,
                prefetch=bridge.prefetch,
                untrusted=True,
                on_dead_letter=bridge.on_dead_intake,
            ),
        ],
        client=bridge.client,
        tick=bridge.tick,
        tick_interval_s=settings.bridge_tick_interval_s,
        heartbeat_detail=lambda: dict(bridge.counters),
        state_owner=OWNER,
        fresh=venue_reads(names, list(bridge.venues)),
    )


def build(settings: BridgeSettings, client: redis.Redis) -> StreamProcessor:
    return processor(make_bridge(settings, client))
