"""Auto-resync (NX_AUTO_RESYNC, off by default), pure: a position difference that persisted (a
`position_mismatch`, see `drift`) brought back in line, the mesh's position being the truth.

Two steps, each a signal of its own with one leg, every id derived from the resync's record (venue,
venue symbol, the two figures and the time it was decided), so a restart redoes a step without
doing it twice:
1. The outside trade is booked: what the platform did outside the mesh (it holds `difference` more
   than the gateway's view; negative: less) becomes a filled leg (code `OUTSIDE_CODE`, purpose
   `outside`, a synthetic fill at the platform's last quote: its own price is unknown to the mesh).
   The gateway's positions, the router's exposure and the P&L now count what the platform holds.
2. A resync order (code `RESYNC_CODE`, purpose `resync`, a market order for -difference) takes the
   platform back to the position the mesh held; its fills move the gateway's view back with it.
The platform and the mesh then agree on the mesh's position, and the round trip (the outside trade at
the quote, the resync at its fill) is in the P&L. Should the resync order be refused, the two still
agree, on the platform's position, with the outside trade booked.

`decide` says whether a persisting difference is resynced now, later (deferred: the rate limit, the
fill path still carrying fills, no quote yet) or not at all (refused: the kill switch is on and the
order would not reduce the platform's position, or the registry does not know the symbol).
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass

from nexus_mesh.adapter.drift import Drift
from nexus_mesh.adapter.own import EPS, market_order, single_leg_route
from nexus_mesh.adapter.reports import VenueReport
from nexus_protocol.enums import OrderStatus
from nexus_protocol.messages import Fill, Route, VenueOrder
from nexus_protocol.symbols import SymbolRegistry

OUTSIDE_CODE = "ot"  # the venue code of an outside trade's booking
RESYNC_CODE = "rs"  # the venue code of a resync order


@dataclass(frozen=True, slots=True)
class Verdict:
    """Why a difference is not resynced now: `final` (refused) or deferred (tried again later)."""

    kind: str  # kill_switch | rate_limit | fill_path | no_price | unknown_symbol
    reason: str
    final: bool


def reduces(d: Drift) -> bool:
    """The resync order takes the platform's position toward flat, never through it."""
    return abs(d.gateway) < abs(d.platform) - EPS and d.gateway * d.platform >= 0


def decide(
    d: Drift,
    *,
    kill_on: bool,
    last_resync_ago_s: float | None,
    min_interval_s: float,
    fill_path_idle: bool,
    price: float | None,
) -> Verdict | None:
    """None: resync now; else why not (yet)."""
    if kill_on and not reduces(d):
        why = "the kill switch is on and the resync order would not reduce the platform's position"
        return Verdict("kill_switch", why, final=True)
    if last_resync_ago_s is not None and last_resync_ago_s < min_interval_s:
        why = f"the venue's last resync was {last_resync_ago_s:.0f} s ago (one per {min_interval_s:g} s)"
        return Verdict("rate_limit", why, final=False)
    if not fill_path_idle:
        why = "fills are still on their way to the gateway's positions"
        return Verdict("fill_path", why, final=False)
    if price is None:
        return Verdict("no_price", "no quote from the platform to book the outside trade at", final=False)
    return None


@dataclass(frozen=True, slots=True)
class ResyncRecord:
    """A resync decided: kept in Redis from before its first step until its outcome is reported."""

    venue_symbol: str
    gateway: float
    platform: float
    price: float  # what the outside trade is booked at
    ts_ns: int  # when it was decided: stamps both signal ids
    sent: bool = False  # both steps published (the order's outcome is the order flow's from then on)

    @property
    def drift(self) -> Drift:
        return Drift(self.venue_symbol, self.gateway, self.platform)

    def dumps(self) -> str:
        return json.dumps(asdict(self), sort_keys=True)

    @classmethod
    def loads(cls, raw: str | bytes) -> ResyncRecord:
        return cls(**json.loads(raw))

    def seed(self, step: str, venue: str) -> str:
        return f"{step}:{venue}:{self.venue_symbol}:{self.gateway!r}:{self.platform!r}:{self.ts_ns}"


def booking(record: ResyncRecord, venue: str, registry: SymbolRegistry) -> tuple[VenueOrder, Route, Fill]:
    """Step 1: the outside trade as a leg (never sent anywhere), its route and its one synthetic fill."""
    order = market_order(
        record.venue_symbol, record.drift.difference, venue=venue, ts_ns=record.ts_ns,
        seed=record.seed("outside", venue), code=OUTSIDE_CODE, purpose="outside", reduce_only=False,
        registry=registry,
    )  # fmt: skip
    qty = order.venue_quantity
    fill = VenueReport(
        client_order_id=order.client_order_id, status=OrderStatus.FILLED, exec_id="outside", last_qty=qty,
        last_price=record.price, cum_qty=qty, avg_price=record.price, leaves_qty=0.0, ts_ns=record.ts_ns,
        synthetic=True,
    ).to_fill(order)  # fmt: skip
    return order, single_leg_route(order), fill


def resync_order(record: ResyncRecord, venue: str, registry: SymbolRegistry) -> VenueOrder:
    """Step 2: the market order that takes the platform back to the gateway's position."""
    return market_order(
        record.venue_symbol, -record.drift.difference, venue=venue, ts_ns=record.ts_ns,
        seed=record.seed("resync", venue), code=RESYNC_CODE, purpose="resync",
        reduce_only=reduces(record.drift), registry=registry,
    )  # fmt: skip
