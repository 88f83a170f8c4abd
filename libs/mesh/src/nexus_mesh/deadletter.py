"""Dead letters: an entry no stage could process, on nx:dlq with why and what is needed to replay it."""

from __future__ import annotations

from typing import Any

from nexus_mesh.connection import as_str
from nexus_mesh.publish import Output
from nexus_protocol.codec import Envelope
from nexus_protocol.messages import DeadLetter
from nexus_protocol.streams import Names


def dead_letter(
    names: Names,
    group: str,
    consumer: str,
    stream: str,
    entry_id: str,
    fields: Any,
    deliveries: int,
    reason: str,
) -> Output:
    """The dead letter of entry `entry_id` of `stream`, its id derived from both and the group."""
    raw = {as_str(k): (v if isinstance(v, bytes) else str(v).encode()) for k, v in fields.items()}
    body = DeadLetter(
        reason=reason,
        stream=stream,
        entry_id=entry_id,
        group=group,
        consumer=consumer,
        deliveries=deliveries,
        fields=raw,
    )
    return Output(names.dlq, Envelope.new(body, id=f"{stream}/{entry_id}/{group}"))
