"""The stream-entry codec: a readable header and a msgpack body.

An entry is `type`, `v`, `id`, `trace`, `ts` as plain strings (so `redis-cli XRANGE` is readable) and
`data`, the msgpack body. Decoding validates everything; whatever is wrong (missing field, garbage
bytes, unknown type or version, a body the model refuses) raises `DecodeError` saying what, so the
stream processor can dead-letter the entry with that reason.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

import msgpack
from pydantic import ValidationError

from nexus_protocol.errors import DecodeError
from nexus_protocol.messages import ALL_MESSAGES, Message

M = TypeVar("M", bound=Message)

_REGISTRY: dict[str, dict[int, type[Message]]] = {}
HEADER_FIELDS = ("type", "v", "id", "trace", "ts")


def register(model: type[Message]) -> None:
    """Make a message kind decodable. Later schema versions register beside earlier ones."""
    _REGISTRY.setdefault(model.TYPE, {})[model.VERSION] = model


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


def encode(env: Envelope[Any]) -> dict[str, str | bytes]:
    body = env.body
    return {
        "type": body.TYPE,
        "v": str(body.VERSION),
        "id": env.id,
        "trace": env.trace,
        "ts": str(env.ts),
        "data": env.raw if env.raw is not None else msgpack.packb(body.model_dump(), use_bin_type=True),
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


def decode(fields: Mapping[Any, Any]) -> Envelope[Message]:
    """Fields of one stream entry (bytes or str keys) to a validated envelope, or DecodeError."""
    try:  # fast path: a well-formed entry as redis returns it
        model = _REGISTRY[fields[b"type"].decode()][int(fields[b"v"])]
        msg_id = fields[b"id"].decode()
        trace = fields[b"trace"].decode()
        ts = int(fields[b"ts"])
        data = fields[b"data"]
        body = model.__pydantic_validator__.validate_python(msgpack.unpackb(data, raw=False))
        if msg_id:
            return Envelope(id=msg_id, trace=trace, ts=ts, body=body, raw=data)
    except Exception:  # the slow path below finds and names the problem
        pass
    return _decode_checked(fields)


def _decode_checked(fields: Mapping[Any, Any]) -> Envelope[Message]:
    if not isinstance(fields, Mapping):
        raise DecodeError(f"entry is a {type(fields).__name__}, not a map of fields")
    kind = _text(fields, "type")
    versions = _REGISTRY.get(kind)
    if versions is None:
        raise DecodeError(f"unknown message type {kind!r}", field="type", value=kind)
    v_text = _text(fields, "v")
    try:
        version = int(v_text)
    except ValueError:
        raise DecodeError("schema version is not an integer", field="v", value=v_text) from None
    model = versions.get(version)
    if model is None:
        known = ", ".join(str(v) for v in sorted(versions))
        raise DecodeError(f"unknown schema version {version} of {kind!r} (known: {known})", field="v")
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
        raw = msgpack.unpackb(data, raw=False, strict_map_key=True)
    except Exception as exc:  # msgpack raises several unrelated types for garbage
        raise DecodeError(f"body is not msgpack: {type(exc).__name__}: {exc}", field="data") from None
    if not isinstance(raw, dict):
        raise DecodeError(f"body is a msgpack {type(raw).__name__}, not a map", field="data")
    try:
        body = model.model_validate(raw)
    except ValidationError as exc:
        first = exc.errors()[0]
        loc = ".".join(str(p) for p in first["loc"]) or None
        reason = f"invalid {kind} body: {first['msg']}"
        raise DecodeError(reason, field=loc, value=first.get("input")) from None
    return Envelope(id=msg_id, trace=trace, ts=ts, body=body, raw=data)


def pack(body: Message) -> bytes:
    """A body alone (for keys such as heartbeats), msgpack with its type and version."""
    packed: bytes = msgpack.packb(
        {"type": body.TYPE, "v": body.VERSION, "data": body.model_dump()}, use_bin_type=True
    )
    return packed


def unpack(data: bytes) -> Message:
    """The inverse of `pack`, validated; whatever is wrong raises DecodeError saying what."""
    try:
        raw = msgpack.unpackb(data, raw=False)
    except Exception as exc:  # msgpack raises several unrelated types for garbage
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
    try:
        return model.model_validate(raw["data"])
    except ValidationError as exc:
        first = exc.errors()[0]
        loc = ".".join(str(p) for p in first["loc"]) or None
        raise DecodeError(f"invalid packed {kind} body: {first['msg']}", field=loc) from None
