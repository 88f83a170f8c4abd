"""Dead letters: an entry no stage could process, on nx:dlq with why and what is needed to replay it,
and what a stage can still recover from such an entry to answer it (`Rejected`, `recovered_signal`).

An entry is copied whole into its dead letter when it fits the entry limit (`NX_MAX_ENTRY_BYTES`) with
room to spare; a larger one is dead-lettered by reference: its stream and entry id, its size and the
SHA-256 of its fields (`entry_digest`), and only its short header fields. The original stays in its
stream (retained like every entry) for whoever needs it whole. A reason is cut to `REASON_CHARS`.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import msgspec

from nexus_mesh.connection import as_str
from nexus_mesh.publish import Output
from nexus_protocol.codec import HEADER_FIELDS, Envelope
from nexus_protocol.enums import Side
from nexus_protocol.messages import DeadLetter, Message, Signal
from nexus_protocol.streams import Names

REASON_CHARS = 1000  # a reason quoting a huge value stays readable (and the dead letter small)
ROOM_BYTES = 4096  # what a dead letter adds to the entry it copies: reason, origin, header
HEADER_BYTES = 256  # a header field up to this size is kept in a dead letter by reference
ID_CHARS = 64  # the longest id worth recovering from a bad entry (a ULID is 26)


@dataclass(frozen=True, slots=True)
class Rejected:
    """An entry an input dead-letters, as its `on_dead_letter` hook sees it."""

    stream: str
    entry_id: str
    fields: Mapping[Any, Any]
    reason: str
    envelope: Envelope[Message] | None = None  # decoded (the handler refused it), else None
    oversized: bool = False  # past the entry limit: not decoded, dead-lettered by reference


def entry_size(fields: Mapping[Any, Any]) -> int:
    """Bytes of an entry's field names and values (what Redis holds for it, near enough)."""
    return sum(len(k) + len(v) for k, v in fields.items())


def entry_digest(fields: Mapping[Any, Any]) -> str:
    """SHA-256 (hex) of an entry: each field name and value as 4-byte big-endian length and bytes,
    in stream order; what a dead letter by reference names its original by."""
    h = hashlib.sha256()
    for k, v in fields.items():
        for part in (_bytes(k), _bytes(v)):
            h.update(len(part).to_bytes(4, "big"))
            h.update(part)
    return h.hexdigest()


def oversized_reason(fields: Mapping[Any, Any], size: int, limit: int) -> str:
    name, value = max(fields.items(), key=lambda kv: len(kv[1]))
    return (
        f"entry of {size:,} bytes is over the limit of {limit:,} (NX_MAX_ENTRY_BYTES); "
        f"its largest field is {as_str(name)!r} ({len(value):,} bytes)"
    )


def short_reason(reason: str) -> str:
    if len(reason) <= REASON_CHARS:
        return reason
    return f"{reason[:REASON_CHARS]}... ({len(reason) - REASON_CHARS:,} more characters)"


def dead_letter(
    names: Names,
    group: str,
    consumer: str,
    stream: str,
    entry_id: str,
    fields: Any,
    deliveries: int,
    reason: str,
    max_entry_bytes: int = 65_536,
) -> Output:
    """The dead letter of entry `entry_id` of `stream`, its id derived from both and the group."""
    raw = {as_str(k): _bytes(v) for k, v in fields.items()}
    size = entry_size(raw)
    by_reference = size > max_entry_bytes - ROOM_BYTES
    if by_reference:
        raw = {k: v for k, v in raw.items() if k in HEADER_FIELDS and len(v) <= HEADER_BYTES}
    body = DeadLetter(
        reason=short_reason(reason),
        stream=stream,
        entry_id=entry_id,
        group=group,
        consumer=consumer,
        deliveries=deliveries,
        fields=raw,
        size=size,
        sha256=entry_digest(fields) if by_reference else "",
    )
    return Output(names.dlq, Envelope.new(body, id=f"{stream}/{entry_id}/{group}"))


# ---- what a stage can recover from a bad entry ----------------------------------------------------

_LOOSE = msgspec.msgpack.Decoder()


def loose_body(r: Rejected) -> dict[str, Any]:
    """The entry's body as a plain map when it unpacks as one (never for an oversized entry)."""
    if r.envelope is not None:
        return msgspec.structs.asdict(r.envelope.body)
    data = r.fields.get(b"data", r.fields.get("data"))
    if r.oversized or not isinstance(data, bytes):
        return {}
    try:
        body = _LOOSE.decode(data)
    except Exception:  # garbage: nothing to recover from the body
        return {}
    return body if isinstance(body, dict) else {}


def _header(r: Rejected, name: str) -> str | None:
    raw = r.fields.get(name.encode(), r.fields.get(name))
    try:
        return _bytes(raw).decode() if raw is not None else None
    except UnicodeDecodeError:
        return None


def _plausible_id(value: object) -> str | None:
    """An id worth answering under: short, printable text (a malformed ULID is still the caller's id)."""
    if isinstance(value, str) and 0 < len(value) <= ID_CHARS and value.isprintable() and value.strip():
        return value
    return None


def recovered_signal(r: Rejected) -> Signal | None:
    """What can be told of a dead-lettered signal to answer it: its id (the body's `signal_id`, else
    the entry's `id` header), symbol, side, quantity and reference price where they are readable.
    None when no id can be recovered. Not validated: the id may be malformed (it is the caller's);
    an unreadable side reads as buy and an unreadable quantity as 0 (the answer is a rejection)."""
    body = loose_body(r)
    sid = _plausible_id(body.get("signal_id")) or _plausible_id(_header(r, "id"))
    if sid is None:
        return None
    symbol = body.get("symbol")
    side = body.get("side")
    qty = body.get("quantity")
    ref = body.get("reference_price")
    return Signal(
        signal_id=sid,
        symbol=symbol if isinstance(symbol, str) and len(symbol) <= ID_CHARS else "",
        side=_side(side),
        quantity=max(_number(qty) or 0.0, 0.0),
        reference_price=_number(ref),
    )


def _side(v: object) -> Side:
    try:
        return Side(str(v))
    except ValueError:
        return Side.BUY


def _number(v: object) -> float | None:
    if isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v):
        return float(v)
    return None


def _bytes(v: Any) -> bytes:
    return v if isinstance(v, bytes) else str(v).encode()
