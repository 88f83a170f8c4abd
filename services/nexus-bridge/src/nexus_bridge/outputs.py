"""What the bridge publishes for a decision or a breaker trip, pure (no Redis): ids derived from the
signal id, so a redelivery or a replayed decision republishes the same ids (no-ops).

- Accepted: the signal on nx:signals with the signal id as its message id, plus an info event when
  the reduced-size band cut its quantity (`signal_resized`) and a warning when disconnected venues
  were left out (`signal_venues_limited`).
- Refused: an Event of the refusal's kind (`bridge:{kind}:{signal_id}`) and a final, rejected
  Execution (`{signal_id}:bridge`) whose reason starts with the check's name (`confidence: ...`).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from nexus_bridge.breakers import CONSECUTIVE_LOSSES, Trip
from nexus_bridge.filters import Refusal
from nexus_bridge.state import Decision
from nexus_mesh.context import Context
from nexus_mesh.publish import Output
from nexus_protocol.codec import Envelope
from nexus_protocol.enums import OrderStatus, Severity
from nexus_protocol.messages import Execution, Message, Signal
from nexus_protocol.streams import Names


def utc(ms: int) -> dt.datetime:
    return dt.datetime.fromtimestamp(ms / 1000, dt.UTC)


def when(ms: int) -> str:
    return utc(ms).strftime("%Y-%m-%d %H:%M:%S UTC")


def paused(breaker: str, value: float, threshold: float, until_ms: int) -> Refusal:
    """The refusal of a signal that arrives while a circuit breaker is open."""
    what = (
        f"{value:g} losing trades in a row (limit {threshold:g})"
        if breaker == CONSECUTIVE_LOSSES
        else f"the day's P&L reached USD {value:,.2f} (limit USD {threshold:,.2f})"
    )
    return Refusal(
        kind="circuit_breaker_open",
        check=breaker,
        severity=Severity.WARNING,
        reason=f"trading is paused until {when(until_ms)}: {what}",
        value=value,
        threshold=threshold,
        data={"until_ms": until_ms},
    )


def decision_outputs(
    names: Names, ctx: Context, env: Envelope[Message], signal: Signal, d: Decision
) -> list[Output]:
    sid = signal.signal_id
    common: dict[str, Any] = {"trace": sid, "symbol": signal.symbol, "signal_id": sid}
    if d.signal is not None:
        outs = [Output(names.signals, Envelope(id=sid, trace=sid, ts=env.ts, body=d.signal))]
        if d.resized:
            r = d.resized
            outs.append(
                ctx.event(
                    "signal_resized",
                    f"confidence {r['confidence']:g} is below {r['threshold']:g}: "
                    f"quantity {r['from']:g} -> {r['to']:g}",
                    event_id=f"bridge:resized:{sid}",
                    data=dict(r),
                    **common,
                )
            )
        if d.venues_down:
            outs.append(
                ctx.event(
                    "signal_venues_limited",
                    f"sent to {', '.join(d.signal.venues)} only: {', '.join(d.venues_down)} not connected",
                    severity=Severity.WARNING,
                    event_id=f"bridge:venues:{sid}",
                    data={"venues": list(d.signal.venues), "paused": list(d.venues_down)},
                    **common,
                )
            )
        return outs
    refusal = d.refusal
    if refusal is None:
        raise ValueError(f"decision for {sid} has neither a signal nor a refusal")
    ex = Execution(
        signal_id=sid,
        symbol=signal.symbol,
        side=signal.side,
        quantity=signal.quantity,
        status=OrderStatus.REJECTED,
        final=True,
        reference_price=signal.reference_price,
        reason=f"{refusal.check}: {refusal.reason}",
    )
    return [
        ctx.event(
            refusal.kind,
            refusal.reason,
            severity=refusal.severity,
            event_id=f"bridge:{refusal.kind}:{sid}",
            data=refusal.event_data(),
            **common,
        ),
        Output(names.executions, Envelope(id=f"{sid}:bridge", trace=sid, ts=env.ts, body=ex)),
    ]


def trip_event(ctx: Context, ex: Execution, t: Trip) -> Output:
    """The critical event of a breaker that tripped on `ex` (its id derived from the trip)."""
    what = (
        f"{t.value:g} losing trades in a row"
        if t.breaker == CONSECUTIVE_LOSSES
        else f"the day's realized P&L is USD {t.value:,.2f}, at or below USD {t.threshold:,.2f}"
    )
    return ctx.event(
        "circuit_breaker_tripped",
        f"{what}: new signals paused until {when(t.until_ms)}",
        severity=Severity.CRITICAL,
        event_id=f"bridge:tripped:{t.breaker}:{t.trip_id}",
        trace=ex.signal_id,
        symbol=ex.symbol,
        signal_id=ex.signal_id,
        data={"check": t.breaker, "value": t.value, "threshold": t.threshold, "until_ms": t.until_ms},
    )
