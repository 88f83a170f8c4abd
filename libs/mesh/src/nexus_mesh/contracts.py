"""The active futures contracts (the rollover service's `nx:contracts`, root -> code) as an adapter
needs them: which venue symbols its market data should cover right now.

The rollover service may publish after an adapter has connected, and a roll changes the hash while
it runs, so adapters ask again every few seconds (`REFRESH_S`) and (un)subscribe what changed.
"""

from __future__ import annotations

import redis

from nexus_mesh.connection import as_str
from nexus_protocol.streams import Names
from nexus_protocol.symbols import SymbolRegistry

REFRESH_S = 2.0  # how often an adapter compares its subscriptions with the active contracts


def active_contracts(client: redis.Redis, names: Names) -> dict[str, str]:
    raw: dict[bytes, bytes] = client.hgetall(names.contracts)  # type: ignore[assignment]
    return {as_str(k): as_str(v) for k, v in raw.items()}


def market_symbols(
    client: redis.Redis, names: Names, registry: SymbolRegistry, venue: str
) -> tuple[list[str], list[str]]:
    """The venue's market-data symbols now, and the dated roots still without an active contract."""
    return registry.active_symbols(venue, active_contracts(client, names))
