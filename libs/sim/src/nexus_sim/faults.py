"""Fault and latency injection for a simulated venue, as data.

A `FaultConfig` (frozen, loadable from a dict, e.g. a YAML file or test parameters) describes what goes
wrong; a `Faults` object holds the live counters and can be re-armed at run time by tests. The matching
engine consults it at fixed points and stays synchronous: latency is a time before which the engine will
not acknowledge or fill, measured on the engine's `Clock` (sim time with a `ManualClock`, real
nanoseconds with a `SystemClock`).

Disconnects: the engine cannot drop a connection, so it asks `should_disconnect(event)` and, when a rule
fires, every callback registered with `on_disconnect` is called with the event; the platform simulator's
callback closes its socket, so whatever reports it was about to send are lost exactly as on a real drop.
Events the engine consults (`FaultEvent`):

- `before_submit`: the request is lost on the way; the venue never sees it (`submit` returns []).
- `after_submit`: the venue processed the request (acknowledged, maybe filled); the response is lost.
- `before_fill`: a fill was executed; the connection drops before its report goes out.
- `before_cancel` / `after_cancel`: the same for cancel and cancel-replace requests.

`after_fill` and any other string are for the platform simulator to consult at its own points.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from nexus_sim.model import RejectReason


class FaultEvent(StrEnum):
    BEFORE_SUBMIT = "before_submit"
    AFTER_SUBMIT = "after_submit"
    BEFORE_FILL = "before_fill"
    AFTER_FILL = "after_fill"
    BEFORE_CANCEL = "before_cancel"
    AFTER_CANCEL = "after_cancel"


@dataclass(frozen=True, kw_only=True, slots=True)
class DisconnectRule:
    """Fire on occurrences `skip + 1` .. `skip + times` of `event` (counted per rule)."""

    event: str
    skip: int = 0
    times: int = 1


@dataclass(frozen=True, kw_only=True, slots=True)
class FaultConfig:
    ack_latency_ns: int = 0  # from submit until the venue processes (acks or rejects) the order
    fill_latency_ns: int = 0  # from the acknowledgement until the order may first fill
    reject_next: int = 0  # reject this many of the next orders, before any other check ...
    reject_reason: RejectReason = RejectReason.VENUE_REJECTED  # ... with this reason
    reject_text: str = "injected reject"
    requote_next: int = 0  # requote (reject with REQUOTE) this many of the next market orders
    disconnects: tuple[DisconnectRule, ...] = field(default_factory=tuple)

    def __post_init__(self) -> None:
        for name in ("ack_latency_ns", "fill_latency_ns", "reject_next", "requote_next"):
            if getattr(self, name) < 0:
                raise ValueError(f"{name} must be >= 0")

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> FaultConfig:
        """Build from plain data: `reject_reason` as its string value, `disconnects` as a list of dicts
        (`{"event": "before_fill", "skip": 2}`); `*_latency_ms` keys are accepted and converted."""
        values = dict(data)
        for name in ("ack_latency", "fill_latency"):
            if f"{name}_ms" in values:
                values[f"{name}_ns"] = round(float(values.pop(f"{name}_ms")) * 1_000_000)
        unknown = set(values) - set(cls.__dataclass_fields__)
        if unknown:
            raise ValueError(f"unknown fault settings: {sorted(unknown)}")
        if "reject_reason" in values:
            values["reject_reason"] = RejectReason(values["reject_reason"])
        if "disconnects" in values:
            values["disconnects"] = tuple(
                rule if isinstance(rule, DisconnectRule) else DisconnectRule(**rule)
                for rule in values["disconnects"]
            )
        return cls(**values)


@dataclass(slots=True)
class _LiveRule:
    rule: DisconnectRule
    seen: int = 0


class Faults:
    """Live fault state for one engine."""

    def __init__(self, config: FaultConfig | None = None) -> None:
        self._config = config if config is not None else FaultConfig()
        self._callbacks: list[Callable[[str], None]] = []
        self.reset()

    def reset(self) -> None:
        """Back to the configured state (counters re-armed, latency as configured)."""
        c = self._config
        self.ack_latency_ns = c.ack_latency_ns
        self.fill_latency_ns = c.fill_latency_ns
        self._rejects: list[tuple[RejectReason, str]] = [(c.reject_reason, c.reject_text)] * c.reject_next
        self._requotes = c.requote_next
        self._rules = [_LiveRule(rule) for rule in c.disconnects]
        self.disconnects_fired = 0

    def clear(self) -> None:
        """No faults at all from now on (callbacks stay registered)."""
        self.ack_latency_ns = 0
        self.fill_latency_ns = 0
        self._rejects.clear()
        self._requotes = 0
        self._rules.clear()

    def __repr__(self) -> str:
        return (
            f"Faults(ack_latency_ns={self.ack_latency_ns}, fill_latency_ns={self.fill_latency_ns}, "
            f"rejects_armed={len(self._rejects)}, requotes_armed={self._requotes}, "
            f"disconnect_rules={len(self._rules)}, disconnects_fired={self.disconnects_fired})"
        )

    @property
    def config(self) -> FaultConfig:
        return self._config

    # -- arming at run time --------------------------------------------------------------------------

    def set_latency(self, *, ack_ns: int | None = None, fill_ns: int | None = None) -> None:
        if ack_ns is not None:
            self.ack_latency_ns = ack_ns
        if fill_ns is not None:
            self.fill_latency_ns = fill_ns

    def reject_next(
        self,
        count: int = 1,
        reason: RejectReason = RejectReason.VENUE_REJECTED,
        text: str = "injected reject",
    ) -> None:
        self._rejects.extend([(reason, text)] * count)

    def requote_next(self, count: int = 1) -> None:
        self._requotes += count

    def disconnect_on(self, event: str, *, skip: int = 0, times: int = 1) -> None:
        self._rules.append(_LiveRule(DisconnectRule(event=event, skip=skip, times=times)))

    def on_disconnect(self, callback: Callable[[str], None]) -> None:
        """Register a callback run (with the event) whenever a disconnect rule fires."""
        self._callbacks.append(callback)

    # -- consulted by the engine / the platform simulator --------------------------------------------

    def take_reject(self) -> tuple[RejectReason, str] | None:
        """The next injected reject, consuming it; None when none is armed."""
        return self._rejects.pop(0) if self._rejects else None

    def take_requote(self) -> bool:
        if self._requotes > 0:
            self._requotes -= 1
            return True
        return False

    def should_disconnect(self, event: str) -> bool:
        """Count one occurrence of `event`; True (after running the callbacks) if a rule fires."""
        fired = False
        for live in self._rules:
            if live.rule.event != event:
                continue
            live.seen += 1
            if live.rule.skip < live.seen <= live.rule.skip + live.rule.times:
                fired = True
        if fired:
            self.disconnects_fired += 1
            for callback in list(self._callbacks):
                callback(event)
        return fired
