"""What a handler may use besides its message: names, settings, the state view, the batch's clock,
and event helpers. A stage handler reads state only through the view (`hget`, `hgetall`, `get`,
`need`...) and never calls Redis; `client` is there for adapters, whose handlers talk to platforms."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

import redis

from nexus_mesh import metrics
from nexus_mesh.publish import Output
from nexus_mesh.settings import MeshSettings
from nexus_mesh.state import Read, StateView
from nexus_protocol.codec import Envelope
from nexus_protocol.enums import Severity
from nexus_protocol.messages import Event
from nexus_protocol.streams import Names


@dataclass(slots=True)  # not frozen: the processor reuses one on the hot path
class Context:
    """Valid during the handler call only: the processor reuses it for the next entry."""

    names: Names
    client: redis.Redis | None
    settings: MeshSettings
    service: str
    stream: str | None = None  # the input stream (None in a tick)
    entry_id: str | None = None
    deliveries: int = 0
    # The entry may have been handled before: redelivered, or read before a detected data loss.
    maybe_handled: bool = False
    view: StateView = field(default_factory=StateView.of)
    clock_ns: int = 0  # the batch's time (0: the wall clock at each call)

    def now_ns(self) -> int:
        """The time of the batch being handled: one value for every message of the batch."""
        return self.clock_ns or time.time_ns()

    # ---- state (see nexus_mesh.state) -------------------------------------------------------------

    def hget(self, key: str, field: str) -> bytes | None:
        return self.view.hget(key, field)

    def hgetall(self, key: str) -> dict[str, bytes]:
        return self.view.hgetall(key)

    def get(self, key: str) -> bytes | None:
        return self.view.get(key)

    def need(self, *reads: Read) -> None:
        self.view.need(*reads)

    def older(self, key: str, max_score: int) -> list[str]:
        return self.view.older(key, max_score)

    def newest(self, stream: str, count: int) -> list[Any]:
        return self.view.newest(stream, count)

    # ---- outputs --------------------------------------------------------------------------------

    def event(
        self,
        kind: str,
        message: str,
        *,
        severity: Severity = Severity.INFO,
        event_id: str,
        trace: str | None = None,
        **fields: Any,
    ) -> Output:
        """An Event output on the events stream. `event_id` must be derived from what it reports."""
        data = fields.pop("data", {})
        metrics.EVENTS.labels(self.service, kind, severity.value).inc()
        body = Event(kind=kind, severity=severity, source=self.service, message=message, data=data, **fields)
        return Output(
            self.names.events, Envelope.new(body, id=event_id, trace=trace, ts=self.clock_ns or None)
        )


def stage_context(
    settings: MeshSettings, view: StateView | None = None, *, clock_ns: int = 0, stream: str | None = None
) -> Context:
    """A context for unit tests of a handler: no Redis, state from `view` (StateView.of(...))."""
    return Context(
        names=settings.names,
        client=None,
        settings=settings,
        service=settings.service,
        stream=stream,
        entry_id="1-0",
        deliveries=1,
        view=view or StateView.of(),
        clock_ns=clock_ns,
    )
