"""The fill aggregator's handler: nx:fills (Route, Fill) -> nx:executions, positions, P&L.

State lives under the hash tag `state:fills`: per signal its aggregate (with the fill ids already
counted), per `symbol|venue` the position, per `venue|venue symbol` the venue quantity that adapters
compare with their platform on reconcile. A fill is applied and the state written in one transaction;
the execution is published after, with an id derived from the fill. A redelivered fill finds its id
already counted, changes nothing, and republishes the same execution id (a no-op if it was published).
"""

from __future__ import annotations

import time
from decimal import Decimal
from typing import Any

import msgpack
import redis
from redis.client import Pipeline

from nexus_gateway.fills.aggregate import SignalState, apply_fill, apply_route, execution
from nexus_gateway.fills.config import FillsSettings
from nexus_gateway.fills.positions import Position
from nexus_mesh import metrics
from nexus_mesh.context import Context
from nexus_mesh.processor import Input, StreamProcessor
from nexus_mesh.publish import Output
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
    def __init__(self, names: Names, client: redis.Redis) -> None:
        self.names = names
        self.client = client
        self.k_signals = names.state("fills", "signals")
        self.k_positions = names.state("fills", "positions")
        self.k_venue_positions = names.state("fills", "venue_positions")

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
        state: SignalState | None = _load(self.client.hget(self.k_signals, route.signal_id), SignalState)
        final_now = False
        if state is None or not state.route_seen:
            state = apply_route(state, route)
            state.origin_ns = env.ts  # the route carries the signal's origin time; fills carry the venue's
            self.client.hset(self.k_signals, route.signal_id, _dump(state))
            final_now = state.final
        return self._publish(env, state, "route", final_now=final_now)

    def _on_fill(self, env: Envelope[Message], fill: Fill) -> list[Output]:
        pos_key = position_key(fill.symbol or "", fill.venue, fill.contract)
        result: list[SignalState] = []
        final_now: list[bool] = []  # this fill made the execution final (for the metrics, once)

        def apply(pipe: Pipeline) -> None:
            # WATCH (by client.transaction) makes two aggregator instances safe on the same position.
            result.clear()
            final_now.clear()
            state: SignalState | None = _load(pipe.hget(self.k_signals, fill.signal_id), SignalState)
            if state is not None and fill.fill_id in state.applied:
                result.append(state)  # already counted: republish only
                return
            was_final = state is not None and state.final
            raw_pos = pipe.hget(self.k_positions, pos_key)
            realized_usd = Decimal(0)
            pipe.multi()
            if fill.last_qty > 0 and fill.last_price is not None and fill.symbol:
                pos: Position = _load(raw_pos, Position) or Position(
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
                pipe.hset(self.k_positions, pos_key, _dump(pos))
                pipe.hset(self.k_venue_positions, f"{fill.venue}|{fill.venue_symbol}", str(pos.qty))
            state = apply_fill(state, fill, realized_usd)
            pipe.hset(self.k_signals, fill.signal_id, _dump(state))
            result.append(state)
            final_now.append(state.final and not was_final)

        self.client.transaction(apply, self.k_signals, self.k_positions)
        return self._publish(env, result[0], fill.fill_id, final_now=bool(final_now and final_now[0]))

    def positions(self) -> list[Position]:
        return [
            Position.model_validate(msgpack.unpackb(v))
            for v in self.client.hgetall(self.k_positions).values()
        ]


def observe_final(ex: Execution, origin_ns: int) -> None:
    """Metrics of a signal whose execution just became final: end-to-end time, outcome, legs."""
    metrics.END_TO_END_SECONDS.observe(max(0.0, (time.time_ns() - origin_ns) / 1e9))
    metrics.EXECUTIONS_FINAL.labels(ex.status.value).inc()
    for leg in ex.legs:
        if leg.venue_symbol is not None:  # it reached the venue (risk and normalizer refusals have none)
            metrics.LEGS_FINAL.labels(leg.venue, leg.status.value).inc()


def build(settings: FillsSettings, client: redis.Redis) -> StreamProcessor:
    agg = FillAggregator(settings.names, client)
    return StreamProcessor(settings, [Input(settings.names.fills, agg.handle)], client=client)
