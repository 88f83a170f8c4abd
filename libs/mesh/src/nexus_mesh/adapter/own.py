"""Orders an adapter makes itself, pure: the kill switch's closing orders (`flatten`), the resync's
booking of an outside trade and its resync order (`resync`).

Each is an ordinary leg of a signal of its own, a market order in the venue's terms built from the
symbol registry, with ids derived from what it stands for (never random), so doing the same work
again after a restart finds the same intents and asks the platform instead of sending twice. Its
`Route` tells the fill aggregator about the leg, as the router does for a signal (decision 0001), so
its execution becomes final.
"""

from __future__ import annotations

from nexus_protocol.enums import OrderStatus, OrderType, Side, TimeInForce
from nexus_protocol.errors import DecodeError
from nexus_protocol.ids import client_order_id, derived_signal_id
from nexus_protocol.messages import Route, RouteLeg, VenueOrder
from nexus_protocol.symbols import SymbolRegistry

EPS = 1e-9


def market_order(
    venue_symbol: str,
    signed_quantity: float,
    *,
    venue: str,
    ts_ns: int,
    seed: str,
    code: str,
    purpose: str,
    reduce_only: bool,
    registry: SymbolRegistry,
) -> VenueOrder:
    """A market order for `signed_quantity` venue units of `venue_symbol` (positive buys), its signal id
    stamped with `ts_ns` and fixed by `seed`; DecodeError when the registry does not know the symbol for
    this venue (the gateway could not book its fills) or there is nothing to trade."""
    root, contract = registry.parse(venue_symbol, venue)
    spec = registry.spec(root)
    qty, factor = abs(signed_quantity), spec.qty_factor(venue)
    if qty <= EPS or factor <= 0:
        raise DecodeError("nothing to trade", field="quantity", value=signed_quantity)
    signal_id = derived_signal_id(ts_ns, seed)
    return VenueOrder(
        client_order_id=client_order_id(signal_id, code), signal_id=signal_id, venue=venue,
        symbol=root, side=Side.BUY if signed_quantity > 0 else Side.SELL, quantity=qty / factor,
        order_type=OrderType.MARKET, time_in_force=TimeInForce.DAY, purpose=purpose, reduce_only=reduce_only,
        contract=contract.code if contract is not None else None, venue_symbol=venue_symbol,
        venue_quantity=qty, qty_factor=factor, currency=spec.venue_currency(venue),
        point_value=spec.venue_point_value(venue),
    )  # fmt: skip


def single_leg_route(order: VenueOrder) -> Route:
    """The order's signal as the fill aggregator learns of a routed signal: one pending leg."""
    leg = RouteLeg(venue=order.venue, client_order_id=order.client_order_id, status=OrderStatus.PENDING)
    return Route(signal_id=order.signal_id, symbol=order.symbol, side=order.side, quantity=order.quantity,
                 legs=(leg,))  # fmt: skip
