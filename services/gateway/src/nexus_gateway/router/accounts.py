"""What one venue account makes of a signal, pure: its session filter, its size, its share of the
net exposure cap (venues.yaml `sessions`, `sizing`; risk.yaml `max_net_exposure_usd*`).

`plan_leg` runs after the venue-level checks (order type, can trade, connected) and before the
position limits, which then judge the size this account will really carry:

1. Session: outside the account's session for the root, a leg that adds exposure is refused with the
   hours it trades; a reduce-only leg passes (a filter never traps a position).
2. Sizing (`sizing.size_leg`): the target in universal units, what the venue's lot step makes of it and
   the residual. An account with a `symbol_map` (NQ: MNQ) trades the mapped root at equal exposure
   (10 MNQ for 1 NQ, by point value); the leg's figures stay in the signal's units. A reduce-only
   leg sized by a mode other than exposure is cut to the position it closes, so an exit never opens
   the other side.
3. The net exposure cap (`exposure.CapBook`), after the position limits: see `admit`.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, replace

from nexus_gateway.router.exposure import CapBook, Caps
from nexus_gateway.router.limits import Limits
from nexus_gateway.router.sessions import ExchangeOpen, rule_for, session_refusal
from nexus_gateway.router.sizing import LegInputs, LegSize, SizingRefused, size_leg
from nexus_gateway.router.state import Snapshot
from nexus_mesh.accounts import ExposureSizing
from nexus_mesh.venues import VenueConfig
from nexus_protocol.enums import OrderType
from nexus_protocol.messages import Signal
from nexus_protocol.symbols import RootSpec, SymbolRegistry

UsdPerUnit = Callable[[str], float | None]  # currency -> USD per one unit of it


@dataclass(frozen=True, slots=True)
class LegPlan:
    size: LegSize  # in the signal's universal units
    carried: float  # universal units the venue quantity carries (target minus the residual)
    symbol: str  # the root the account trades: the signal's, or its symbol_map's (NQ -> MNQ)
    ratio: float = 1.0  # units of `symbol` per unit of the signal's root at equal exposure


def caps_configured(limits: Limits) -> bool:
    """Whether risk.yaml sets a net exposure cap at all (without one the book is not built)."""
    return (
        limits.max_net_exposure_usd is not None
        or limits.max_net_exposure_usd_per_symbol is not None
        or any(s.max_net_exposure_usd_per_symbol is not None for s in limits.per_symbol.values())
    )


def caps_of(limits: Limits, roots: list[str]) -> Caps:
    per_root = {r: c for r in roots if (c := limits.for_symbol(r, "max_net_exposure_usd_per_symbol"))}
    return Caps(total_usd=limits.max_net_exposure_usd, per_root_usd=per_root)


def cap_book(
    signal: Signal, snap: Snapshot, limits: Limits, registry: SymbolRegistry, usd: UsdPerUnit,
    own: dict[str, float],
) -> CapBook:  # fmt: skip
    """The book the cap judges this signal against: every venue's exposure less this signal's own
    legs already counted (a redelivery must not count itself twice)."""
    exposure = dict(snap.exposure)
    for key, qty in own.items():
        exposure[key] = exposure.get(key, 0.0) - qty
    roots = sorted({k.split("|", 1)[1] for k in exposure} | {signal.symbol})
    units: dict[str, float | None] = {}
    for root in roots:
        spec = registry.symbols.get(root)
        price = snap.last_prices.get(root)
        if root == signal.symbol and price is None:
            price = signal.limit_price or signal.reference_price
        rate = usd(spec.currency) if spec is not None else None
        units[root] = price * spec.point_value * rate if spec and price and rate else None
    return CapBook.of(caps_of(limits, roots), exposure, units)


def _exposure(
    signal: Signal, venue: str, spec: RootSpec, registry: SymbolRegistry
) -> LegPlan | tuple[str, str]:
    """Exposure sizing as the normalizer will do it (`SymbolRegistry.size`): same numbers, fewer steps."""
    sized = registry.size(signal.symbol, venue, signal.quantity)
    vs = spec.venues[venue]
    minimum = vs.min_qty or vs.lot_step
    if sized.venue_quantity < minimum - 1e-12:
        target = signal.quantity * spec.qty_factor(venue)
        return (
            "sizing",
            f"{venue}: exposure sizing gives {target:.6g} venue units, below the minimum {minimum:g}",
        )
    size = LegSize(signal.quantity, sized.venue_quantity, sized.residual)
    return LegPlan(size, signal.quantity - sized.residual, signal.symbol)


def equity_usd(snap: Snapshot, venue: str, usd: UsdPerUnit) -> float | None:
    """The account's equity in USD: as its adapter says, or converted from the account's currency at
    the rate the router values that currency's exposure with (None: no rate, no equity)."""
    if venue in snap.venue_equity_usd:
        return snap.venue_equity_usd[venue]
    if venue not in snap.venue_equity:
        return None
    amount, currency = snap.venue_equity[venue]
    rate = usd(currency)
    return None if rate is None else amount * rate


def entry_price(signal: Signal, snap: Snapshot) -> float | None:
    if signal.order_type is OrderType.LIMIT and signal.limit_price:
        return signal.limit_price
    if signal.order_type is OrderType.STOP and signal.stop_price:
        return signal.stop_price
    return signal.reference_price or snap.last_prices.get(signal.symbol)


def plan_leg(
    signal: Signal,
    venue: str,
    cfg: VenueConfig,
    snap: Snapshot,
    registry: SymbolRegistry,
    usd: UsdPerUnit,
    *,
    current: float,
    now: dt.datetime | None,
    exchange_open: ExchangeOpen,
) -> LegPlan | tuple[str, str]:
    """The leg's size, or (check, reason) when this account refuses it. `current`: the account's
    signed exposure in the root before this signal."""
    root = signal.symbol
    spec = registry.spec(root)
    if now is not None and not signal.reduce_only:
        why = session_refusal(
            rule_for(cfg.sessions, root), now, venue=venue, root=root,
            exchange_calendar=spec.exchange_calendar, exchange_open=exchange_open,
        )  # fmt: skip
        if why is not None:
            return "session", why
    if not cfg.symbol_map and type(cfg.sizing) is ExposureSizing and cfg.sizing.max_quantity is None:
        return _exposure(signal, venue, spec, registry)  # the common case, on the hot path
    symbol = cfg.symbol_map.get(root, root)
    traded = registry.spec(symbol)
    if traded.currency != spec.currency:
        return "symbol_map", f"{venue} maps {root} to {symbol}, quoted in another currency"
    ratio = spec.point_value / traded.point_value  # NQ (USD 20) -> MNQ (USD 2): 10 MNQ a NQ
    vs = traded.venues[venue]
    rate = usd(traded.venue_currency(venue))
    leg = LegInputs(
        quantity=signal.quantity,
        qty_factor=traded.qty_factor(venue) * ratio,
        usd_per_point=traded.venue_point_value(venue) * (rate or 0.0),
        lot_step=vs.lot_step,
        min_qty=vs.min_qty or vs.lot_step,
        entry_price=entry_price(signal, snap),
        stop_price=signal.stop_loss,
        equity_usd=equity_usd(snap, venue, usd),
    )
    if rate is None and cfg.sizing.mode == "risk":
        return "sizing", f"no USD rate for {traded.venue_currency(venue)} to size the risk at {venue}"
    try:
        size = size_leg(cfg.sizing, leg)
    except SizingRefused as exc:
        return "sizing", f"{venue}: {exc}"
    closes = -current * signal.side.sign  # the open position this signal's side reduces
    if signal.reduce_only and not isinstance(cfg.sizing, ExposureSizing) and size.target > closes:
        if closes <= 1e-12:
            return "sizing", f"{venue} has no {root} position for a reduce-only order to close"
        try:
            size = size_leg(ExposureSizing(), replace(leg, quantity=closes))
        except SizingRefused as exc:
            return "sizing", f"{venue}: {exc}"
    return LegPlan(size, size.venue_quantity / leg.qty_factor, symbol, ratio)
