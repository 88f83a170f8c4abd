"""The fill aggregator: nx:fills (Route, Fill) -> nx:executions, positions, P&L.

A stage: `FillsStage.handle(envelope, ctx) -> Result` reads the signal's state (and the position a
fill moves) through `ctx` and returns the execution and the state writes; the processor commits both
in one MULTI/EXEC, before acknowledging. State lives under the hash tag `state:fills` (owner
"fills", cached in process): per signal its aggregate with the ids of the inputs already applied, per
`symbol|venue|contract` the position, per `venue|venue symbol` the venue quantity that adapters
compare with their platform on reconcile. A fill impossible for the leg it claims (`fills.checks`) is
dead-lettered at once with a `fill_refused` event and moves nothing. An input already applied
changes nothing and publishes nothing: its execution was committed together with the state that
records it, so a crash anywhere never yields a second final execution (issue 13: two fills of one
signal in one batch, killed between commit and acknowledgement, each republished a final execution).
"""

from __future__ import annotations

import time

import msgspec
import redis

from nexus_gateway.fills.aggregate import (
    HeldFill,
    SignalState,
    apply_fill,
    apply_route,
    dump_state,
    execution,
    load_state,
)
from nexus_gateway.fills.checks import (
    ImpossibleFill,
    awaits_route,
    leg_problem,
    refused_fill,
    report_problem,
)
from nexus_gateway.fills.config import FillsSettings
from nexus_gateway.fills.positions import VenuePosition
from nexus_mesh import metrics
from nexus_mesh.config_files import load_symbols
from nexus_mesh.context import Context
from nexus_mesh.deadletter import Rejected, dead_letter
from nexus_mesh.expiry import prune_writes
from nexus_mesh.processor import Input, StreamProcessor
from nexus_mesh.publish import Output
from nexus_mesh.state import Read, Result, Writes, hget
from nexus_protocol.codec import Envelope, decode, encode
from nexus_protocol.ids import derived_id
from nexus_protocol.messages import Execution, Fill, Message, Route
from nexus_protocol.partitions import Partitions
from nexus_protocol.streams import Names

OWNER = "fills"


def _key(fill: Fill) -> str:
    return position_key(fill.symbol or "", fill.venue, fill.contract)


def position_key(symbol: str, venue: str, contract: str | None) -> str:
    """`symbol|venue|contract`: a dated contract's position is its own (a roll closes one, opens the next)."""
    return f"{symbol}|{venue}|{contract or ''}"


_ENCODER = msgspec.msgpack.Encoder()
_POSITION = msgspec.msgpack.Decoder(VenuePosition, strict=False)  # not strict: older positions held strings


def _position(raw: bytes | None) -> VenuePosition | None:
    return _POSITION.decode(raw) if raw is not None else None


class FillsStage:
    def __init__(self, names: Names, retention_ms: int = 8 * 86_400_000) -> None:
        self.names = names
        self.retention_ms = retention_ms
        self.k_signals = names.state(OWNER, "signals")
        self.k_finished = names.state(OWNER, "signals_finished")  # final signals' retention clock
        self.k_positions = names.state(OWNER, "positions")
        self.k_venue_positions = names.state(OWNER, "venue_positions")

    def reads(self, env: Envelope[Message]) -> list[Read]:
        """What an input reads (its signal's state, a fill's position), prefetched for the whole batch:
        one load round trip per batch at most, none for what the cache holds. Per key, not whole
        hashes: instances of the stage reload their cache after each other's commits."""
        msg = env.body
        if isinstance(msg, Fill):
            return self._fill_reads(msg)
        return [hget(self.k_signals, msg.signal_id)] if isinstance(msg, Route) else []

    def _fill_reads(self, *fills: Fill) -> list[Read]:
        signals = {f.signal_id for f in fills}
        return [hget(self.k_signals, s) for s in signals] + [hget(self.k_positions, _key(f)) for f in fills]

    def handle(self, env: Envelope[Message], ctx: Context) -> Result:
        msg = env.body
        if isinstance(msg, Route):
            return self.on_route(env, msg, ctx)
        if isinstance(msg, Fill):
            return self.on_fill(env, msg, ctx)
        raise TypeError(f"{msg.TYPE} does not belong on the fill stream")

    def on_route(self, env: Envelope[Message], route: Route, ctx: Context) -> Result:
        state = load_state(ctx.hget(self.k_signals, route.signal_id))
        if state is not None and state.route_seen:
            return Result()  # applied before: its execution was committed with it
        held = [(h, decode(h.fields).body) for h in state.held] if state is not None else []
        if held:
            ctx.need(*self._fill_reads(*(f for _h, f in held if isinstance(f, Fill))))
        new = apply_route(state, route)
        new.origin_ns = env.ts  # the route carries the signal's origin time; fills carry the venue's
        new.held = []
        outputs: list[Output] = []
        writes = Writes()
        positions: dict[str, VenuePosition] = {}
        for h, fill in held:  # the fills that came first, in the order they came
            problem = "not a fill" if not isinstance(fill, Fill) else leg_problem(new, fill)
            if problem is not None or not isinstance(fill, Fill):
                outputs += self._refuse_held(h, problem or "not a fill", ctx)
            elif fill.fill_id not in new.applied:
                new = self._count(fill, new, ctx, writes, positions)
        result = self._result(env, new, "route", ctx, was_final=False)
        result.outputs[:0] = outputs
        result.writes.extend(writes)
        return result

    def on_fill(self, env: Envelope[Message], fill: Fill, ctx: Context) -> Result:
        ctx.need(*self._fill_reads(fill))
        state = load_state(ctx.hget(self.k_signals, fill.signal_id))
        if state is not None and fill.fill_id in state.applied:
            return Result()  # applied before: its execution was committed with it
        problem = report_problem(fill)
        if problem is None and awaits_route(state, fill):
            return self._hold(env, fill, state, ctx)
        problem = problem or leg_problem(state, fill)
        if problem is not None:
            raise ImpossibleFill(problem)  # dead-lettered at once; `refused_fill` raises the event
        writes = Writes()
        was_final = state is not None and state.final
        before = execution(state) if state is not None and was_final else None
        result = self._result(env, self._count(fill, state, ctx, writes, {}), fill.fill_id, ctx, was_final)
        if before is not None and all(o.envelope.body == before for o in result.outputs):
            result.outputs.clear()  # a late report (an `accepted` after the fill) changes nothing final
        result.writes.extend(writes)
        return result

    def _count(
        self,
        fill: Fill,
        state: SignalState | None,
        ctx: Context,
        writes: Writes,
        positions: dict[str, VenuePosition],
    ) -> SignalState:
        """`fill` counted: its venue position moved (written to `writes`, kept in `positions` for the
        next fill of the same handler call) and the signal's state with it."""
        realized_usd = 0.0
        if fill.last_qty > 0 and fill.last_price is not None and fill.symbol:
            key = _key(fill)
            pos = (
                positions.get(key)
                or _position(ctx.hget(self.k_positions, key))
                or VenuePosition(
                    symbol=fill.symbol,
                    venue=fill.venue,
                    venue_symbol=fill.venue_symbol,
                    contract=fill.contract,
                    qty_factor=fill.qty_factor or 1.0,
                    currency=fill.currency,
                )
            )
            pos, _realized, realized_usd = pos.apply(
                fill.side, fill.last_qty, fill.last_price, fill.point_value or 1.0, fill.usd_rate
            )
            positions[key] = pos
            writes.hset(self.k_positions, key, _ENCODER.encode(pos))
            writes.hset(self.k_venue_positions, f"{pos.venue}|{pos.venue_symbol}", str(pos.qty))
        return apply_fill(state, fill, realized_usd)

    def _hold(self, env: Envelope[Message], fill: Fill, state: SignalState | None, ctx: Context) -> Result:
        """Keep a fill that came before its route; the route applies it (or refuses it)."""
        s = state or SignalState(signal_id=fill.signal_id, symbol=fill.symbol or "", side=fill.side)
        if all(h.fill_id != fill.fill_id for h in s.held):
            fields = {k: v.encode() if isinstance(v, str) else v for k, v in encode(env).items()}
            entry_id, stream = ctx.entry_id or "", ctx.stream or ""
            s.held.append(HeldFill(fill_id=fill.fill_id, entry_id=entry_id, fields=fields, stream=stream))
        event = ctx.event(
            "fill_held",
            f"{fill.venue} {fill.client_order_id}: its fill came before the signal's route and is held "
            "until the route is here",
            event_id=derived_id("fill_held", fill.fill_id),
            signal_id=fill.signal_id,
            client_order_id=fill.client_order_id,
            venue=fill.venue,
        )
        return Result([event], Writes().hset(self.k_signals, s.signal_id, dump_state(s)))

    def _refuse_held(self, h: HeldFill, reason: str, ctx: Context) -> list[Output]:
        """A held fill its route shows impossible: dead-lettered with the event, as if refused on arrival."""
        stream = h.stream or self.names.fills
        letter = dead_letter(self.names, ctx.service, ctx.service, stream, h.entry_id, h.fields, 1, reason)
        env = decode(h.fields)
        return [letter, *refused_fill(Rejected(stream, h.entry_id, h.fields, reason, env), ctx)]

    def _result(
        self, env: Envelope[Message], state: SignalState, cause: str, ctx: Context, was_final: bool
    ) -> Result:
        ex = execution(state)
        writes = Writes().hset(self.k_signals, state.signal_id, dump_state(state))
        if state.final and not was_final:
            observe_final(ex, state.origin_ns or env.ts)
            writes.zadd(self.k_finished, state.signal_id, ctx.now_ns() // 1_000_000)
        out = Output(
            self.names.executions,
            Envelope(id=f"{state.signal_id}:{cause}", trace=state.signal_id, ts=env.ts, body=ex),
        )
        return Result([out], writes)

    def prune(self, ctx: Context) -> Result:
        """Hourly: forget final signals' state past the retention window."""
        return Result([], prune_writes(ctx, self.k_finished, [self.k_signals], self.retention_ms))


def observe_final(ex: Execution, origin_ns: int, now_ns: int | None = None) -> None:
    """Metrics of a signal whose execution just became final: outcome, legs, and the end-to-end time
    of signals that reached a venue only: a refusal (a stale signal an hour old, a kill switch) says
    nothing about the path's latency and must not move its p99 (refusals count in the outcome)."""
    metrics.EXECUTIONS_FINAL.labels(ex.status.value).inc()
    routed = False
    for leg in ex.legs:
        if leg.venue_symbol is not None:  # it reached the venue (risk and normalizer refusals have none)
            routed = True
            metrics.LEGS_FINAL.labels(leg.venue, leg.status.value).inc()
    if routed:
        now = now_ns if now_ns is not None else time.time_ns()
        metrics.END_TO_END_SECONDS.observe(max(0.0, (now - origin_ns) / 1e9))


def build(settings: FillsSettings, client: redis.Redis) -> StreamProcessor:
    stage = FillsStage(settings.names, retention_ms=settings.dedupe_ttl_ms)
    parts = Partitions.of(settings.names, load_symbols(settings.config_dir))
    return StreamProcessor(
        settings,
        [
            Input(s, stage.handle, prefetch=stage.reads, on_dead_letter=refused_fill)
            for s in parts.streams("fills")
        ],
        client=client,
        tick=stage.prune,
        tick_interval_s=3600,
        state_owner=OWNER,
    )
