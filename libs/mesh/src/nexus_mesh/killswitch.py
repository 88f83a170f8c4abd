"""The kill switch, one key every service can read: while on, the router routes nothing new and
every adapter cancels its working orders (and flattens if asked). Each switch-on has its own
activation id so an adapter applies it once. Switching is recorded on nx:events."""

from __future__ import annotations

import time

import redis

from nexus_mesh.connection import as_bytes
from nexus_mesh.publish import Output, Publisher
from nexus_protocol.codec import Envelope, pack, unpack
from nexus_protocol.enums import Severity
from nexus_protocol.ids import new_signal_id
from nexus_protocol.messages import Event, KillSwitchState
from nexus_protocol.streams import Names


class KillSwitch:
    def __init__(self, client: redis.Redis, names: Names) -> None:
        self._client = client
        self._names = names

    def state(self) -> KillSwitchState | None:
        raw = self._client.get(self._names.killswitch)
        if raw is None:
            return None
        msg = unpack(as_bytes(raw))
        return msg if isinstance(msg, KillSwitchState) else None

    def active(self) -> bool:
        st = self.state()
        return st is not None and st.on

    def set(
        self, on: bool, *, reason: str, by: str, flatten: bool = False, dedupe_ttl_ms: int = 8 * 86_400_000
    ) -> KillSwitchState:
        state = KillSwitchState(
            on=on, activation=new_signal_id(), reason=reason, by=by, flatten=flatten, ts_ns=time.time_ns()
        )
        self._client.set(self._names.killswitch, pack(state))
        verb = "ON" if on else "off"
        event = Event(
            kind="killswitch",
            severity=Severity.CRITICAL if on else Severity.WARNING,
            source=by,
            message=f"kill switch {verb}: {reason}",
            data={"on": on, "flatten": flatten, "activation": state.activation},
        )
        Publisher(self._client, dedupe_ttl_ms=dedupe_ttl_ms).publish(
            [Output(self._names.events, Envelope.new(event, id=f"killswitch:{state.activation}"))]
        )
        return state
