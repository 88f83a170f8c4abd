"""The fill aggregator's handler: nx:fills (Route, Fill) -> nx:executions, positions, P&L.

State lives under the hash tag `state:fills`: per signal its aggregate (with the fill ids already
counted), per `symbol|venue|contract` the position, per `venue|venue symbol` the venue quantity that
adapters compare with their platform on reconcile. A fill is applied and the state written by one
compare-and-set script; the execution is published after, with an id derived from the fill. A
redelivered fill finds its id already counted, changes nothing, and republishes the same execution id
(a no-op if it was published).
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from functools import partial
from typing import Any

import msgpack
import redis

from nexus_gateway.fills.aggregate import SignalState, apply_fill, apply_route, execution
from nexus_gateway.fills.config import FillsSettings
from nexus_gateway.fills.positions import Position
from nexus_mesh import metrics
from nexus_mesh.context import Context
from nexus_mesh.expiry import FieldExpiry
from nexus_mesh.processor import Input, StreamProcessor
from nexus_mesh.publish import Output
from nexus_mesh.scripts import LuaScript, run_pipeline
from nexus_protocol.codec import Envelope
from nexus_protocol.messages import Execution, Fill, Message, Route
from nexus_protocol.streams import Names


def position_key(symbol: str, venue: str, contract: str | None) -> str:
    """`symbol|venue|contract`: a dated contract's position is its own (a roll closes one, opens the next)."""
    return f"{symbol}|{venue}|{contract or ''}"


def _load(raw: bytes | None, model: Any) -> Any:
    return model.model_validate(msgpack.unpackb(raw)) if raw is not None else None


def _dump(model: Any) -> bytes:
    return msgpack.packb(model.model_dump(mode="json"))  # type: ignore[no-any-return]


class FillAggregator:
    def __init__(self, names: Names, client: redis.Redis, retention_ms: int = 8 * 86_400_000) -> None:
        self.names = names
        self.client = client
        self.k_signals = names.state("fills", "signals")
        # a final signal's state is kept for redeliveries and late reports, then the window
        self.expiry = FieldExpiry(
            client, names.state("fills", "signals_finished"), (self.k_signals,), retention_ms
        )
        self.k_positions = names.state("fills", "positions")
        self.k_venue_positions = names.state("fills", "venue_positions")
        self._states: OrderedDict[str, bytes] = OrderedDict()  # last written, most recent last
        self._positions: dict[str, bytes | None] = {}

    def prune(self, ctx: Context) -> list[Output]:
        """Hourly: forget final signals' state past the retention window."""
        self.expiry.prune()
        return []

    def handle(self, env: Envelope[Message], ctx: Context) -> list[Output]:
        msg = env.body
        if isinstance(msg, Route):
            return self._on_route(env, msg)
        if isinstance(msg, Fill):
            return self._on_fill(env, msg)
        raise TypeError(f"{msg.TYPE} does not belong on the fill stream")

    def _publish(
        self, env: Envelope[Message], state: SignalState, cause: str, *, final_now: bool = False
    ) -> list[Output]:
        ex = execution(state)
        if final_now:
            observe_final(ex, state.origin_ns or env.ts)
        return [
            Output(
                self.names.executions,
                Envelope(id=f"{state.signal_id}:{cause}", trace=state.signal_id, ts=env.ts, body=ex),
            )
        ]

    def _on_route(self, env: Envelope[Message], route: Route) -> list[Output]:
        def change(state: SignalState | None, _pos: bytes | None) -> Update:
            if state is not None and state.route_seen:
                return Update(state)  # a redelivery: nothing to change, republish
            new = apply_route(state, route)
            new.origin_ns = env.ts  # the route carries the signal's origin time; fills carry the venue's
            return Update(new, write_state=True, final_now=new.final)

        up = self._update(route.signal_id, None, change)
        return self._publish(env, up.state, "route", final_now=up.final_now)

    def _on_fill(self, env: Envelope[Message], fill: Fill) -> list[Output]:
        pos_key = position_key(fill.symbol or "", fill.venue, fill.contract)

        def change(state: SignalState | None, raw_pos: bytes | None) -> Update:
            if state is not None and fill.fill_id in state.applied:
                return Update(state)  # already counted: republish only
            was_final = state is not None and state.final
            realized_usd = Decimal(0)
            pos: Position | None = None
            if fill.last_qty > 0 and fill.last_price is not None and fill.symbol:
                pos = _load(raw_pos, Position) or Position(
                    symbol=fill.symbol,
                    venue=fill.venue,
                    venue_symbol=fill.venue_symbol,
                    contract=fill.contract,
                    qty_factor=fill.qty_factor or 1.0,
                    currency=fill.currency,
                )
                pos, _realized, realized_usd = pos.apply(
                    fill.side, fill.last_qty, fill.last_price, fill.point_value or 1.0, fill.usd_rate
                )
            new = apply_fill(state, fill, realized_usd)
            return Update(new, write_state=True, position=pos, final_now=new.final and not was_final)

        up = self._update(fill.signal_id, pos_key, change)
        return self._publish(env, up.state, fill.fill_id, final_now=up.final_now)

    def _update(self, signal_id: str, pos_key: str | None, change: Changer) -> Update:
        """Read the signal (and position), apply `change`, write back only if nobody wrote meanwhile.

        Two round trips: a read, then a compare-and-set script over the same slot. Two aggregator
        instances on one position retry instead of losing an update."""
        while True:
            raw_state, raw_pos = self._read(signal_id, pos_key)
            up = change(_load(raw_state, SignalState), raw_pos)
            if not up.write_state:
                return up
            new_state = _dump(up.state)
            new_pos = _dump(up.position) if up.position is not None else None
            finished = str(int(time.time() * 1000)) if up.final_now else ""
            args: list[Any] = [
                signal_id,
                raw_state or b"",
                new_state,
                pos_key or "",
                raw_pos or b"",
                finished,
            ]
            if up.position is not None:
                args += [new_pos, f"{up.position.venue}|{up.position.venue_symbol}", str(up.position.qty)]
            keys = [self.k_signals, self.k_positions, self.k_venue_positions, self.expiry.clock_key]
            if run_pipeline(self.client, partial(_CAS.queue, keys=keys, args=args), [_CAS])[0]:
                self._remember(signal_id, new_state, pos_key, new_pos if new_pos is not None else raw_pos)
                return up
            self._forget(signal_id, pos_key)  # another instance wrote first: read again

    def _read(self, signal_id: str, pos_key: str | None) -> tuple[bytes | None, bytes | None]:
        """What this instance last wrote (the compare-and-set proves it still holds), else Redis."""
        if signal_id in self._states and (pos_key is None or pos_key in self._positions):
            self._states.move_to_end(signal_id)
            return self._states[signal_id], self._positions.get(pos_key) if pos_key else None
        pipe = self.client.pipeline(transaction=False)
        pipe.hget(self.k_signals, signal_id)
        if pos_key is not None:
            pipe.hget(self.k_positions, pos_key)
        raw = pipe.execute()
        return raw[0], (raw[1] if pos_key is not None else None)

    def _remember(self, signal_id: str, state: bytes, pos_key: str | None, pos: bytes | None) -> None:
        self._states[signal_id] = state
        if len(self._states) > _CACHED_SIGNALS:
            self._states.popitem(last=False)
        if pos_key is not None:
            self._positions[pos_key] = pos

    def _forget(self, signal_id: str, pos_key: str | None) -> None:
        self._states.pop(signal_id, None)
        if pos_key is not None:
            self._positions.pop(pos_key, None)

    def positions(self) -> list[Position]:
        return [
            Position.model_validate(msgpack.unpackb(v))
            for v in self.client.hgetall(self.k_positions).values()
        ]


@dataclass(slots=True)
class Update:
    state: SignalState
    write_state: bool = False
    position: Position | None = None
    final_now: bool = False  # this input made the execution final (for the metrics, once)


_CACHED_SIGNALS = 10_000
Changer = Callable[[SignalState | None, bytes | None], Update]

# Compare-and-set of a signal's state (and its position): written only if both still hold what was
# read ('' = absent). ARGV: signal id, old state, new state, position field, old position, finished at
# (ms, '' while working: starts the state's retention clock), [new position, venue position field,
# venue quantity].
_CAS = LuaScript("""
local cur = redis.call('HGET', KEYS[1], ARGV[1]) or ''
if cur ~= ARGV[2] then return 0 end
if ARGV[4] ~= '' and (redis.call('HGET', KEYS[2], ARGV[4]) or '') ~= ARGV[5] then return 0 end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[3])
if ARGV[6] ~= '' then redis.call('ZADD', KEYS[4], ARGV[6], ARGV[1]) end
if #ARGV >= 9 then
  redis.call('HSET', KEYS[2], ARGV[4], ARGV[7])
  redis.call('HSET', KEYS[3], ARGV[8], ARGV[9])
end
return 1
""")


def observe_final(ex: Execution, origin_ns: int) -> None:
    """Metrics of a signal whose execution just became final: end-to-end time, outcome, legs."""
    metrics.END_TO_END_SECONDS.observe(max(0.0, (time.time_ns() - origin_ns) / 1e9))
    metrics.EXECUTIONS_FINAL.labels(ex.status.value).inc()
    for leg in ex.legs:
        if leg.venue_symbol is not None:  # it reached the venue (risk and normalizer refusals have none)
            metrics.LEGS_FINAL.labels(leg.venue, leg.status.value).inc()


def build(settings: FillsSettings, client: redis.Redis) -> StreamProcessor:
    agg = FillAggregator(settings.names, client, retention_ms=settings.dedupe_ttl_ms)
    return StreamProcessor(
        settings,
        [Input(settings.names.fills, agg.handle)],
        client=client,
        tick=agg.prune,
        tick_interval_s=3600,
    )
