"""The hold: fills fx may not convert yet (no fresh rate), kept in Redis until it may.

Guarantee: a held fill is neither lost nor converted twice, and held fills leave in arrival order.

- A fill is stored under `names.state("fx", "held")`, a hash: the fill's message id -> msgpack of
  {seq: its input entry id, held_ns, entry: the encoded stream entry}. The hash write happens in the
  handler, before the input is acknowledged; a crash in between redelivers the input, and the second
  write sets the same field to the same fill.
- Releasing publishes the converted fill under the fill's own id (idempotent publish) and only then
  deletes the field. A crash in between leaves the field; the next release republishes as a no-op
  and deletes it. Two fx instances releasing the same fill publish it once for the same reason.
- Fills leave in the order of their input entry ids, so a leg's reports keep their order.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import msgpack
import redis

from nexus_protocol.codec import Envelope, decode, encode

__all__ = ["HeldFill", "HoldStore", "decode_held", "encode_held", "entry_order"]


@dataclass(frozen=True, slots=True)
class HeldFill:
    seq: str  # the input stream entry id: held fills leave in this order
    held_ns: int
    envelope: Envelope[Any]  # a Fill's; Any because Envelope is invariant in its body type

    @property
    def id(self) -> str:
        return self.envelope.id


def entry_order(entry_id: str) -> tuple[int, int]:
    """A stream entry id ("1700000000000-3") as a sortable pair; anything else sorts first."""
    ms, _, seq = entry_id.partition("-")
    try:
        return int(ms), int(seq or 0)
    except ValueError:
        return 0, 0


def encode_held(held: HeldFill) -> bytes:
    packed: bytes = msgpack.packb(
        {"seq": held.seq, "held_ns": held.held_ns, "entry": encode(held.envelope)}, use_bin_type=True
    )
    return packed


def decode_held(raw: bytes) -> HeldFill:
    """The stored entry back; raises DecodeError (or msgpack's errors) on a damaged one."""
    data = msgpack.unpackb(raw, raw=False)
    return HeldFill(seq=str(data["seq"]), held_ns=int(data["held_ns"]), envelope=decode(data["entry"]))


class HoldStore:
    """The held fills of one namespace, in one hash (one slot)."""

    def __init__(self, client: redis.Redis, key: str) -> None:
        self.client = client
        self.key = key

    def put(self, held: HeldFill) -> None:
        self.client.hset(self.key, held.id, encode_held(held))

    def count(self) -> int:
        return int(self.client.hlen(self.key))

    def all(self) -> tuple[list[HeldFill], list[tuple[str, bytes]]]:
        """Every held fill in arrival order, and the (field, value) pairs that cannot be decoded."""
        raw: dict[bytes, bytes] = self.client.hgetall(self.key)  # type: ignore[assignment]
        held: list[HeldFill] = []
        damaged: list[tuple[str, bytes]] = []
        for field, value in raw.items():
            try:
                held.append(decode_held(value))
            except Exception:
                damaged.append((field.decode(errors="replace"), value))
        held.sort(key=lambda h: entry_order(h.seq))
        return held, damaged

    def remove(self, ids: Sequence[str]) -> None:
        if ids:
            self.client.hdel(self.key, *ids)
