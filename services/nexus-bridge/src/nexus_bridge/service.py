"""The bridge service (`python -m nexus_bridge`): the guards between NEXUS and nx:signals.

Inputs, through the consumer group `nexus-bridge`:
- `nx:{bridge:intake}`: signals from clients. Each runs the filters (confidence, MQScore, noise,
  reduced size), the open circuit breakers, the venue guard and duplicate prevention, in that order;
  the first that refuses produces an Event and a final rejected Execution on nx:executions (so the
  client's execution callback hears why), else the signal is published to nx:signals with its own
  id (idempotent). The decision is recorded (`state.py`) before its outputs go out; a redelivered
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
from typing import Any

import redis

from nexus_bridge.breakers import expired, open_breakers
from nexus_bridge.config import BridgeConfig, BridgeSettings, load_config
from nexus_bridge.filters import Refusal, lot_for, screen
from nexus_bridge.outputs import decision_outputs, paused, trip_event, utc, when
from nexus_bridge.state import BridgeState, Decision
from nexus_bridge.venues import load_trading_venues, venues_for
from nexus_bridge.wire import intake_stream, status_key
from nexus_mesh.config_files import check_roots, load_symbols
from nexus_mesh.context import Context
from nexus_mesh.killswitch import KillSwitch
from nexus_mesh.processor import Input, StreamProcessor
from nexus_mesh.publish import Output, Publisher
from nexus_protocol.codec import Envelope, pack
from nexus_protocol.enums import Severity
from nexus_protocol.ids import derived_signal_id
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
        self.client = client
        self.cfg = cfg
        self.registry = registry
        self.venues = venues
        self.state = BridgeState(client, self.names, decision_ttl_ms=settings.dedupe_ttl_ms)
        self.publisher = Publisher(client, dedupe_ttl_ms=settings.dedupe_ttl_ms)
        self.killswitch = KillSwitch(client, self.names)
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

    def on_intake(self, env: Envelope[Message], ctx: Context) -> list[Output]:
        signal = env.body
        if not isinstance(signal, Signal):
            return [
                ctx.event(
                    "bad_intake",
                    f"a {signal.TYPE} on the bridge intake: only signals belong there",
                    severity=Severity.WARNING,
                    event_id=f"bridge:bad_intake:{ctx.stream}:{ctx.entry_id}",
                )
            ]
        if not signal.signal_id:
            signal = signal.model_copy(
                update={"signal_id": derived_signal_id(env.ts, f"{ctx.stream}/{ctx.entry_id}")}
            )
        decision = self.state.decision(signal.signal_id) or self._decide(signal)
        self.counters["accepted" if decision.signal is not None else "refused"] += 1
        return decision_outputs(self.names, ctx, env, signal, decision)

    def _decide(self, signal: Signal) -> Decision:
        sid = signal.signal_id
        screened = screen(signal, self.cfg, lot_for(self.registry, signal.symbol, self.cfg.lots))
        if screened.signal is None:
            return self.state.record(sid, Decision(refusal=screened.refusal))
        out = screened.signal
        now = self._now_ms()
        pauses = [] if out.reduce_only else open_breakers(self.state.breakers(), now, self.cfg)
        if pauses:  # (closing a position, reduce_only, stays possible while trading is paused)
            p = pauses[0]
            return self.state.record(
                sid, Decision(refusal=paused(p.breaker, p.value, p.threshold, p.until_ms))
            )
        down: tuple[str, ...] = ()
        if self.cfg.venue_guard:
            targets = venues_for(out.symbol, self.venues, out.venues)
            if targets:
                up = self.state.venues_connected(targets)
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
                    return self.state.record(sid, Decision(refusal=refusal))
                if down:
                    out = out.model_copy(update={"venues": live})
        result = self.state.claim(
            out.symbol, sid, now, Decision(signal=out, resized=screened.notes, venues_down=down)
        )
        if isinstance(result, Decision):
            return result
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
        return self.state.record(sid, Decision(refusal=refusal))

    # ---- executions ---------------------------------------------------------------------------

    def on_execution(self, env: Envelope[Message], ctx: Context) -> list[Output]:
        ex = env.body
        if not isinstance(ex, Execution) or not ex.final:
            return []
        now = self._now_ms()
        day = self.cfg.session_day(utc(env.ts // 1_000_000))
        applied = self.state.apply_final(
            ex, day=day, is_today=day == self.cfg.session_day(utc(now)), now_ms=now, cfg=self.cfg
        )
        if applied.released:
            self.counters["released"] += 1
            log.info("%s released: final execution of %s (%s)", ex.symbol, ex.signal_id, ex.status.value)
        outs = [trip_event(ctx, ex, t) for t in applied.trips]
        if applied.trips:
            self._apply_killswitch()
        return outs

    # ---- periodic work ------------------------------------------------------------------------

    def tick(self, ctx: Context) -> list[Output]:
        now = self._now_ms()
        self._sweep_timeouts(ctx, now)
        if self.cfg.venue_guard:
            self._watch_venues(ctx, now)
        self._apply_killswitch()
        self._expire_pauses(ctx, now)
        self._write_status(now)
        return []

    def _sweep_timeouts(self, ctx: Context, now: int) -> None:
        limit_ms = int(self.cfg.duplicate_timeout_s * 1000)
        for symbol, h in self.state.working().items():
            if now - h.since_ms < limit_ms:
                continue
            # The event first (its id is derived, so a repeat is a no-op), then the release.
            self.publisher.publish(
                [
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
                ]
            )
            if self.state.release_exact(symbol, h):
                self.counters["timeouts"] += 1
                log.warning("%s released by timeout (signal %s)", symbol, h.signal_id)

    def _watch_venues(self, ctx: Context, now: int) -> None:
        up = self.state.venues_connected(list(self.venues))
        self._venue_up = up
        seen = self.state.venue_states()
        for venue, connected in up.items():
            new = "up" if connected else "down"
            before = seen.get(venue)
            if before == new:
                continue
            if new == "down":
                self.publisher.publish(
                    [
                        ctx.event(
                            "venue_disconnected",
                            f"{venue} is not connected (no live adapter heartbeat): it is paused, "
                            "signals go to the connected venues only",
                            severity=Severity.CRITICAL,
                            event_id=f"bridge:venue_down:{venue}:{now}",
                            venue=venue,
                            data={"venue": venue},
                        )
                    ]
                )
            elif before == "down":
                self.publisher.publish(
                    [
                        ctx.event(
                            "venue_reconnected",
                            f"{venue} is connected again: it takes signals again",
                            event_id=f"bridge:venue_up:{venue}:{now}",
                            venue=venue,
                            data={"venue": venue},
                        )
                    ]
                )
            self.state.set_venue_state(venue, new)

    def _apply_killswitch(self) -> None:
        st = self.state.breakers()
        if not st.killswitch_pending or st.killswitch_pending == st.killswitch_done:
            return
        reason = (
            f"nexus-bridge daily loss breaker: the day's P&L USD {st.daily_trip_value:,.2f} is at or "
            f"below USD -{self.cfg.daily_loss_limit_usd:,.2f}"
        )
        self.killswitch.set(
            True, reason=reason, by=self.settings.service, dedupe_ttl_ms=self.settings.dedupe_ttl_ms
        )
        self.state.update_breakers(lambda s: s.model_copy(update={"killswitch_done": s.killswitch_pending}))
        log.critical("kill switch on: %s", reason)

    def _expire_pauses(self, ctx: Context, now: int) -> None:
        _, done = expired(self.state.breakers(), now)
        if not done:
            return
        self.publisher.publish(
            [
                ctx.event(
                    "circuit_breaker_reset",
                    f"{b}: the pause ended at {when(until)}",
                    event_id=f"bridge:reset:{b}:{until}",
                    data={"check": b, "until_ms": until},
                )
                for b, until in done
            ]
        )
        self.state.update_breakers(lambda s: expired(s, now)[0])

    def status(self, now: int | None = None) -> dict[str, Any]:
        now = self._now_ms() if now is None else now
        pauses = open_breakers(self.state.breakers(), now, self.cfg)
        return {
            "paused": [{"check": p.breaker, "until_ms": p.until_ms} for p in pauses],
            "venues_down": sorted(v for v, ok in self._venue_up.items() if not ok),
            "working": {s: h.signal_id for s, h in self.state.working().items()},
            **self.counters,
        }

    def _write_status(self, now: int) -> None:
        hb = Heartbeat(
            service=self.settings.service,
            instance=self.settings.consumer,
            started_ns=self._started_ns,
            detail=self.status(now),
        )
        self.client.set(status_key(self.names), pack(hb), px=self.settings.bridge_status_ttl_ms)


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
        [Input(names.executions, bridge.on_execution), Input(intake_stream(names), bridge.on_intake)],
        client=bridge.client,
        tick=bridge.tick,
        tick_interval_s=settings.bridge_tick_interval_s,
        heartbeat_detail=lambda: dict(bridge.counters),
    )


def build(settings: BridgeSettings, client: redis.Redis) -> StreamProcessor:
    return processor(make_bridge(settings, client))
