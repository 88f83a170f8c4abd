"""One signal's legs folded into one execution report (pure: no Redis).

The router's Route names every leg (routed or refused); venue reports update them. The execution is
final when the route is known and every leg is terminal. Each leg reports its average price in its
own instrument and its slippage against that venue's quote at routing time; the combined price is
the signal's reference price plus the exposure-weighted average slippage (docs/design.md, Sizing), or,
without reference prices, the exposure-weighted average of the legs' prices. Sums are plain floats;
money is rounded to the cent once, in the execution report.
"""

from __future__ import annotations

import msgspec

from nexus_gateway.fills.positions import QTY_DIGITS, cents, usd
from nexus_protocol.enums import OrderStatus, Side
from nexus_protocol.messages import Execution, Fill, Leg, Route


class LegState(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    venue: str
    client_order_id: str
    status: OrderStatus = OrderStatus.PENDING
    reason: str | None = None
    quantity: float = 0.0  # universal, as routed
    rounding_residual: float = 0.0  # universal units the venue's lot step left out of `quantity`
    ratio: float = 1.0  # units of the leg's root per unit of the signal's (a mapped NQ -> MNQ leg: 10)
    venue_symbol: str | None = None
    contract: str | None = None
    currency: str = "USD"
    qty_factor: float = 1.0
    point_value: float = 1.0
    venue_reference_price: float | None = None
    venue_filled_qty: float = 0.0
    cum_qty: float = 0.0  # the highest cumulative quantity a fill of the leg reported (venue units)
    notional: float = 0.0  # sum of qty x price, venue units
    fees_usd: float = 0.0
    realized_pnl_usd: float = 0.0
    usd_rate: float | None = None

    @property
    def filled(self) -> float:
        return self.venue_filled_qty

    @property
    def avg_price(self) -> float | None:
        return self.notional / self.venue_filled_qty if self.venue_filled_qty else None

    @property
    def universal_filled(self) -> float:
        return self.venue_filled_qty / self.qty_factor / self.ratio


class HeldFill(msgspec.Struct, kw_only=True):
    """A fill that came before its signal's route (another consumer of nx:{fills} still had the route):
    its entry as it was read, applied or refused once the route is here."""

    fill_id: str
    entry_id: str
    fields: dict[str, bytes]
    stream: str = ""  # the fills stream it was read from ("": the default partition's)


class SignalState(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    signal_id: str
    symbol: str
    side: Side
    quantity: float = 0.0
    reference_price: float | None = None
    route_seen: bool = False
    reason: str | None = None
    legs: dict[str, LegState] = msgspec.field(default_factory=dict)
    applied: list[str] = msgspec.field(default_factory=list)  # ids of the fills already counted
    origin_ns: int | None = None  # the signal's origin time (from its route), for end-to-end latency
    held: list[HeldFill] = msgspec.field(default_factory=list)  # fills waiting for the route

    @property
    def final(self) -> bool:
        return self.route_seen and all(leg.status.terminal for leg in self.legs.values())


_ENCODER = msgspec.msgpack.Encoder()
_STATE = msgspec.msgpack.Decoder(SignalState, strict=False)  # not strict: older states held strings


def dump_state(s: SignalState) -> bytes:
    return _ENCODER.encode(s)


def load_state(raw: bytes | None) -> SignalState | None:
    return _STATE.decode(raw) if raw is not None else None


def apply_route(state: SignalState | None, route: Route) -> SignalState:
    s = state or SignalState(signal_id=route.signal_id, symbol=route.symbol, side=route.side)
    s.quantity, s.reference_price, s.route_seen, s.reason = (
        route.quantity,
        route.reference_price,
        True,
        route.reason,
    )
    for rl in route.legs:
        leg = s.legs.setdefault(
            rl.client_order_id, LegState(venue=rl.venue, client_order_id=rl.client_order_id)
        )
        leg.quantity = rl.quantity if rl.quantity is not None else route.quantity
        leg.rounding_residual = rl.rounding_residual
        leg.ratio = rl.ratio
        if rl.status is OrderStatus.REJECTED or leg.status is OrderStatus.PENDING:
            leg.status, leg.reason = rl.status, rl.reason
    return s


def apply_fill(state: SignalState | None, fill: Fill, realized_usd: float) -> SignalState:
    s = state or SignalState(signal_id=fill.signal_id, symbol=fill.symbol or "", side=fill.side)
    leg = s.legs.setdefault(
        fill.client_order_id, LegState(venue=fill.venue, client_order_id=fill.client_order_id)
    )
    if fill.venue_symbol:
        leg.venue_symbol = fill.venue_symbol
    leg.contract = fill.contract or leg.contract
    leg.currency = fill.currency
    leg.qty_factor = fill.qty_factor or leg.qty_factor
    leg.point_value = fill.point_value or leg.point_value
    if fill.venue_reference_price is not None:
        leg.venue_reference_price = fill.venue_reference_price
    leg.usd_rate = fill.usd_rate if fill.usd_rate is not None else leg.usd_rate
    if fill.last_qty > 0 and fill.last_price is not None:
        leg.venue_filled_qty = round(leg.venue_filled_qty + fill.last_qty, QTY_DIGITS)
        leg.cum_qty = max(leg.cum_qty, fill.cum_qty)
        leg.notional += fill.last_qty * fill.last_price
    if fill.fee:
        leg.fees_usd += fill.fee_usd if fill.fee_usd is not None else usd(fill.fee, fill.usd_rate)
    leg.realized_pnl_usd += realized_usd
    if not (leg.status.terminal and not fill.status.terminal):  # a late "accepted" never reopens a leg
        leg.status = fill.status
    if fill.reason:
        leg.reason = fill.reason
    s.applied.append(fill.fill_id)
    return s


def _status(s: SignalState) -> OrderStatus:
    legs = list(s.legs.values())
    if not legs:
        return OrderStatus.REJECTED if s.route_seen else OrderStatus.PENDING
    if all(leg.status is OrderStatus.REJECTED for leg in legs):
        return OrderStatus.REJECTED
    filled_any = any(leg.filled > 0 for leg in legs)
    if s.final:
        if all(leg.status is OrderStatus.FILLED for leg in legs):
            return OrderStatus.FILLED
        return OrderStatus.PARTIALLY_FILLED if filled_any else OrderStatus.CANCELLED
    if filled_any:
        return OrderStatus.PARTIALLY_FILLED
    return (
        OrderStatus.ACCEPTED
        if any(leg.status is OrderStatus.ACCEPTED for leg in legs)
        else OrderStatus.PENDING
    )


def _leg(leg: LegState, side: Side) -> Leg:
    avg = leg.avg_price
    slip = slip_usd = None
    if avg is not None and leg.venue_reference_price is not None:
        slip = round((avg - leg.venue_reference_price) * side.sign, 10)  # positive: paid more than the quote
        slip_usd = usd(slip * leg.point_value * leg.filled, leg.usd_rate)
    return Leg(
        venue=leg.venue,
        client_order_id=leg.client_order_id,
        status=leg.status,
        venue_symbol=leg.venue_symbol,
        contract=leg.contract,
        quantity=leg.quantity,
        filled_quantity=leg.universal_filled,
        venue_filled_qty=leg.filled,
        avg_price=avg,
        currency=leg.currency,
        slippage_points=slip,
        slippage_usd=slip_usd,
        fees_usd=cents(leg.fees_usd),
        realized_pnl_usd=cents(leg.realized_pnl_usd),
        rounding_residual=leg.rounding_residual,
        reason=leg.reason,
    )


def execution(s: SignalState) -> Execution:
    legs = [_leg(leg, s.side) for leg in s.legs.values()]
    weights = [(leg, leg.filled_quantity) for leg in legs if leg.filled_quantity > 0]
    total = sum(w for _, w in weights)
    avg: float | None = None
    if total:
        if s.reference_price is not None and all(leg.slippage_points is not None for leg, _ in weights):
            slip = sum((leg.slippage_points or 0.0) * w for leg, w in weights) / total
            avg = s.reference_price + slip * s.side.sign
        else:
            avg = sum((leg.avg_price or 0.0) * w for leg, w in weights) / total
    reasons = [
        f"{leg.venue}: {leg.reason}" for leg in legs if leg.reason and leg.status is OrderStatus.REJECTED
    ]
    return Execution(
        signal_id=s.signal_id,
        symbol=s.symbol,
        side=s.side,
        quantity=s.quantity,
        status=_status(s),
        final=s.final,
        filled_quantity=total,
        avg_price=avg,
        reference_price=s.reference_price,
        realized_pnl_usd=cents(sum(leg.realized_pnl_usd for leg in legs)),
        fees_usd=cents(sum(leg.fees_usd for leg in legs)),
        legs=tuple(legs),
        reason=s.reason or ("; ".join(reasons) if reasons else None),
    )
