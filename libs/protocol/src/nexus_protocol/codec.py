"""The stream-entry codec: a readable header and a msgpack body.

An entry is `type`, `v`, `id`, `trace`, `ts` as plain strings (so `redis-cli XRANGE` is readable) and
`data`, the msgpack body (a map of the message's fields, in declaration order). Bodies are encoded and
decoded by msgspec into typed structs (decision 0008): decoding checks types, enums and declared
constraints in C, and refuses unknown fields. Whatever is wrong (missing field, garbage bytes, unknown
type or version, a body the schema refuses) raises `DecodeError` saying what, so the stream processor
can dead-letter the entry with that reason.

Between the mesh's own stages that is all (`decode`). Where data comes from outside (the bridge
intake, nx:signals, a platform, an operator), `decode(fields, validate=True)` or `validated(message)`
also refuses non-finite numbers and text over its limit (`messages.TEXT_LIMITS`), the checks msgspec's
schema does not make.
"""

from __future__ import annotations

import math
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

import msgspec

from nexus_protocol.errors import DecodeError
from nexus_protocol.messages import ALL_MESSAGES, ITEMS_MAX, TEXT_DEFAULT, TEXT_LIMITS, Message

M = TypeVar("M", bound=Message)

_REGISTRY: dict[str, dict[int, type[Message]]] = {}
_DECODERS: dict[tuple[bytes, bytes], msgspec.msgpack.Decoder[Any]] = {}
HEADER_FIELDS = ("type", "v", "id", "trace", "ts")
_ENCODER = msgspec.msgpack.Encoder()
_ANY = msgspec.msgpack.Decoder()


class InvalidMessage(DecodeError, ValueError):
    """A message built from untrusted data breaks its schema (a constraint, a type, a NaN)."""


def register(model: type[Message]) -> None:
    """Make a message kind decodable. Later schema versions register beside earlier ones."""
    _REGISTRY.setdefault(model.TYPE, {})[model.VERSION] = model
    _DECODERS[(model.TYPE.encode(), str(model.VERSION).encode())] = msgspec.msgpack.Decoder(model)


for _m in ALL_MESSAGES:
    register(_m)


@dataclass(frozen=True, slots=True)
class Envelope(Generic[M]):
    """A message with its header: its own id, the originating trace id and origin time (ns).

    `raw` keeps the decoded body's msgpack bytes, so an output that passes the same body on (a relay,
    a stage that only re-addresses) is not serialized again.
    """

    id: str
    trace: str
    ts: int
    body: M
    raw: bytes | None = field(default=None, compare=False, repr=False)

    @property
    def type(self) -> str:
        return self.body.TYPE

    @classmethod
    def new(cls, body: M, *, id: str, trace: str | None = None, ts: int | None = None) -> Envelope[M]:
        ts = ts if ts is not None else time.time_ns()  # `ts or now` would replace an explicit 0
        return cls(id=id, trace=trace if trace is not None else id, ts=ts, body=body)

    def derive(self, body: M2, *, id: str) -> Envelope[M2]:
        """An output caused by this message: same trace and origin time, its own derived id."""
        raw = self.raw if body is self.body else None
        return Envelope(id=id, trace=self.trace, ts=self.ts, body=body, raw=raw)


M2 = TypeVar("M2", bound=Message)


def encode_body(body: Message) -> bytes:
    return _ENCODER.encode(body)


def encode(env: Envelope[Any]) -> dict[str, str | bytes]:
    body = env.body
    return {
        "type": body.TYPE,
        "v": str(body.VERSION),
        "id": env.id,
        "trace": env.trace,
        "ts": str(env.ts),
        "data": env.raw if env.raw is not None else _ENCODER.encode(body),
    }


_BYTES_NAMES = {n: n.encode() for n in (*HEADER_FIELDS, "data")}


def _text(fields: Mapping[Any, Any], name: str) -> str:
    raw = fields.get(_BYTES_NAMES[name])  # redis replies with bytes keys
    if raw is None:
        raw = fields.get(name)
    if raw is None:
        raise DecodeError("missing header field", field=name)
    if isinstance(raw, bytes):
        try:
            return raw.decode()
        except UnicodeDecodeError:
            raise DecodeError("header field is not UTF-8 text", field=name, value=raw[:64]) from None
    if isinstance(raw, str):
        return raw
    raise DecodeError("header field is not text", field=name, value=raw)


def decode(fields: Mapping[Any, Any], *, validate: bool = False) -> Envelope[Message]:
    """Fields of one stream entry (bytes or str keys) to a typed envelope, or DecodeError.

    `validate`: the entry comes from outside the mesh; non-finite numbers and over-long text are
    refused too."""
    try:  # fast path: a well-formed entry as redis returns it
        body = _DECODERS[(fields[b"type"], fields[b"v"])].decode(data := fields[b"data"])
        msg_id = fields[b"id"].decode()
        if msg_id:
            env = Envelope(msg_id, fields[b"trace"].decode(), int(fields[b"ts"]), body, data)
            if validate:
                check_untrusted(body)
            return env
    except InvalidMessage:
        raise
    except Exception:  # the slow path below finds and names the problem
        pass
    return _decode_checked(fields, validate)


def _decode_checked(fields: Mapping[Any, Any], validate: bool) -> Envelope[Message]:
    if not isinstance(fields, Mapping):
        raise DecodeError(f"entry is a {type(fields).__name__}, not a map of fields")
    kind = _text(fields, "type")
    model = _model(kind, _text(fields, "v"))
    msg_id = _text(fields, "id")
    if not msg_id:
        raise DecodeError("empty message id", field="id")
    trace = _text(fields, "trace")
    ts_text = _text(fields, "ts")
    try:
        ts = int(ts_text)
    except ValueError:
        raise DecodeError("origin time is not integer nanoseconds", field="ts", value=ts_text) from None
    data = fields.get(b"data")
    if data is None:
        data = fields.get("data")
    if not isinstance(data, bytes):
        raise DecodeError("missing or non-binary body", field="data")
    try:
        raw = _ANY.decode(data)
    except Exception as exc:  # garbage bytes
        raise DecodeError(f"body is not msgpack: {type(exc).__name__}: {exc}", field="data") from None
    if not isinstance(raw, dict):
        raise DecodeError(f"body is a msgpack {type(raw).__name__}, not a map", field="data")
    body = _convert(raw, model, f"invalid {kind} body")
    if validate:
        check_untrusted(body)
    return Envelope(id=msg_id, trace=trace, ts=ts, body=body, raw=data)


def _model(kind: str, v_text: str) -> type[Message]:
    versions = _REGISTRY.get(kind)
    if versions is None:
        raise DecodeError(f"unknown message type {kind!r}", field="type", value=kind)
    try:
        version = int(v_text)
    except ValueError:
        raise DecodeError("schema version is not an integer", field="v", value=v_text) from None
    model = versions.get(version)
    if model is None:
        known = ", ".join(str(v) for v in sorted(versions))
        raise DecodeError(f"unknown schema version {version} of {kind!r} (known: {known})", field="v")
    return model


def _convert(raw: Any, model: type[M], what: str) -> M:
    try:
        return msgspec.convert(raw, model)
    except msgspec.ValidationError as exc:
        text = str(exc)
        path = text.rsplit(" - at `$.", 1)
        if len(path) == 2:  # `$.legs[0].status` -> legs.0.status
            loc: str | None = path[1].rstrip("`").replace("[", ".").replace("]", "")
        else:  # "Object missing required field `symbol`", "... unknown field `colour`"
            named = text.rsplit("field `", 1)
            loc = named[1].rstrip("`") if len(named) == 2 else None
        raise InvalidMessage(f"{what}: {path[0]}", field=loc) from None


_INF = math.inf
_PLANS: dict[type, tuple[tuple[str, int], ...]] = {}  # struct type -> (field, text limit), worked out once


def _plan(cls: type[msgspec.Struct]) -> tuple[tuple[str, int], ...]:
    plan = _PLANS.get(cls)
    if plan is None:
        plan = _PLANS[cls] = tuple((n, TEXT_LIMITS.get(n, TEXT_DEFAULT)) for n in cls.__struct_fields__)
    return plan


def check_untrusted(msg: msgspec.Struct, path: str = "") -> None:
    """Refuse what msgspec's schema lets through from outside: NaN and infinite floats, and text
    over its limit (`messages.TEXT_LIMITS`), anywhere in `msg` (nested structs and tuples included).
    It runs for every signal entering: type tests and comparisons, the message only read."""
    for name, limit in _plan(type(msg)):
        value = getattr(msg, name)
        kind = type(value)
        if kind is float:
            if not -_INF < value < _INF:
                _refuse(msg, f"{path}{name}", f"must be a finite number, not {value}")
        elif kind is str:
            if len(value) > limit:
                _refuse(msg, f"{path}{name}", f"is {len(value):,} characters, over the limit of {limit:,}")
        elif kind is tuple:
            _check_items(msg, f"{path}{name}", value, limit)
        elif isinstance(value, msgspec.Struct):
            check_untrusted(value, f"{path}{name}.")


def _check_items(msg: msgspec.Struct, where: str, items: tuple[Any, ...], limit: int) -> None:
    if items and type(items[0]) is str and len(items) > ITEMS_MAX:
        _refuse(msg, where, f"has {len(items):,} items, over the limit of {ITEMS_MAX}")
    for i, item in enumerate(items):
        kind = type(item)
        if kind is str:
            if len(item) > limit:
                _refuse(msg, f"{where}.{i}", f"is {len(item):,} characters, over the limit of {limit:,}")
        elif kind is float:
            if not -_INF < item < _INF:
                _refuse(msg, where, f"must hold finite numbers, not {item}")
        elif isinstance(item, msgspec.Struct):
            check_untrusted(item, f"{where}.{i}.")


def _refuse(msg: msgspec.Struct, where: str, what: str) -> None:
    raise InvalidMessage(f"invalid {getattr(msg, 'TYPE', 'message')}: {where} {what}", field=where)


def validated(msg: M) -> M:
    """`msg` checked as if it had been decoded from outside: types, enums (strings become members),
    constraints, finite numbers, text limits. Returns the checked copy; raises InvalidMessage naming
    the field."""
    body = _convert(msgspec.to_builtins(msg), type(msg), f"invalid {msg.TYPE}")
    check_untrusted(body)
    return body


def pack(body: Message) -> bytes:
    """A body alone (for keys such as heartbeats), msgpack with its type and version."""
    return _ENCODER.encode({"type": body.TYPE, "v": body.VERSION, "data": body})


def unpack(data: bytes) -> Message:
    """The inverse of `pack`, checked; whatever is wrong raises DecodeError saying what."""
    try:
        raw = _ANY.decode(data)
    except Exception as exc:  # garbage bytes
        raise DecodeError(f"not msgpack: {type(exc).__name__}: {exc}") from None
    if not isinstance(raw, dict) or not {"type", "v", "data"} <= raw.keys():
        raise DecodeError("not a packed message: want a map with type, v and data")
    kind, version = raw["type"], raw["v"]
    versions = _REGISTRY.get(kind) if isinstance(kind, str) else None
    if versions is None:
        raise DecodeError(f"unknown message type {kind!r}", field="type", value=kind)
    model = versions.get(version) if type(version) is int else None
    if model is None:
        known = ", ".join(str(v) for v in sorted(versions))
        raise DecodeError(f"unknown schema version {version!r} of {kind!r} (known: {known})", field="v")
    return _convert(raw["data"], model, f"invalid packed {kind} body")
