"""The rollover decisions and the messages they publish: pure functions, no Redis.

`decide(rule, today, current)` says whether a root's active contract changes; `roll_outputs` gives the
ContractRoll and the Event for a change, with ids derived from root + contract so a restart or a
second instance publishes nothing twice. `open_positions` reads the fills aggregator's position hash
for the position events of a roll.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Collection, Mapping
from dataclasses import dataclass

import msgpack

from nexus_gateway.rollover.calendar import RollRule, active_contract, expiry, previous_contract, roll_date
from nexus_mesh.publish import Output
from nexus_protocol.codec import Envelope
from nexus_protocol.enums import Severity, Side
from nexus_protocol.errors import DecodeError
from nexus_protocol.ids import derived_signal_id
from nexus_protocol.messages import ContractRoll, Event, Signal
from nexus_protocol.streams import Names
from nexus_protocol.symbols import Contract

__all__ = [
    "Ahead",
    "Change",
    "RollPosition",
    "ahead_event",
    "decide",
    "open_positions",
    "parse_quantity",
    "position_events",
    "roll_outputs",
    "roll_signals",
]

_QTY_KEYS = ("qty", "quantity", "position", "net_qty", "net")


@dataclass(frozen=True, slots=True)
class Change:
    """`root`'s active contract becomes `contract` (from `previous`, None for the first value)."""

    root: str
    contract: Contract
    previous: str | None
    roll_date: dt.date  # the first day on which `contract` is the active one
    expiry: dt.date


@dataclass(frozen=True, slots=True)
class Ahead:
    """The hash holds a later contract than the calendar's: kept (never roll backwards), reported."""

    root: str
    current: Contract
    calendar: Contract


def decide(rule: RollRule, today: dt.date, current: str | None) -> Change | Ahead | None:
    """What to do about `rule.root` on `today` when the hash holds `current` (None: nothing yet)."""
    active = active_contract(rule, today)
    if current == active.code:
        return None
    if current is not None:
        try:
            held = Contract.parse(current)
        except DecodeError:
            held = None  # not a contract code: overwrite it
        if held is not None and held.root == rule.root and held > active:
            return Ahead(rule.root, held, active)
    became_active = roll_date(previous_contract(active, rule), rule)
    return Change(rule.root, active, current, became_active, expiry(active, rule))


def roll_outputs(change: Change, names: Names, service: str) -> list[Output]:
    """The history entry and the event of a change, ids derived from root + contract."""
    code = change.contract.code
    roll = ContractRoll(
        root=change.root,
        contract=code,
        previous=change.previous,
        roll_date=change.roll_date.isoformat(),
        expiry=change.expiry.isoformat(),
    )
    roll_id = f"{change.root}:{code}"
    was = f"{change.previous} -> " if change.previous else ""
    event = Event(
        kind="contract_roll",
        severity=Severity.INFO,
        source=service,
        symbol=change.root,
        message=f"{change.root}: {was}{code} (active from {change.roll_date}, expires {change.expiry})",
        data={
            "root": change.root,
            "contract": code,
            "previous": change.previous,
            "roll_date": roll.roll_date,
            "expiry": roll.expiry,
        },
    )
    return [
        Output(names.contract_history, Envelope.new(roll, id=roll_id)),
        Output(names.events, Envelope.new(event, id=f"contract_roll:{roll_id}", trace=roll_id)),
    ]


def ahead_event(ahead: Ahead, names: Names, service: str) -> Output:
    held, cal = ahead.current.code, ahead.calendar.code
    event = Event(
        kind="contract_ahead",
        severity=Severity.WARNING,
        source=service,
        symbol=ahead.root,
        message=f"{ahead.root}: {names.contracts} holds {held}, later than the calendar's {cal}; kept "
        "(rollover never rolls back; HSET the calendar's contract to undo an early roll)",
        data={"root": ahead.root, "contract": held, "calendar": cal},
    )
    return Output(names.events, Envelope.new(event, id=f"contract_ahead:{ahead.root}:{held}:{cal}"))


@dataclass(frozen=True, slots=True)
class RollPosition:
    symbol: str
    venue: str
    quantity: float | None  # signed universal quantity; None when the entry could not be read


def parse_quantity(raw: bytes | str) -> float | None:
    """A position entry's signed quantity: JSON or msgpack, a number or a mapping with `qty`-like key."""
    value: object = None
    data = raw.encode() if isinstance(raw, str) else raw
    try:
        value = json.loads(data)
    except ValueError:
        try:
            value = msgpack.unpackb(data, raw=False)
        except Exception:
            return None
    factor = 1.0
    if isinstance(value, Mapping):
        factor = float(value.get("qty_factor") or 1.0)  # the fills aggregator keeps venue units
        value = next((value[k] for k in _QTY_KEYS if k in value), None)
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        return None
    try:
        return float(value) / factor
    except ValueError:
        return None


def open_positions(
    raw: Mapping[bytes, bytes] | Mapping[str, str],
    root: str,
    old_contract: str,
    dated_venues: Collection[str],
) -> list[RollPosition]:
    """Non-flat positions in `old_contract`: fields "{symbol}|{venue}|{contract}" (the fills aggregator's
    keys; "{symbol}|{venue}" is read too) whose contract is the old one, on a venue that trades the root
    as a dated contract (a CFD does not roll).
    An entry that cannot be read is kept (quantity None): better a needless warning than none."""
    found: list[RollPosition] = []
    for key, value in raw.items():
        field = key.decode(errors="replace") if isinstance(key, bytes) else key
        symbol, sep, rest = field.partition("|")
        venue, _, contract = rest.partition("|")
        if not sep or symbol not in (root, old_contract) or venue not in dated_venues:
            continue
        if contract and contract != old_contract:
            continue
        qty = parse_quantity(value)
        if qty is None or abs(qty) > 1e-12:
            found.append(RollPosition(symbol, venue, qty))
    return sorted(found, key=lambda p: p.venue)


def roll_signals(change: Change, positions: list[RollPosition], names: Names, service: str) -> list[Output]:
    """Close each open position in the old contract and open it in the new one, on its own venue.

    Two signals per position, published in this order on nx:signals: the close (reduce-only, with the
    old contract named) and the open (the new contract). The router handles them in order, so the
    close's exposure counts first and the open passes position limits it would otherwise fail. Ids are
    derived from the roll (root, contracts, venue, leg) and its date, so a restart re-publishes nothing.
    """
    outs: list[Output] = []
    if change.previous is None:
        return outs
    new = change.contract.code
    day_ns = int(dt.datetime.combine(change.roll_date, dt.time(), dt.UTC).timestamp()) * 1_000_000_000
    for p in positions:
        if p.quantity is None or abs(p.quantity) < 1e-12:
            continue
        held = Side.BUY if p.quantity > 0 else Side.SELL
        base = f"roll:{change.root}:{change.previous}>{new}:{p.venue}"
        for leg, side, contract, reduce in (
            ("close", held.opposite, change.previous, True),
            ("open", held, new, False),
        ):
            sid = derived_signal_id(day_ns, f"{base}:{leg}")
            sig = Signal(
                signal_id=sid,
                symbol=change.root,
                side=side,
                quantity=abs(p.quantity),
                venues=(p.venue,),
                reduce_only=reduce,
                contract=contract,
                strategy="rollover",
            )
            outs.append(Output(names.signals, Envelope.new(sig, id=sid)))
        message = f"{change.root} on {p.venue}: rolling {p.quantity:g} from {change.previous} to {new}"
        event = _position_event("position_rolled", Severity.INFO, change, p, service, message)
        outs.append(Output(names.events, Envelope.new(event, id=f"position_rolled:{base}")))
    return outs


def _position_event(
    kind: str, severity: Severity, change: Change, p: RollPosition, service: str, message: str
) -> Event:
    data = {"root": change.root, "venue": p.venue, "from": change.previous, "to": change.contract.code}
    return Event(
        kind=kind,
        severity=severity,
        source=service,
        symbol=change.root,
        venue=p.venue,
        message=message,
        data={**data, "quantity": p.quantity},
    )


def position_events(
    change: Change, positions: list[RollPosition], names: Names, service: str
) -> list[Output]:
    """One warning per open position the roll leaves in the old contract."""
    outs: list[Output] = []
    new = change.contract.code
    for p in positions:
        size = "an unreadable quantity" if p.quantity is None else f"{p.quantity:g}"
        message = (
            f"{change.root}: {size} open on {p.venue} in {change.previous}, which rolled to {new}; "
            "roll it by hand (automatic position roll is not implemented, see docs/rollover.md)"
        )
        event = _position_event("position_roll_required", Severity.WARNING, change, p, service, message)
        event_id = f"position_roll:{change.root}:{change.previous}>{new}:{p.venue}"
        outs.append(Output(names.events, Envelope.new(event, id=event_id)))
    return outs
