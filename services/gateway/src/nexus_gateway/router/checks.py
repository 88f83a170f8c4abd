"""Pre-trade risk and routing as one pure decision: a signal and a state snapshot in, a Route out.

Signal-level checks (throttle, order size, price collar) refuse the whole signal; leg-level checks
(venue trades it, order type, can trade, connected; the account's session and size, `accounts.py`;
the guards against new exposure, kill switch, daily trades and daily loss, which let through only a
leg that reduces that venue's position; position per symbol, total position, position value for that
size; the net exposure cap across every venue) refuse one venue and let the others go. Orders that only
reduce exposure pass the limits that guard against new exposure (loss, trades, position limits).
Every refusal carries its check name and reason; nothing is refused silently.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import partial
from typing import Any

from nexus_gateway.router.accounts import LegPlan, cap_book, caps_configured, plan_leg
from nexus_gateway.router.limits import Limits
from nexus_gateway.router.sessions import ExchangeOpen
from nexus_gateway.router.sessions import exchange_open as market_open
from nexus_gateway.router.state import Snapshot
from nexus_mesh.venues import VenueConfig
from nexus_protocol.enums import OrderStatus, OrderType
from nexus_protocol.ids import client_order_ids
from nexus_protocol.messages import Route, RouteLeg, Signal
from nexus_protocol.symbols import SymbolRegistry


@dataclass(frozen=True, slots=True)
class RiskRefusal:
    check: str
    reason: str
    venue: str | None = None


@dataclass(slots=True)
class RouteDecision:
    route: Route
    refusals: list[RiskRefusal] = field(default_factory=list)
    exposure: dict[str, tuple[str, float]] = field(default_factory=dict)  # coid -> (venue|symbol, signed qty)
    reducing: set[str] = field(default_factory=set)  # coids let through the kill switch: sent reduce_only


def candidate_venues(signal: Signal, venues: Mapping[str, VenueConfig]) -> list[str]:
    """Enabled venues that list the symbol (and that the signal asked for, if it named some)."""
    wanted = set(signal.venues)
    return [
        v
        for v, cfg in venues.items()
        if cfg.enabled and signal.symbol in cfg.symbols and (not wanted or v in wanted)
    ]


def _signal_refusal(
    signal: Signal, snap: Snapshot, limits: Limits, throttled: bool, age_s: float
) -> RiskRefusal | None:
    if age_s > limits.max_signal_age_s:
        return RiskRefusal(
            "stale_signal",
            f"signal is {age_s:.1f} s old (limit {limits.max_signal_age_s:g} s): "
            "the market has moved on since NEXUS decided",
        )
    if throttled:
        return RiskRefusal("throttle", f"more than {limits.throttle_per_second} signals in one second")
    max_qty = limits.for_symbol(signal.symbol, "max_order_qty")
    if signal.quantity > max_qty:
        return RiskRefusal("max_order_qty", f"quantity {signal.quantity:g} exceeds the limit of {max_qty:g}")
    last = snap.last_prices.get(signal.symbol)
    price = signal.limit_price if signal.order_type is OrderType.LIMIT else signal.reference_price
    if last and price:
        off_pct = abs(price - last) / last * 100
        if off_pct > limits.price_collar_pct:
            return RiskRefusal(
                "price_collar",
                f"price {price:g} is {off_pct:.2f}% from the last market price {last:g} "
                f"(collar {limits.price_collar_pct:g}%)",
            )
    return None


def _venue_refusal(
    signal: Signal, venue: str, cfg: VenueConfig, snap: Snapshot, limits: Limits
) -> RiskRefusal | None:
    if signal.order_type not in cfg.order_types:
        return RiskRefusal("order_type", f"{venue} does not take {signal.order_type.value} orders", venue)
    if not cfg.can_trade:
        return RiskRefusal(
            "venue_data_only", f"{venue} is connected for market data only; it cannot trade", venue
        )
    if snap.venue_can_trade.get(venue) is False:
        return RiskRefusal(
            "venue_data_only",
            f"{venue} is connected for market data only: the platform reports that this account cannot trade",
            venue,
        )
    if limits.require_venue_connected and not snap.venue_connected.get(venue, False):
        return RiskRefusal("venue_connected", f"{venue} is not connected (no live adapter heartbeat)", venue)
    return None


def reduces(current: float, after: float) -> bool:
    """True when a position going from `current` to `after` shrinks without crossing zero."""
    return abs(after) <= abs(current) + 1e-12 and (after * current >= 0 or abs(after) <= 1e-12)


def exposure_guards(signal: Signal, snap: Snapshot, limits: Limits) -> list[RiskRefusal]:
    """What stops new exposure now (the kill switch, the day's trades and loss): each leg is judged
    against them by its venue's position (`_guard_refusal`); a reduce_only signal passes the day's."""
    guards = []
    ks = snap.killswitch
    if ks is not None and ks.on:
        guards.append(RiskRefusal("kill_switch", f"kill switch is on: {ks.reason or 'no reason given'}"))
    if signal.reduce_only:
        return guards
    if not snap.counted_today and snap.trades_today >= limits.max_daily_trades:
        reason = f"{snap.trades_today} trades today reach the limit of {limits.max_daily_trades}"
        guards.append(RiskRefusal("max_daily_trades", reason))
    if snap.pnl_today_usd <= -limits.max_daily_loss_usd:
        reason = (
            f"today's P&L USD {snap.pnl_today_usd:,.2f} is at or below "
            f"the loss limit of USD -{limits.max_daily_loss_usd:,.2f}"
        )
        guards.append(RiskRefusal("max_daily_loss", reason))
    return guards


def _guard_refusal(
    signal: Signal, venue: str, carried: float, current: float, guards: list[RiskRefusal]
) -> RiskRefusal | None:
    """While a guard holds, a leg passes only if it reduces the venue's position (working orders
    included, as the router counts them): closing trades stay possible, new exposure is not."""
    if not guards:
        return None
    after = current + carried * signal.side.sign
    if reduces(current, after):
        return None
    g = guards[0]
    return RiskRefusal(
        g.check,
        f"{g.reason}; {signal.side.value} {carried:g} would take {venue} {signal.symbol} from {current:g} "
        f"to {after:g} (only trades that reduce a position pass)",
        venue,
    )


def _limit_refusal(
    signal: Signal,
    venue: str,
    qty: float,
    current: float,
    snap: Snapshot,
    limits: Limits,
    registry: SymbolRegistry,
    usd_per_unit: float | None,
) -> RiskRefusal | None:
    """The position limits, for the `qty` (universal units) this account will carry."""
    sym = signal.symbol
    after = current + qty * signal.side.sign
    if signal.reduce_only and abs(after) <= abs(current) + 1e-12:
        return None
    max_pos = limits.for_symbol(sym, "max_position_per_symbol")
    if abs(after) > max_pos + 1e-12:
        return RiskRefusal(
            "max_position_per_symbol",
            f"{venue} {sym} position would be {after:g} (limit {max_pos:g}, working orders included)",
            venue,
        )
    total = sum(
        abs(q) for k, q in snap.exposure.items() if k.startswith(f"{venue}|") and k != f"{venue}|{sym}"
    )
    if total + abs(after) > limits.max_total_position + 1e-12:
        return RiskRefusal(
            "max_total_position",
            f"{venue} total position would be {total + abs(after):g} (limit {limits.max_total_position:g})",
            venue,
        )
    price = signal.limit_price or signal.reference_price or snap.last_prices.get(sym)
    if price and usd_per_unit is not None:
        spec = registry.spec(sym)
        value = abs(after) * price * spec.point_value * usd_per_unit
        max_value = limits.for_symbol(sym, "max_position_value_usd")
        if value > max_value:
            return RiskRefusal(
                "max_position_value",
                f"{venue} {sym} position value would be USD {value:,.0f} (limit USD {max_value:,.0f})",
                venue,
            )
    return None


def usd_per_unit(currency: str, *, snap: Snapshot, limits: Limits) -> float | None:
    if currency == "USD":
        return 1.0
    if currency == "BRL":
        wdo = snap.last_prices.get("WDO")  # BRL per USD 1,000
        if wdo:
            return 1000.0 / wdo
    return limits.usd_per_unit_fallback.get(currency)


def decide(
    signal: Signal,
    snap: Snapshot,
    limits: Limits,
    venues: Mapping[str, VenueConfig],
    registry: SymbolRegistry,
    *,
    throttled: bool,
    age_s: float = 0.0,
    now: dt.datetime | None = None,
    exchange_open: ExchangeOpen = market_open,
    coids: Mapping[str, str] | None = None,
) -> RouteDecision:
    """`now` (UTC): the time session filters judge by (None: no session filter); `coids`: venue ->
    the leg's client order id, when the caller has them already."""
    base: dict[str, Any] = {
        "signal_id": signal.signal_id,
        "symbol": signal.symbol,
        "side": signal.side,
        "quantity": signal.quantity,
        "reference_price": signal.reference_price,
    }
    if signal.symbol not in registry.symbols:
        r = RiskRefusal("unknown_symbol", f"{signal.symbol!r} is not in the symbol registry")
        return RouteDecision(Route(**base, reason=r.reason), [r])
    refusal = _signal_refusal(signal, snap, limits, throttled, age_s)
    if refusal is not None:
        return RouteDecision(Route(**base, reason=refusal.reason), [refusal])
    names = candidate_venues(signal, venues)
    if not names:
        r = RiskRefusal(
            "no_venue",
            f"no enabled venue trades {signal.symbol}"
            + (f" among {', '.join(signal.venues)}" if signal.venues else ""),
        )
        return RouteDecision(Route(**base, reason=r.reason), [r])
    guards = exposure_guards(signal, snap, limits)
    usd = partial(usd_per_unit, snap=snap, limits=limits)
    rate = usd(registry.spec(signal.symbol).currency)
    if coids is None:
        coids = dict(
            zip(names, client_order_ids(signal.signal_id, [venues[v].code for v in names]), strict=True)
        )
    own = {f"{v}|{signal.symbol}": snap.own_legs.get(c, 0.0) for v, c in coids.items()}
    book = cap_book(signal, snap, limits, registry, usd, own) if caps_configured(limits) else None
    legs: list[RouteLeg] = []
    decision = RouteDecision(Route(**base))
    for venue in names:
        coid, key = coids[venue], f"{venue}|{signal.symbol}"
        current = snap.exposure.get(key, 0.0) - own[key]
        refusal = _venue_refusal(signal, venue, venues[venue], snap, limits)
        plan = None
        if refusal is None:
            planned = plan_leg(
                signal, venue, venues[venue], snap, registry, usd,
                current=current, now=now, exchange_open=exchange_open,
            )  # fmt: skip
            if isinstance(planned, LegPlan):
                plan = planned
                refusal = _guard_refusal(signal, venue, plan.carried, current, guards) or _limit_refusal(
                    signal, venue, plan.carried, current, snap, limits, registry, rate
                )
            else:
                refusal = RiskRefusal(*planned, venue)
        if refusal is None and plan is not None and book is not None and not signal.reduce_only:
            capped = book.admit(signal.symbol, plan.carried * signal.side.sign)
            refusal = RiskRefusal("net_exposure", capped, venue) if capped else None
        if refusal is not None or plan is None:
            assert refusal is not None
            decision.refusals.append(refusal)
            legs.append(
                RouteLeg(
                    venue=venue, client_order_id=coid, status=OrderStatus.REJECTED, reason=refusal.reason
                )
            )
            continue
        legs.append(
            RouteLeg(
                venue=venue,
                client_order_id=coid,
                status=OrderStatus.PENDING,
                quantity=plan.size.target,
                rounding_residual=plan.size.residual,
                symbol=plan.symbol if plan.symbol != signal.symbol else None,
                ratio=plan.ratio,
            )
        )
        decision.exposure[coid] = (key, plan.carried * signal.side.sign)
        if guards:
            decision.reducing.add(coid)  # (adapters refuse all but reduce_only orders while the switch is on)
    reason = (
        None
        if decision.exposure
        else "every venue refused: " + "; ".join(r.reason for r in decision.refusals)
    )
    decision.route = Route(**base, legs=tuple(legs), reason=reason)
    return decision
