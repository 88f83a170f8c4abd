"""Is a venue report possible? Pure, and plain comparisons only: it runs for every fill.

- `report_problem`: what its own figures rule out, whatever its leg (the normalizer asks, at the edge):
  a negative, infinite or NaN quantity, a fill (last_qty > 0) with a status other than filled or
  partially filled, or with no (finite) price, or more than its own cumulative quantity; a filled
  status with nothing filled.
- `leg_problem`: what the leg it claims rules out (the fills stage asks, where the route is known): an
  unknown client order id, another venue or side, a cumulative quantity above the order's, fills that
  add up to more than the highest cumulative quantity reported (it went down, or a fill came twice).
  The last is order-insensitive: fills of one leg may reach the stage out of order (two normalizer
  consumers), and a legitimate history never has its fills exceed its highest cumulative quantity.

An impossible report raises `ImpossibleFill`: the processor dead-letters it at once (a retry would
fail the same way), its input's hook (`refused_fill`) raises an event, and no position moves.
"""

from __future__ import annotations

from nexus_gateway.fills.aggregate import SignalState
from nexus_mesh.context import Context
from nexus_mesh.deadletter import Rejected
from nexus_mesh.publish import Output
from nexus_protocol.enums import OrderStatus, Severity
from nexus_protocol.errors import DecodeError
from nexus_protocol.ids import parse_client_order_id, signal_id_problem
from nexus_protocol.messages import Fill

_EPS = 1e-9
_INF = float("inf")  # `_INF > x >= 0` is False for NaN too: plain comparisons, no call
_FILLING = frozenset({OrderStatus.FILLED, OrderStatus.PARTIALLY_FILLED})


class ImpossibleFill(DecodeError):
    """A venue report that cannot be true of the leg it claims: dead-lettered, never applied."""


def report_problem(fill: Fill) -> str | None:
    """Why `fill` is impossible on its own figures, or None."""
    last, cum, leaves = fill.last_qty, fill.cum_qty, fill.leaves_qty
    if not (_INF > last >= 0 and _INF > cum >= 0) or (leaves is not None and not _INF > leaves >= 0):
        return f"negative or no number (last_qty {last:g}, cum_qty {cum:g}, leaves_qty {leaves})"
    if last > 0:
        if fill.status not in _FILLING:
            return f"a fill of {last:g} with status {fill.status.value}"
        price = fill.last_price
        if price is None or not -_INF < price < _INF:
            return f"a fill of {last:g} without a price (last_price {price})"
        if last > cum + _EPS:
            return f"last_qty {last:g} is more than cum_qty {cum:g}"
    elif fill.status in _FILLING and cum <= 0:
        return f"status {fill.status.value} with nothing filled (last_qty {last:g}, cum_qty {cum:g})"
    return None


def awaits_route(state: SignalState | None, fill: Fill) -> bool:
    """A fill that may come before its route: the stage has not seen the signal's route, and the client
    order id is one the router derives from that signal's id (with several consumers of nx:{fills}, the
    route can still be with another one, or pending after its crash, when its fills are read)."""
    if state is not None and state.route_seen:
        return False
    try:
        signal, _venue, _attempt = parse_client_order_id(fill.client_order_id)
    except DecodeError:
        return False
    return signal == fill.signal_id and signal_id_problem(signal) is None


def leg_problem(state: SignalState | None, fill: Fill) -> str | None:
    """Why `fill` is impossible for the leg it claims (`state`: its signal's, None when unknown)."""
    coid = fill.client_order_id
    leg = state.legs.get(coid) if state is not None and state.route_seen else None
    if state is None or leg is None:
        return f"unknown client order id {coid!r}: no routed leg of signal {fill.signal_id!r} has it"
    if fill.venue != leg.venue:
        return f"{coid} was routed to {leg.venue}, not {fill.venue}"
    if fill.side is not state.side:
        return f"{coid} is a {state.side.value} order, the report says {fill.side.value}"
    if fill.last_qty <= 0:
        return None  # a state report moves nothing
    factor = fill.qty_factor or leg.qty_factor
    ordered = leg.quantity * leg.ratio * factor  # venue units; the venue's lot step only rounds down
    if fill.cum_qty > ordered * (1 + _EPS) + _EPS:
        return f"cum_qty {fill.cum_qty:g} is more than the order's {ordered:g} ({leg.venue} units)"
    filled = leg.venue_filled_qty + fill.last_qty
    if filled > max(leg.cum_qty, fill.cum_qty) + _EPS:
        return (
            f"fills of {coid} would add up to {filled:g}, more than the highest cumulative quantity "
            f"reported ({max(leg.cum_qty, fill.cum_qty):g}): cum_qty went down or a fill came twice"
        )
    return None


def refused_fill(r: Rejected, ctx: Context) -> list[Output]:
    """The event for a dead-lettered fill: an operator compares the venue's own fills with positions."""
    fill = r.envelope.body if r.envelope is not None else None
    ids = (
        {"signal_id": fill.signal_id, "client_order_id": fill.client_order_id, "venue": fill.venue}
        if isinstance(fill, Fill)
        else {}
    )
    what = f"{fill.venue} {fill.client_order_id}" if isinstance(fill, Fill) else f"entry {r.entry_id}"
    return [
        ctx.event(
            "fill_refused",
            f"report {what} on {r.stream} dead-lettered, no position moved: {r.reason}"[:2000],
            severity=Severity.CRITICAL,
            event_id=f"fill_refused:{r.stream}/{r.entry_id}",
            data={"stream": r.stream, "entry_id": r.entry_id},
            **ids,
        )
    ]
