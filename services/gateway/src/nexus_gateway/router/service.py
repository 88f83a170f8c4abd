"""The router stage: nx:signals -> Route (nx:fills) + Orders (nx:orders:routed) + events;
nx:executions -> the risk state (exposure, daily P&L).

A decision is committed with its outputs, in one MULTI/EXEC; a redelivered signal replays the
recorded decision, so the same signal always yields the same orders with the same client order ids.
A signal dead-lettered here (undecodable, an id that is no ULID...) is answered all the same when
an id can be recovered from it (`on_dead_signal`): a refused route, so a final rejected execution.
The router runs as one instance (decision 0004), so its state is served from memory (see
`nexus_mesh.state` for when that cache is trusted).
"""

from __future__ import annotations

import datetime as dt
import time
from collections import deque
from collections.abc import Callable

import redis

from nexus_gateway.router.checks import RiskRefusal, RouteDecision, candidate_venues, decide
from nexus_gateway.router.config import RouterSettings
from nexus_gateway.router.limits import Limits, load_limits
from nexus_gateway.router.state import OWNER, RiskState
from nexus_mesh import metrics
from nexus_mesh.accounts import mapped_contract
from nexus_mesh.config_files import check_roots, load_symbols
from nexus_mesh.context import Context
from nexus_mesh.deadletter import Rejected, recovered_signal, short_reason
from nexus_mesh.expiry import prune_writes
from nexus_mesh.processor import Input, StreamProcessor
from nexus_mesh.publish import Output
from nexus_mesh.state import Read, Result, hget
from nexus_mesh.venues import VenueConfig, load_venues
from nexus_protocol.codec import Envelope
from nexus_protocol.enums import OrderStatus, Severity
from nexus_protocol.ids import client_order_ids, derived_signal_id
from nexus_protocol.messages import Execution, Message, Order, Route, Signal
from nexus_protocol.partitions import Partitions
from nexus_protocol.symbols import SymbolRegistry


class Throttle:
    """At most `per_second` signals accepted in any one-second window of their *origin* time, so a
    backlog drained after a restart is judged by when NEXUS sent it, not when it is read. A signal
    asked about again (its handler called again after a state load) counts once."""

    def __init__(self, per_second: int) -> None:
        self.per_second = per_second
        self._times: deque[tuple[int, str]] = deque()
        self._seen: dict[str, bool] = {}

    def allow(self, origin_ns: int, signal_id: str) -> bool:
        if signal_id in self._seen:
            return self._seen[signal_id]
        window_start = origin_ns - 1_000_000_000
        while self._times and self._times[0][0] <= window_start:
            self._seen.pop(self._times.popleft()[1], None)
        allowed = len(self._times) < self.per_second
        if allowed:
            self._times.append((origin_ns, signal_id))
        self._seen[signal_id] = allowed
        if len(self._seen) > 4 * self.per_second + 1000:
            live = {sid for _, sid in self._times}
            self._seen = {k: v for k, v in self._seen.items() if k in live}
        return allowed


class Router:
    """The router stage: `on_signal` and `on_execution` are handlers `(envelope, ctx) -> Result`."""

    def __init__(
        self,
        settings: RouterSettings,
        venues: dict[str, VenueConfig],
        limits: Limits,
        registry: SymbolRegistry,
        now: Callable[[], dt.datetime] | None = None,
    ) -> None:
        self.settings = settings
        self.names = settings.names
        self.state = RiskState(self.names)
        self.retention_ms = settings.dedupe_ttl_ms
        self._next_prune = 0.0
        self.venues = venues
        self.limits = limits
        self.registry = registry
        self.parts = Partitions.of(self.names, registry)
        self.throttle = Throttle(limits.throttle_per_second)
        self._now = now or (lambda: dt.datetime.now(dt.UTC))
        self._candidates: dict[tuple[str, tuple[str, ...]], list[str]] = {}
        epoch = dt.datetime.min.replace(tzinfo=dt.UTC)
        self._day = ("", epoch, epoch)

    def _signal(self, env: Envelope[Message], ctx: Context) -> Signal:
        signal = env.body
        if not isinstance(signal, Signal):
            raise TypeError(f"{signal.TYPE} does not belong on the signal stream")
        if not signal.signal_id:
            signal = signal.replace(signal_id=derived_signal_id(env.ts, f"{ctx.stream}/{ctx.entry_id}"))
        return signal

    def _coids(self, signal: Signal) -> tuple[list[str], list[str]]:
        key = (signal.symbol, signal.venues)
        venues = self._candidates.get(key)
        if venues is None:
            venues = self._candidates[key] = candidate_venues(signal, self.venues)
        return venues, client_order_ids(signal.signal_id, [self.venues[v].code for v in venues])

    def _session_day(self, now: dt.datetime) -> str:
        """The session day of `now`, worked out once per session (the window it holds for is cached)."""
        day, start, end = self._day
        if not start <= now < end:
            start = self.limits.session_start(now)
            # the next reset is 23 to 25 hours on (a DST change): the reset before start + 25 h
            end = self.limits.session_start(start + dt.timedelta(hours=25))
            day = self.limits.session_day(now)
            self._day = (day, start, end)
        return day

    def prefetch(self, env: Envelope[Message]) -> list[Read]:
        """What a signal's decision reads, loaded for the whole batch at once (once, then cached)."""
        signal = env.body
        if not isinstance(signal, Signal):
            return []
        if signal.signal_id:
            self._coids(signal)  # an id no leg's id can be made of raises here: dead-lettered at once
        return list(self.state.signal_reads(self._session_day(self._now())))

    def on_signal(self, env: Envelope[Message], ctx: Context) -> Result:
        signal = self._signal(env, ctx)
        now = self._now()
        day = self._session_day(now)
        venues, coids = self._coids(signal)
        snap = self.state.snapshot(ctx, signal.signal_id, coids, venues, day)
        if snap.route is not None:  # a redelivery: the recorded decision, its outputs (no-ops)
            return Result(self._outputs(env, signal, RouteDecision(snap.route, refusals_of(snap.route)), ctx))
        decision = decide(
            signal,
            snap,
            self.limits,
            self.venues,
            self.registry,
            throttled=not self.throttle.allow(env.ts, signal.signal_id),
            age_s=(ctx.now_ns() - env.ts) / 1e9,
            now=now,
            coids=dict(zip(venues, coids, strict=True)),
        )
        writes = self.state.commit(ctx, decision.route, decision.exposure, day)
        return Result(self._outputs(env, signal, decision, ctx), writes)

    def _outputs(
        self, env: Envelope[Message], signal: Signal, decision: RouteDecision, ctx: Context
    ) -> list[Output]:
        sid = signal.signal_id
        outs = [self._route_output(decision.route, env.ts)]
        for leg in decision.route.legs:
            if leg.status is OrderStatus.PENDING:
                order = Order(
                    client_order_id=leg.client_order_id,
                    signal_id=sid,
                    venue=leg.venue,
                    symbol=leg.symbol or signal.symbol,
                    side=signal.side,
                    quantity=(leg.quantity if leg.quantity is not None else signal.quantity) * leg.ratio,
                    order_type=signal.order_type,
                    limit_price=signal.limit_price,
                    stop_price=signal.stop_price,
                    time_in_force=signal.time_in_force,
                    reference_price=signal.reference_price,
                    reduce_only=signal.reduce_only or leg.client_order_id in decision.reducing,
                    contract=mapped_contract(signal.contract, signal.symbol, leg.symbol or signal.symbol),
                    purpose="roll" if signal.strategy == "rollover" else "signal",
                )
                outs.append(
                    Output(
                        self.parts.stream("orders:routed", order.symbol),
                        Envelope(id=leg.client_order_id, trace=sid, ts=env.ts, body=order),
                    )
                )
        for r in decision.refusals:
            outs.append(
                ctx.event(
                    "risk_rejected",
                    r.reason,
                    severity=Severity.WARNING,
                    trace=sid,
                    event_id=f"refused:{sid}:{r.venue or '*'}",
                    symbol=signal.symbol,
                    venue=r.venue,
                    signal_id=sid,
                    data={"check": r.check},
                )
            )
        return outs

    def on_dead_signal(self, r: Rejected, ctx: Context) -> Result:
        """The one final answer to a signal dead-lettered here, under the id recovered from it: a
        refused route (the fills stage makes it a final rejected execution, which releases the bridge's
        hold on its symbol) and an event. Recorded like a decision, so the id is never routed later;
        nothing when no id can be recovered, or when the id was decided before."""
        signal = recovered_signal(r)
        if signal is None:
            return Result()
        sid = signal.signal_id
        ctx.need(hget(self.state.routes, sid))
        if ctx.hget(self.state.routes, sid) is not None:
            return Result()  # decided (and answered) before: a second answer would contradict it
        reason = f"dead-lettered: {short_reason(r.reason)}"
        route = Route(
            signal_id=sid,
            symbol=signal.symbol,
            side=signal.side,
            quantity=signal.quantity,
            reference_price=signal.reference_price,
            reason=reason,
        )
        ts = r.envelope.ts if r.envelope is not None else ctx.now_ns()
        event = ctx.event(
            "signal_dead_lettered",
            f"signal {sid} could not be routed and was rejected: {reason}",
            severity=Severity.WARNING,
            trace=sid,
            event_id=f"dead_signal:{r.stream}/{r.entry_id}",
            symbol=signal.symbol or None,
            signal_id=sid,
            data={"stream": r.stream, "entry_id": r.entry_id},
        )
        day = self._session_day(self._now())
        return Result([self._route_output(route, ts), event], self.state.commit(ctx, route, {}, day))

    def _route_output(self, route: Route, ts: int) -> Output:
        """A route goes on its signal's partition of the fills stream, ahead of the legs' reports."""
        sid = route.signal_id
        body = Envelope(id=f"route:{sid}", trace=sid, ts=ts, body=route)
        return Output(self.parts.stream("fills", route.symbol), body)

    def on_execution(self, env: Envelope[Message], ctx: Context) -> Result:
        ex = env.body
        if not isinstance(ex, Execution):
            return Result()
        if ex.realized_pnl_usd == 0 and not any(leg.status.terminal for leg in ex.legs):
            return Result()  # nothing the risk state counts has changed: working legs keep their quantity
        legs = {}
        for leg in ex.legs:
            if leg.status is OrderStatus.REJECTED and leg.filled_quantity == 0:
                qty = 0.0
            elif leg.status.terminal:
                qty = leg.filled_quantity
            else:  # working: what the venue was sent (its lot step's residual left out)
                qty = max(leg.quantity - leg.rounding_residual, leg.filled_quantity)
            legs[leg.client_order_id] = (f"{leg.venue}|{ex.symbol}", qty * ex.side.sign)
        finished = [leg.client_order_id for leg in ex.legs if leg.status.terminal]
        day = self._session_day(self._now())
        return Result(
            [], self.state.apply_execution(ctx, legs, ex.signal_id, ex.realized_pnl_usd, day, finished)
        )

    def tick(self, ctx: Context) -> Result:
        """Export the session day's realized P&L (a new day starts at 0) for the daily-loss alert;
        hourly, forget decisions and ended legs past the retention window."""
        metrics.DAILY_PNL_USD.set(self.state.pnl_today(ctx, self._session_day(self._now())))
        metrics.DAILY_LOSS_LIMIT_USD.set(self.limits.max_daily_loss_usd)
        if time.monotonic() < self._next_prune:
            return Result()
        writes = prune_writes(ctx, self.state.routes_finished, [self.state.routes], self.retention_ms)
        writes.extend(prune_writes(ctx, self.state.legs_finished, [self.state.legs], self.retention_ms))
        self._next_prune = time.monotonic() + 3600
        return Result([], writes)


def refusals_of(route: Route) -> list[RiskRefusal]:
    """The refusals a recorded route stands for (to re-emit their events idempotently)."""
    out = [
        RiskRefusal("risk", leg.reason or "refused", leg.venue)
        for leg in route.legs
        if leg.status is OrderStatus.REJECTED
    ]
    if route.reason and not route.legs:
        out.append(RiskRefusal("risk", route.reason))
    return out


def build(settings: RouterSettings, client: redis.Redis) -> StreamProcessor:
    registry = load_symbols(settings.config_dir)
    venues = load_venues(settings.config_dir, settings.environment, registry)
    limits = load_limits(settings.config_dir, settings.environment)
    check_roots(limits.per_symbol, registry, f"{settings.config_dir / 'risk.yaml'}: per_symbol")
    router = Router(settings, venues, limits, registry)
    names = settings.names
    return StreamProcessor(
        settings,
        [
            Input(
                names.signals,
                router.on_signal,
                prefetch=router.prefetch,
                untrusted=True,
                on_dead_letter=router.on_dead_signal,
            ),
            Input(names.executions, router.on_execution),
        ],
        client=client,
        tick=router.tick,
        tick_interval_s=1.0,
        state_owner=OWNER,
        fresh=router.state.fresh(list(venues)),
    )
