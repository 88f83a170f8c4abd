"""What a handler may use besides its message: names, the client, settings, and event helpers."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import redis

from nexus_mesh import metrics
from nexus_mesh.publish import Output
from nexus_mesh.settings import MeshSettings
from nexus_protocol.codec import Envelope
from nexus_protocol.enums import Severity
from nexus_protocol.messages import Event
from nexus_protocol.streams import Names


@dataclass(slots=True)  # not frozen: the processor reuses one per input on the hot path
class Context:
    """Valid during the handler call only: the processor reuses it for the next entry."""

    names: Names
    client: redis.Redis
    settings: MeshSettings
    service: str
    stream: str | None = None  # the input stream (None in a tick)
    entry_id: str | None = None
    deliveries: int = 0

    @staticmethod
    def now_ns() -> int:
        return time.time_ns()

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
        return Output(self.names.events, Envelope.new(body, id=event_id, trace=trace))
