"""The adapter's memory of what it asked a venue to do, kept in Redis before anything is sent.

An intent is recorded *before* an order goes to the platform, so after a crash or a redelivery the
adapter knows it may have sent it and asks the platform by client order id before sending again.
States: `sending` (recorded, send may or may not have happened), `sent` (the platform took the call
but has not acknowledged the order yet), `working` (the platform acknowledged it: accepted or filling),
`unknown` (the call timed out or the link dropped: the outcome is unknown, never assumed failed),
`rejected` (refused definitively, or never found at the platform), `done` (terminal report published).
All of one venue's keys share the hash tag `state:adapter-{venue}`.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
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
    WORKING = "working"
    UNKNOWN = "unknown"
    REJECTED = "rejected"
    DONE = "done"


_FINISHED = frozenset({IntentState.DONE, IntentState.REJECTED})
ORDERS_CACHED = 20_000


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
        self._cache: OrderedDict[str, VenueOrder] = OrderedDict()
        self._cache_lock = threading.Lock()

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
        self._remember(order)
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
        """The recorded order (an order never changes once recorded: kept in memory after the first read)."""
        cached = self._cache.get(coid)
        if cached is not None:
            return cached
        raw = self._client.hget(self._orders, coid)
        order = unpack(as_bytes(raw)) if raw is not None else None
        if not isinstance(order, VenueOrder):
            return None
        self._remember(order)
        return order

    def _remember(self, order: VenueOrder) -> None:
        with self._cache_lock:
            self._cache[order.client_order_id] = order
            while len(self._cache) > ORDERS_CACHED:
                self._cache.popitem(last=False)

    def in_state(self, *states: IntentState) -> list[str]:
        return list(self.states(*states))

    def states(self, *wanted: IntentState) -> dict[str, IntentState]:
        """Client order id -> state of every intent in one of the `wanted` states (one HGETALL)."""
        values = {s.value.encode(): s for s in wanted}
        out = {}
        for k, v in self._client.hgetall(self._states).items():
            state = values.get(as_bytes(v))
            if state is not None:
                out[as_str(k)] = state
        return out

    def marker(self) -> str | None:
        raw = self._client.get(self._marker)
        return as_str(raw) if raw is not None else None

    def set_marker(self, marker: str) -> None:
        self._client.set(self._marker, marker)
