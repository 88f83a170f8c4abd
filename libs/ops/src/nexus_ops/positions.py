"""`nexusctl positions`: the fills aggregator's positions, valued at the last price.

Positions come from `nx:{state:fills}:positions` (one per symbol, venue and contract, in the venue's
units and prices, written by the fills service). The last price is the venue's own, from the newest
tick of that venue on `nx:{md:ROOT}` (a CFD trades at a basis to the future, so the root's price
would misvalue it); without one, the root's last price from `nx:{state:md}:last`. Unrealized P&L is
(last - average) x quantity x point value in the venue's currency, and in USD at the fx stage's
current USDBRL (its heartbeat) or the configured rates.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any, Protocol

import msgpack
import redis

from nexus_mesh.config_files import read_yaml
from nexus_mesh.connection import as_str
from nexus_protocol.codec import decode, unpack
from nexus_protocol.errors import DecodeError
from nexus_protocol.messages import Heartbeat, Tick
from nexus_protocol.streams import Names

_RECENT_TICKS = 200


class HasDetail(Protocol):
    """A heartbeat, or a status row made of one: the fx stage's detail carries its USDBRL."""

    @property
    def service(self) -> str: ...
    @property
    def detail(self) -> dict[str, Any]: ...


@dataclass(slots=True)
class PositionRow:
    symbol: str
    venue: str
    venue_symbol: str
    contract: str | None
    quantity: float  # signed, venue units
    universal_quantity: float
    avg_price: float
    last_price: float | None
    price_source: str  # "venue", "root" or "" (no price)
    currency: str
    unrealized: float | None  # venue currency
    unrealized_usd: float | None
    realized_usd: float

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def usd_rates(
    client: redis.Redis, names: Names, config_dir: Path | None, heartbeats: Sequence[HasDetail] | None = None
) -> dict[str, float]:
    """USD per unit of each currency known now: USD, BRL from the fx heartbeat, configured rates."""
    rates: dict[str, float] = {}
    if config_dir is not None:
        try:
            risk = read_yaml(Path(config_dir) / "risk.yaml") or {}
            rates.update(
                {
                    k: float(v)
                    for k, v in ((risk.get("default") or {}).get("usd_per_unit_fallback") or {}).items()
                }
            )
            fx = read_yaml(Path(config_dir) / "fx.yaml") or {}
            rates.update({k: float(v) for k, v in (fx.get("usd_rates") or {}).items()})
        except Exception:  # a missing or broken config file only costs the fallback rates
            pass
    if heartbeats is None:
        found: list[HasDetail] = []
        for k in client.scan_iter(match=names.health_pattern(), count=5000):
            raw: Any = client.get(k)
            hb = unpack(raw) if raw is not None else None
            if isinstance(hb, Heartbeat):
                found.append(hb)
        heartbeats = found
    for beat in heartbeats:
        if beat.service == "fx" and beat.detail.get("usdbrl"):
            rates["BRL"] = 1 / float(beat.detail["usdbrl"])  # the quote is BRL per USD
    rates["USD"] = 1.0
    return rates


def venue_prices(client: redis.Redis, names: Names, roots: set[str]) -> dict[tuple[str, str], float]:
    """(root, venue) -> the newest price that venue ticked for the root."""
    out: dict[tuple[str, str], float] = {}
    for root in roots:
        rows: Any = client.xrevrange(names.md(root), count=_RECENT_TICKS)
        for _id, fields in rows or ():
            if fields.get(b"type") != b"tick":
                continue
            try:
                tick = decode(fields).body
            except DecodeError:
                continue
            if isinstance(tick, Tick) and tick.price is not None:
                out.setdefault((root, tick.venue), tick.price)
    return out


def collect(
    client: redis.Redis,
    names: Names,
    config_dir: Path | None = None,
    *,
    include_flat: bool = False,
    heartbeats: Sequence[HasDetail] | None = None,
) -> list[PositionRow]:
    raw: Any = client.hgetall(names.state("fills", "positions"))
    positions = [msgpack.unpackb(v, raw=False) for v in raw.values()]
    if not include_flat:
        positions = [p for p in positions if Decimal(p.get("quantity", "0")) != 0]
    roots = {str(p["symbol"]) for p in positions}
    by_venue = venue_prices(client, names, roots)
    last_raw: Any = client.hgetall(names.state("md", "last"))
    by_root = {as_str(k): float(v) for k, v in last_raw.items()}
    rates = usd_rates(client, names, config_dir, heartbeats)
    rows = []
    for p in positions:
        symbol, venue, currency = str(p["symbol"]), str(p["venue"]), str(p.get("currency", "USD"))
        qty, avg = Decimal(p.get("quantity", "0")), Decimal(p.get("avg_price", "0"))
        price, source = by_venue.get((symbol, venue)), "venue"
        if price is None:
            price, source = by_root.get(symbol), "root"
        unreal = unreal_usd = None
        if price is not None:
            unreal = float(
                (Decimal(repr(price)) - avg) * qty * Decimal(repr(float(p.get("point_value", 1.0))))
            )
            rate = rates.get(currency)
            unreal_usd = round(unreal * rate, 2) if rate is not None else None
        factor = float(p.get("qty_factor", 1.0)) or 1.0
        rows.append(
            PositionRow(
                symbol=symbol,
                venue=venue,
                venue_symbol=str(p.get("venue_symbol", "")),
                contract=p.get("contract"),
                quantity=float(qty),
                universal_quantity=float(qty) / factor,
                avg_price=float(avg),
                last_price=price,
                price_source=source if price is not None else "",
                currency=currency,
                unrealized=None if unreal is None else round(unreal, 2),
                unrealized_usd=unreal_usd,
                realized_usd=float(Decimal(p.get("realized_usd", "0"))),
            )
        )
    return sorted(rows, key=lambda r: (r.symbol, r.venue, r.contract or ""))
