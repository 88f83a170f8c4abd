"""The signal filters, pure: a signal and the thresholds in, the signal to send (maybe smaller) or a
refusal out. No Redis here; the service (`service.py`) runs them before any state is touched.

Order: confidence floor, MQScore composite, noise level, then the reduced-size band (a signal the
quality gate refuses is refused for that, not for its size). A refusal carries the filter's name,
the value it saw and the threshold it broke, which become the `signal_filtered` event's data.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import msgspec

from nexus_bridge.config import BridgeConfig, LotSize
from nexus_protocol.enums import Severity
from nexus_protocol.messages import Signal
from nexus_protocol.symbols import SymbolRegistry, round_to_step


class Refusal(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """Why the bridge did not send a signal; becomes an Event and a rejected Execution."""

    kind: str  # the event kind: signal_filtered, duplicate_signal, circuit_breaker_open, venue_unavailable
    check: str  # the filter or breaker: confidence, mqscore, noise, min_quantity, consecutive_losses, ...
    reason: str
    value: float | str | None = None
    threshold: float | str | None = None
    severity: Severity = Severity.INFO
    data: dict[str, Any] = msgspec.field(default_factory=dict)

    def event_data(self) -> dict[str, Any]:
        key = "filter" if self.kind == "signal_filtered" else "check"
        return {key: self.check, "value": self.value, "threshold": self.threshold, **self.data}


@dataclass(frozen=True, slots=True)
class Screened:
    signal: Signal | None  # what to send on (None: refused)
    refusal: Refusal | None = None
    resized_from: float | None = None  # the quantity asked, when the confidence band reduced it
    notes: dict[str, Any] = field(default_factory=dict)


def lot_for(registry: SymbolRegistry, root: str, overrides: dict[str, LotSize]) -> LotSize:
    """The root's lot in universal units: configured, else the largest venue lot (so a reduced size is
    whole on every venue that lists the root; 1 for futures), else one unit for unknown roots."""
    if root in overrides:
        return overrides[root]
    spec = registry.symbols.get(root)
    if spec is None or not spec.venues:
        return LotSize()
    steps, mins = [], []
    for venue, vs in spec.venues.items():
        factor = spec.qty_factor(venue)
        steps.append(vs.lot_step / factor)
        mins.append((vs.min_qty or vs.lot_step) / factor)
    return LotSize(step=max(steps), min_qty=max(mins))


def _filtered(check: str, reason: str, value: float | None, threshold: float) -> Screened:
    return Screened(
        None, Refusal(kind="signal_filtered", check=check, reason=reason, value=value, threshold=threshold)
    )


def screen(signal: Signal, cfg: BridgeConfig, lot: LotSize) -> Screened:
    """Apply the confidence filter, the MQScore quality gate and the reduced-size band."""
    conf = signal.confidence
    if conf is None:
        return _filtered("confidence", "the signal carries no confidence", None, cfg.confidence_min)
    if conf < cfg.confidence_min:
        return _filtered(
            "confidence",
            f"confidence {conf:g} is below the floor of {cfg.confidence_min:g}",
            conf,
            cfg.confidence_min,
        )
    if signal.mqscore is None:
        if cfg.require_mqscore:
            return _filtered("mqscore", "the signal carries no MQScore composite", None, cfg.mqscore_min)
    elif signal.mqscore < cfg.mqscore_min:
        return _filtered(
            "mqscore",
            f"MQScore composite {signal.mqscore:g} is below {cfg.mqscore_min:g}",
            signal.mqscore,
            cfg.mqscore_min,
        )
    if signal.noise is not None and signal.noise > cfg.noise_max:
        return _filtered(
            "noise",
            f"MQScore noise level {signal.noise:g} is above {cfg.noise_max:g}",
            signal.noise,
            cfg.noise_max,
        )
    if conf >= cfg.confidence_full_size:
        return Screened(signal)
    asked = signal.quantity
    scaled = asked * cfg.reduced_size_factor
    qty = round_to_step(scaled, lot.step)
    if qty < lot.minimum - 1e-12:
        return _filtered(
            "min_quantity",
            f"confidence {conf:g} is below {cfg.confidence_full_size:g}: {asked:g} x "
            f"{cfg.reduced_size_factor:g} = {scaled:g} is less than one lot ({lot.minimum:g})",
            scaled,
            lot.minimum,
        )
    notes = {
        "confidence": conf,
        "threshold": cfg.confidence_full_size,
        "from": asked,
        "to": qty,
        "lot": lot.step,
    }
    return Screened(signal.replace(quantity=qty), resized_from=asked, notes=notes)
