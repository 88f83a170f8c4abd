"""The kill switch's flatten: one closing order per position the platform holds. Pure: no I/O.

A closing order is an ordinary leg of its own signal, so its fills move the gateway's positions and it
gets one final execution like any other: a market order against the position, `reduce_only`, purpose
`flatten`. Its ids are derived from the kill-switch activation and the position (venue, venue symbol and
the platform's key for it, e.g. an MT5 position ticket), never random: applying the same activation
again (after an adapter restart) finds the same intents and asks the platform instead of closing twice.
The signal id is a ULID stamped with the activation's time; the client order id uses venue code
`FLATTEN_CODE`, which no venue in venues.yaml may take. The `Route` tells the fill aggregator about the
leg, as the router does for a signal (decision 0001), so the execution becomes final.
"""

from __future__ import annotations

from dataclasses import dataclass

from nexus_mesh.adapter.own import market_order, single_leg_route
from nexus_protocol.messages import KillSwitchState, VenueOrder
from nexus_protocol.symbols import SymbolRegistry

FLATTEN_CODE = "ks"  # the venue code of every closing order's client order id
_EPS = 1e-9  # a position smaller than this is flat


@dataclass(frozen=True, slots=True)
class HeldPosition:
    """A position at the platform: venue symbol, signed quantity in venue units, and a key that tells
    several positions in one symbol apart (hedging accounts hold one per ticket; '' when netted)."""

    venue_symbol: str
    quantity: float
    key: str = ""


def held(positions: dict[str, float]) -> list[HeldPosition]:
    """Netted positions (venue symbol -> signed quantity) as held positions, flat ones left out."""
    return [HeldPosition(sym, qty) for sym, qty in sorted(positions.items()) if abs(qty) > _EPS]


def closing_order(
    position: HeldPosition, *, venue: str, switch: KillSwitchState, registry: SymbolRegistry
) -> VenueOrder:
    """The market order that closes `position`; DecodeError when the registry does not know its symbol
    for this venue (the gateway could not book the fills: such a position is left to the operator)."""
    seed = f"flatten:{switch.activation}:{venue}:{position.venue_symbol}:{position.key}"
    return market_order(position.venue_symbol, -position.quantity, venue=venue, ts_ns=switch.ts_ns,
                        seed=seed, code=FLATTEN_CODE, purpose="flatten", reduce_only=True,
                        registry=registry)  # fmt: skip


closing_route = single_leg_route
