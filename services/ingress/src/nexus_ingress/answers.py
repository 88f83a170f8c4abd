"""What the ingress answers, as models (their JSON Schema is the OpenAPI spec's), built pure from
the stored record, so a replayed request gets exactly the first answer.

Errors are RFC 9457 problem details (`application/problem+json`) with `errors`: one entry per bad
field, named by its dotted path in the payload (`contracts`, `venues.0`) or a header's name.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel, ConfigDict

from nexus_ingress.payloads import FieldProblem
from nexus_ingress.store import Record
from nexus_protocol.messages import Execution, Message, Signal

PROBLEM_JSON = "application/problem+json"


class FieldError(BaseModel):
    field: str
    message: str


class Problem(BaseModel):
    model_config = ConfigDict(extra="forbid")

    type: str = "about:blank"
    title: str
    status: int
    detail: str
    errors: list[FieldError] = []


class Accepted(BaseModel):
    """202: the signal is on the bridge intake; its execution follows at `links.self`."""

    signal_id: str
    status: str = "accepted"
    source: str
    idempotency_key: str | None
    symbol: str
    side: str
    quantity: float
    received_at: str
    links: dict[str, str]


class SignalView(BaseModel):
    """GET /signals/{id}: the signal as it entered the mesh and its execution so far."""

    signal_id: str
    source: str
    idempotency_key: str | None
    received_at: str
    status: str  # accepted (no execution yet), else the execution's status
    final: bool
    signal: dict[str, Any]
    execution: dict[str, Any] | None


@dataclass(frozen=True, slots=True)
class Answer:
    status: int
    body: dict[str, Any]
    headers: dict[str, str] = field(default_factory=dict)

    @property
    def media_type(self) -> str:
        return PROBLEM_JSON if self.status >= 400 else "application/json"


def iso(ns: int) -> str:
    t = dt.datetime.fromtimestamp(ns / 1e9, dt.UTC)
    return t.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def link(signal_id: str) -> str:
    return f"/signals/{signal_id}"


def _dump(body: Message) -> dict[str, Any]:
    return body.to_dict()


def _signal(record: Record) -> Signal:
    body = record.envelope.body
    assert isinstance(body, Signal), f"a {body.TYPE} in an ingress record"
    return body


def accepted(record: Record, *, replayed: bool) -> Answer:
    sig = _signal(record)
    body = Accepted(
        signal_id=sig.signal_id,
        source=record.source,
        idempotency_key=record.key,
        symbol=sig.symbol,
        side=sig.side.value,
        quantity=sig.quantity,
        received_at=iso(record.received_ns),
        links={"self": link(sig.signal_id)},
    )
    headers = {"Location": link(sig.signal_id)}
    if replayed:
        headers["Idempotent-Replayed"] = "true"
    return Answer(202, body.model_dump(), headers)


def view(record: Record, execution: Execution | None) -> Answer:
    sig = _signal(record)
    body = SignalView(
        signal_id=sig.signal_id,
        source=record.source,
        idempotency_key=record.key,
        received_at=iso(record.received_ns),
        status=execution.status.value if execution else "accepted",
        final=bool(execution and execution.final),
        signal=_dump(sig),
        execution=_dump(execution) if execution else None,
    )
    return Answer(200, body.model_dump())


def problem(
    status: int,
    title: str,
    detail: str,
    errors: Sequence[FieldProblem] = (),
    headers: dict[str, str] | None = None,
) -> Answer:
    body = Problem(
        title=title,
        status=status,
        detail=detail,
        errors=[FieldError(field=p.field, message=p.message) for p in errors],
    )
    return Answer(status, body.model_dump(), headers or {})
