"""The adapter's memory of what it asked a venue to do, kept in Redis before anything is sent.

An intent is recorded *before* an order goes to the platform, so after a crash or a redelivery the
adapter knows it may have sent it and asks the platform by client order id before sending again.
States: `sending` (recorded, send may or may not have happened), `sent` (the platform answered),
`unknown` (the call timed out or the link dropped: the outcome is unknown, never assumed failed),
`rejected` (the platform refused it definitively), `done` (terminal report published).
All of one venue's keys share the hash tag `state:adapter-{venue}`.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

import redis

from nexus_mesh.connection import as_bytes, as_str
from nexus_mesh.expiry import FieldExpiry
from nexus_protocol.codec import pack, unpack
from nexus_protocol.messages import VenueOrder
from nexus_protocol.streams import Names


class IntentState(StrEnum):
    SENDING = "sending"
    SENT = "sent"
    UNKNOWN = "unknown"
    REJECTED = "rejected"
    DONE = "done"


_FINISHED = frozenset({IntentState.DONE, IntentState.REJECTED})


@dataclass(frozen=True, slots=True)
class Intent:
    order: VenueOrder
    state: IntentState


class IntentStore:
    def __init__(
        self, client: redis.Redis, names: Names, venue: str, retention_ms: int = 8 * 86_400_000
    ) -> None:
        self._client = client
        owner = f"adapter-{venue}"
        self._orders = names.state(owner, "orders")  # coid -> packed VenueOrder
        self._states = names.state(owner, "intents")  # coid -> state
        self._marker = names.state(owner, "marker")  # venue fills seen up to here
        self.expiry = FieldExpiry(
            client, names.state(owner, "finished"), (self._orders, self._states), retention_ms
        )

    def get(self, coid: str) -> Intent | None:
        pipe = self._client.pipeline(transaction=False)
        pipe.hget(self._orders, coid)
        pipe.hget(self._states, coid)
        raw, state = pipe.execute()
        if raw is None or state is None:
            return None
        order = unpack(as_bytes(raw))
        assert isinstance(order, VenueOrder)
        return Intent(order, IntentState(as_str(state)))

    def claim(self, order: VenueOrder, marks: dict[str, IntentState] | None = None) -> IntentState | None:
        """Record the intent if it is new (None), else return the state already recorded: one round trip,
        which also carries `marks` (states written lazily since the last one), written first."""
        coid = order.client_order_id
        pipe = self._client.pipeline(transaction=True)  # one slot: both hashes carry the same tag
        if marks:
            pipe.hset(self._states, mapping={c: s.value for c, s in marks.items()})
        pipe.hsetnx(self._orders, coid, pack(order))
        pipe.hsetnx(self._states, coid, IntentState.SENDING.value)
        pipe.hget(self._states, coid)
        *_marks, _order_new, state_new, state = pipe.execute()
        return None if state_new else IntentState(as_str(state))

    def mark_many(self, states: dict[str, IntentState]) -> None:
        if states:
            pipe = self._client.pipeline(transaction=True)
            pipe.hset(self._states, mapping={c: s.value for c, s in states.items()})
            self.expiry.finished([c for c, s in states.items() if s in _FINISHED], pipe)
            pipe.execute()

    def expire_with(self, *hash_keys: str) -> None:
        """A subclass's own per-order hashes (keyed by client order id) expire with the intents."""
        self.expiry.hashes = (*self.expiry.hashes, *hash_keys)

    def prune(self) -> int:
        """Forget finished orders older than the retention window (intents would otherwise grow forever)."""
        return self.expiry.prune()

    def order(self, coid: str) -> VenueOrder | None:
        raw = self._client.hget(self._orders, coid)
        if raw is None:
            return None
        order = unpack(as_bytes(raw))
        return order if isinstance(order, VenueOrder) else None

    def in_state(self, *states: IntentState) -> list[str]:
        wanted = {s.value.encode() for s in states}
        return [as_str(k) for k, v in self._client.hgetall(self._states).items() if as_bytes(v) in wanted]

    def marker(self) -> str | None:
        raw = self._client.get(self._marker)
        return as_str(raw) if raw is not None else None

    def set_marker(self, marker: str) -> None:
        self._client.set(self._marker, marker)
