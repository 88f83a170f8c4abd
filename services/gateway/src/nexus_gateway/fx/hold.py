"""The hold: fills fx may not convert yet (no fresh rate), kept in its state until it may.

Guarantee: a held fill is neither lost nor converted twice, and held fills leave in arrival order.

- A fill is stored under `names.state("fx", "held")`, a hash: the fill's message id -> msgpack of
  {seq: its input entry id, held_ns, entry: the encoded stream entry}. The write is committed with
  the hold event, before the input is acknowledged; a redelivery sets the same field to the same fill.
- Releasing publishes the converted fill under the fill's own id and deletes the field in the same
  commit. Two fx instances releasing the same fill publish it once (idempotent publish, and the
  state version makes the second handle its batch again from the state the first committed).
- Fills leave in the order of their input entry ids, so a leg's reports keep their order.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import msgpack

from nexus_protocol.codec import Envelope, decode, encode

__all__ = ["HeldFill", "decode_held", "encode_held", "entry_order", "held_fills"]


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


def held_fills(raw: dict[str, bytes]) -> tuple[list[HeldFill], list[tuple[str, bytes]]]:
    """Every held fill in arrival order, and the (field, value) pairs that cannot be decoded."""
    held: list[HeldFill] = []
    damaged: list[tuple[str, bytes]] = []
    for field, value in raw.items():
        try:
            held.append(decode_held(value))
        except Exception:
            damaged.append((field, value))
    held.sort(key=lambda h: entry_order(h.seq))
    return held, damaged
