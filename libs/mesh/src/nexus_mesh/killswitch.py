"""The kill switch, one key every service can read: while on, the router routes nothing new and
every adapter cancels its working orders (and flattens if asked). Each switch-on has its own
activation id so an adapter applies it once. Switching is recorded on nx:events, in the same
MULTI/EXEC as the key."""

from __future__ import annotations

import time

import redis

from nexus_mesh.commit import commit_now
from nexus_mesh.connection import as_bytes
from nexus_mesh.publish import Output
from nexus_mesh.state import Writes
from nexus_protocol.codec import Envelope, pack, unpack
from nexus_protocol.enums import Severity
from nexus_protocol.ids import new_signal_id
from nexus_protocol.messages import Event, KillSwitchState
from nexus_protocol.streams import Names


def killswitch_writes(
    names: Names,
    on: bool,
    *,
    reason: str,
    by: str,
    activation: str,
    flatten: bool = False,
    ts_ns: int | None = None,
) -> tuple[Writes, Output]:
    """The key's new value and the event that records it (a stage returns them in its Result)."""
    state = KillSwitchState(
        on=on, activation=activation, reason=reason, by=by, flatten=flatten, ts_ns=ts_ns or time.time_ns()
    )
    verb = "ON" if on else "off"
    event = Event(
        kind="killswitch",
        severity=Severity.CRITICAL if on else Severity.WARNING,
        source=by,
        message=f"kill switch {verb}: {reason}",
        data={"on": on, "flatten": flatten, "activation": activation},
    )
    out = Output(names.events, Envelope.new(event, id=f"killswitch:{activation}"))
    return Writes().set(names.killswitch, pack(state)), out


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
        activation = new_signal_id()
        writes, event = killswitch_writes(
            self._names, on, reason=reason, by=by, activation=activation, flatten=flatten
        )
        commit_now(self._client, [event], writes, dedupe_ttl_ms)
        state = self.state()
        assert state is not None
        return state
