"""From a stream entry to the archive's rows (pure: no database, no Redis).

`rows(...)` gives the table and the row (plus leg rows) for one decoded entry; a kind without a
table of its own goes to `messages` whole. The body is kept as the msgpack bytes it travelled in.
`unreadable_row(...)` keeps an entry that does not decode in `messages`, with why.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import msgspec
from sqlalchemy import Table

from nexus_archive import schema
from nexus_archive.types import utc_from_ms, utc_from_ns
from nexus_protocol.codec import Envelope, encode
from nexus_protocol.messages import (
    DeadLetter,
    Event,
    Execution,
    Fill,
    Leg,
    Message,
    Order,
    Route,
    RouteLeg,
    Signal,
    VenueOrder,
)

Row = dict[str, Any]


@dataclass(slots=True)
class Rows:
    """One entry's rows: the message row and, for routes and executions, one row per leg."""

    table: Table
    row: Row
    legs: list[Row] = field(default_factory=list)

    @property
    def key(self) -> tuple[str, str, str]:
        return self.row["namespace"], self.row["stream"], self.row["id"]


def body_bytes(env: Envelope[Message]) -> bytes:
    if env.raw is not None:
        return env.raw
    data = encode(env)["data"]
    assert isinstance(data, bytes)
    return data


def header(namespace: str, stream: str, entry_id: str, env: Envelope[Message], now: dt.datetime) -> Row:
    ms, _, seq = entry_id.partition("-")
    return {
        "namespace": namespace,
        "stream": stream,
        "id": env.id,
        "type": env.body.TYPE,
        "v": env.body.VERSION,
        "trace": env.trace,
        "ts_ns": env.ts,
        "origin_time": utc_from_ns(env.ts),
        "entry_id": entry_id,
        "entry_time": utc_from_ms(int(ms)),
        "entry_seq": int(seq or 0),
        "recorded_at": now,
        "data": body_bytes(env),
    }


def _order_fields(o: Signal | Order) -> Row:
    return {
        "side": o.side.value,
        "quantity": o.quantity,
        "order_type": o.order_type.value,
        "limit_price": o.limit_price,
        "stop_price": o.stop_price,
        "time_in_force": o.time_in_force.value,
        "reference_price": o.reference_price,
        "reduce_only": o.reduce_only,
        "contract": o.contract,
    }


def _signal(s: Signal, env: Envelope[Message]) -> Row:
    return {
        "signal_id": s.signal_id or env.id,
        "symbol": s.symbol,
        **_order_fields(s),
        "confidence": s.confidence,
        "mqscore": s.mqscore,
        "strategy": s.strategy,
        "venues": ",".join(s.venues),
        "noise": s.noise,
        "stop_loss": s.stop_loss,
    }


_VENUE_ORDER_COLUMNS = (
    "venue_symbol", "venue_quantity", "qty_factor", "rounding_residual", "currency", "point_value",
    "venue_reference_price",
)  # fmt: skip


def _order(o: Order, _env: Envelope[Message]) -> Row:
    vo = o if isinstance(o, VenueOrder) else None
    return {
        "client_order_id": o.client_order_id,
        "signal_id": o.signal_id,
        "venue": o.venue,
        "symbol": o.symbol,
        **_order_fields(o),
        "attempt": o.attempt,
        "purpose": o.purpose,
        **{k: getattr(vo, k, None) for k in _VENUE_ORDER_COLUMNS},  # None for a routed order
    }


def _fill(f: Fill, _env: Envelope[Message]) -> Row:
    return {
        "fill_id": f.fill_id,
        "client_order_id": f.client_order_id,
        "signal_id": f.signal_id,
        "venue": f.venue,
        "status": f.status.value,
        "venue_symbol": f.venue_symbol,
        "side": f.side.value,
        "last_qty": f.last_qty,
        "last_price": f.last_price,
        "cum_qty": f.cum_qty,
        "avg_price": f.avg_price,
        "leaves_qty": f.leaves_qty,
        "fee": f.fee,
        "currency": f.currency,
        "reason": f.reason,
        "venue_order_id": f.venue_order_id,
        "venue_time": utc_from_ns(f.venue_ts_ns) if f.venue_ts_ns is not None else None,
        "synthetic": f.synthetic,
        "symbol": f.symbol,
        "contract": f.contract,
        "qty_factor": f.qty_factor,
        "point_value": f.point_value,
        "venue_reference_price": f.venue_reference_price,
        "usd_rate": f.usd_rate,
        "fee_usd": f.fee_usd,
    }


def _route(r: Route, _env: Envelope[Message]) -> Row:
    return {
        "signal_id": r.signal_id,
        "symbol": r.symbol,
        "side": r.side.value,
        "quantity": r.quantity,
        "reference_price": r.reference_price,
        "legs": len(r.legs),
        "reason": r.reason,
    }


def _route_leg(leg: RouteLeg) -> Row:
    return {
        "venue": leg.venue,
        "client_order_id": leg.client_order_id,
        "status": leg.status.value,
        "reason": leg.reason,
        "quantity": leg.quantity,
        "rounding_residual": leg.rounding_residual,
        "symbol": leg.symbol,
        "ratio": leg.ratio,
    }


def _execution(e: Execution, _env: Envelope[Message]) -> Row:
    return {
        "signal_id": e.signal_id,
        "symbol": e.symbol,
        "side": e.side.value,
        "quantity": e.quantity,
        "status": e.status.value,
        "final": e.final,
        "filled_quantity": e.filled_quantity,
        "avg_price": e.avg_price,
        "reference_price": e.reference_price,
        "realized_pnl_usd": e.realized_pnl_usd,
        "fees_usd": e.fees_usd,
        "legs": len(e.legs),
        "reason": e.reason,
    }


def _execution_leg(leg: Leg) -> Row:
    return {
        "venue": leg.venue,
        "client_order_id": leg.client_order_id,
        "status": leg.status.value,
        "venue_symbol": leg.venue_symbol,
        "contract": leg.contract,
        "quantity": leg.quantity,
        "filled_quantity": leg.filled_quantity,
        "venue_filled_qty": leg.venue_filled_qty,
        "avg_price": leg.avg_price,
        "currency": leg.currency,
        "slippage_points": leg.slippage_points,
        "slippage_usd": leg.slippage_usd,
        "fees_usd": leg.fees_usd,
        "realized_pnl_usd": leg.realized_pnl_usd,
        "rounding_residual": leg.rounding_residual,
        "reason": leg.reason,
    }


def _jsonable(v: Any) -> Any:
    if isinstance(v, bytes):
        return v.hex()
    return str(v)


def _event(e: Event, _env: Envelope[Message]) -> Row:
    return {
        "kind": e.kind,
        "severity": e.severity.value,
        "source": e.source,
        "message": e.message,
        "symbol": e.symbol,
        "venue": e.venue,
        "signal_id": e.signal_id,
        "client_order_id": e.client_order_id,
        # JSON-safe here, per entry, so one odd value fails its own entry and never a batch
        "details": json.loads(json.dumps(dict(e.data), default=_jsonable)),
    }


def _dead_letter(d: DeadLetter, _env: Envelope[Message]) -> Row:
    return {
        "reason": d.reason,
        "source_stream": d.stream,
        "source_entry_id": d.entry_id,
        "group_name": d.group,
        "consumer": d.consumer,
        "deliveries": d.deliveries,
        "size": d.size,
        "sha256": d.sha256 or None,
    }


_Mapper = Callable[[Any, Envelope[Message]], Row]
# VenueOrder before Order: the first isinstance match wins.
_KINDS: tuple[tuple[type[Message], Table, _Mapper], ...] = (
    (Signal, schema.signals, _signal),
    (VenueOrder, schema.orders, _order),
    (Order, schema.orders, _order),
    (Fill, schema.fills, _fill),
    (Route, schema.routes, _route),
    (Execution, schema.executions, _execution),
    (Event, schema.events, _event),
    (DeadLetter, schema.dead_letters, _dead_letter),
)
_BY_TYPE: dict[type[Message], tuple[Table, _Mapper]] = {k: (t, m) for k, t, m in _KINDS}


def _mapper(kind: type[Message]) -> tuple[Table, _Mapper] | None:
    found = _BY_TYPE.get(kind)
    if found is None:
        for k, t, m in _KINDS:
            if issubclass(kind, k):
                return t, m
    return found


def rows(namespace: str, stream: str, entry_id: str, env: Envelope[Message], now: dt.datetime) -> Rows:
    head = header(namespace, stream, entry_id, env, now)
    body = env.body
    found = _mapper(type(body))
    if found is None:
        return Rows(schema.messages, {**head, "problem": None})
    table, mapper = found
    out = Rows(table, {**head, **mapper(body, env)})
    key = {"namespace": namespace, "stream": stream, "id": env.id}
    if isinstance(body, Route):
        out.legs = [
            {**key, "leg": i, "signal_id": body.signal_id, **_route_leg(leg)}
            for i, leg in enumerate(body.legs)
        ]
    elif isinstance(body, Execution):
        out.legs = [
            {**key, "leg": i, "signal_id": body.signal_id, **_execution_leg(leg)}
            for i, leg in enumerate(body.legs)
        ]
    return out


def raw_row(
    namespace: str, stream: str, entry_id: str, env: Envelope[Message], now: dt.datetime, problem: str
) -> Rows:
    """The whole entry as a `messages` row, when its typed row cannot be written."""
    return Rows(schema.messages, {**header(namespace, stream, entry_id, env, now), "problem": problem})


def unreadable_row(
    namespace: str,
    stream: str,
    entry_id: str,
    fields: Mapping[Any, Any],
    now: dt.datetime,
    problem: str,
    *,
    whole: bool = True,
) -> Rows:
    """An entry that does not decode, as a `messages` row with why. Its id is the Redis entry id (its
    own header cannot be trusted to be unique); the header fields are kept as far as they read; `data`
    is every field (a msgpack map of name to bytes), or empty when the entry is too large to keep
    (`whole` false: `problem` then names its size and SHA-256, the original stays in its stream)."""
    text = {k: _text(fields, k) for k in ("type", "v", "trace", "ts")}
    ms, _, seq = entry_id.partition("-")
    ts_ns = _int(text["ts"]) or int(ms) * 1_000_000
    data = msgspec.msgpack.encode({_as_bytes(k): _as_bytes(v) for k, v in fields.items()}) if whole else b""
    return Rows(
        schema.messages,
        {
            "namespace": namespace,
            "stream": stream,
            "id": entry_id,
            "type": (text["type"] or "?")[:64],
            "v": _int(text["v"]) or 0,
            "trace": (text["trace"] or "")[:64],
            "ts_ns": ts_ns,
            "origin_time": utc_from_ns(ts_ns),
            "entry_id": entry_id,
            "entry_time": utc_from_ms(int(ms)),
            "entry_seq": int(seq or 0),
            "recorded_at": now,
            "data": data,
            "problem": problem,
        },
    )


def _as_bytes(v: Any) -> bytes:
    return v if isinstance(v, bytes) else str(v).encode()


def _text(fields: Mapping[Any, Any], name: str) -> str | None:
    raw = fields.get(name.encode(), fields.get(name))
    if raw is None:
        return None
    return _as_bytes(raw).decode(errors="replace")


def _int(text: str | None) -> int | None:
    try:
        value = int(text) if text is not None else None
    except ValueError:
        return None
    return value if value is not None and -(2**63) <= value < 2**63 else None
