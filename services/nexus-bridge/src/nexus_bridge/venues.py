"""Which venues trade which roots in this environment (deploy/config/venues.yaml), for the venue guard.

The file is read with the one reader every service shares (nexus_mesh.venues); the bridge keeps only
what it needs (enabled, can_trade, symbols).
"""

from __future__ import annotations

from pathlib import Path

from nexus_mesh.venues import load_venues
from nexus_protocol.symbols import SymbolRegistry


def load_trading_venues(
    config_dir: Path, environment: str, symbols: SymbolRegistry | None = None
) -> dict[str, tuple[str, ...]]:
    """venue -> roots it trades, for the enabled venues that can trade (roots checked with `symbols`)."""
    venues = load_venues(config_dir, environment, symbols)
    return {name: v.symbols for name, v in venues.items() if v.enabled and v.can_trade}


def venues_for(symbol: str, venues: dict[str, tuple[str, ...]], wanted: tuple[str, ...] = ()) -> list[str]:
    """The venues that would get a leg of a signal on `symbol` (those it named, if it named some)."""
    return [v for v, roots in venues.items() if symbol in roots and (not wanted or v in wanted)]
