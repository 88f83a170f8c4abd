"""Open positions roll with the contract when the rollover service is told to (NX_ROLLOVER_ROLL_POSITIONS):
the gateway's core services and a simulated venue, each its own process, on a clock the test moves."""

from __future__ import annotations

from pathlib import Path

import redis
from mesh import Mesh

from nexus_protocol import Names, OrderStatus, VenueOrder
from nexus_testing import Services, read_stream, wait_for


def orders_at(client: redis.Redis, names: Names, venue: str) -> list[VenueOrder]:
    return [e.body for e in read_stream(client, names.orders(venue)) if isinstance(e.body, VenueOrder)]


def test_open_positions_roll_to_the_new_contract_when_configured(
    client: redis.Redis, names: Names, services: Services, tmp_path: Path
) -> None:
    clock = tmp_path / "today"
    clock.write_text("2025-03-10")
    mesh = Mesh(services, client, names, "sim", ("nt8",)).start(
        clock_file=str(clock), NX_ROLLOVER_ROLL_POSITIONS="true"
    )
    assert mesh.final(mesh.signal("NQ", "buy", 2, venues=("nt8",))).status is OrderStatus.FILLED
    clock.write_text("2025-03-14")
    wait_for(lambda: len(orders_at(client, names, "nt8")) == 3, what="the close and open orders of the roll")
    close, opened = orders_at(client, names, "nt8")[1:]
    assert (close.venue_symbol, close.side.value, close.venue_quantity, close.reduce_only) == (
        "NQ 03-25",
        "sell",
        2,
        True,
    )
    assert (opened.venue_symbol, opened.side.value, opened.venue_quantity) == ("NQ 06-25", "buy", 2)
    positions_key = names.state("fills", "positions")

    def qty(contract: str) -> float | None:
        import msgpack

        raw = client.hget(positions_key, f"NQ|nt8|{contract}")
        return float(msgpack.unpackb(raw)["quantity"]) if raw else None

    wait_for(lambda: qty("NQH25") == 0 and qty("NQM25") == 2, what="positions moved to NQM25")
    assert mesh.events("position_rolled")
