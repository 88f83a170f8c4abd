"""The seed's end-to-end scenarios, every service its own process against a real redis-server."""

from __future__ import annotations

from pathlib import Path

import pytest
import redis
from mesh import Mesh

from nexus_protocol import Names, OrderStatus, VenueOrder
from nexus_testing import Services, read_stream, wait_for


def orders_at(client: redis.Redis, names: Names, venue: str) -> list[VenueOrder]:
    return [e.body for e in read_stream(client, names.orders(venue)) if isinstance(e.body, VenueOrder)]


def test_scenario_1_single_platform_signal_to_execution(
    client: redis.Redis, names: Names, services: Services
) -> None:
    mesh = Mesh(services, client, names, "single", ("sim",)).start()
    mesh.set_price("sim", "NQ", 21000.0)
    sid = mesh.signal("NQ", "buy", 1, reference_price=21000.0)
    ex = mesh.final(sid)
    assert ex.status is OrderStatus.FILLED
    assert ex.filled_quantity == 1
    assert ex.avg_price == 21000.0
    [leg] = ex.legs
    assert (leg.venue, leg.venue_symbol, leg.status) == ("sim", "NQH25", OrderStatus.FILLED)
    [order] = orders_at(client, names, "sim")
    assert order.client_order_id == f"{sid}.sm0"


def test_scenario_2_one_signal_fanned_out_to_four_venues(
    client: redis.Redis, names: Names, services: Services
) -> None:
    mesh = Mesh(
        services, client, names, "dev", ("nt8", "sierra", "quantower", "mt5-global", "mt5-brazil")
    ).start()
    for venue, price in (
        ("nt8", 16250.50),
        ("sierra", 16250.75),
        ("quantower", 16250.75),
        ("mt5-global", 16251.00),
    ):
        mesh.set_price(venue, "NQ", price)
    sid = mesh.signal("NQ", "buy", 1)
    ex = mesh.final(sid)
    assert ex.status is OrderStatus.FILLED
    by_venue = {leg.venue: leg for leg in ex.legs}
    assert set(by_venue) == {"nt8", "sierra", "quantower", "mt5-global"}
    assert by_venue["nt8"].venue_symbol == "NQ 03-25"
    assert by_venue["sierra"].venue_symbol == "NQH25"
    assert by_venue["mt5-global"].venue_symbol == "NAS100"
    assert by_venue["mt5-global"].venue_filled_qty == 20  # 1 NQ ($20/pt) = 20 lots of a $1/pt CFD
    assert all(leg.filled_quantity == 1 for leg in ex.legs)
    assert ex.filled_quantity == 4
    assert ex.avg_price == pytest.approx((16250.50 + 16250.75 + 16250.75 + 16251.00) / 4)


def test_scenario_5_win_profit_in_brl_reaches_nexus_in_usd(
    client: redis.Redis, names: Names, services: Services
) -> None:
    mesh = Mesh(services, client, names, "dev", ("mt5-brazil",), NX_FX_SOURCE="wdo").start()
    mesh.set_price("mt5-brazil", "WDO", 5490.0)  # BRL per USD 1,000: USDBRL 5.49
    mesh.set_price("mt5-brazil", "WIN", 130000.0)
    wait_for(lambda: client.xlen(names.md("WDO")) > 0, what="WDO market data")
    buy = mesh.final(mesh.signal("WIN", "buy", 1))
    assert (
        buy.status is OrderStatus.FILLED and buy.legs[0].venue_symbol == "WINJ25"
    )  # even months only: April on 2025-03-01
    mesh.set_price("mt5-brazil", "WIN", 130100.0)
    sell = mesh.final(mesh.signal("WIN", "sell", 1))
    assert sell.status is OrderStatus.FILLED
    assert sell.realized_pnl_usd == 3.64  # 100 points x BRL 0.20 = BRL 20.00 = USD 3.64 at 5.49
    assert sell.legs[0].currency == "BRL"


def test_scenario_4_contract_roll_changes_nothing_on_the_signal_side(
    client: redis.Redis, names: Names, services: Services, tmp_path: Path
) -> None:
    clock = tmp_path / "today"
    clock.write_text("2025-03-10")
    mesh = Mesh(services, client, names, "dev", ("nt8", "sierra")).start(clock_file=str(clock))
    assert client.hget(names.contracts, "NQ") == b"NQH25"
    before = mesh.final(mesh.signal("NQ", "buy", 1, venues=("nt8", "sierra")))
    assert {leg.venue_symbol for leg in before.legs} == {"NQ 03-25", "NQH25"}
    clock.write_text("2025-03-14")  # past NQH25's roll date (2025-03-13, expiry 2025-03-21)
    wait_for(lambda: client.hget(names.contracts, "NQ") == b"NQM25", what="the roll to NQM25")
    roll = mesh.events("contract_roll", lambda e: e.symbol == "NQ" or e.data.get("root") == "NQ")
    assert roll, "a contract_roll event"
    after = mesh.final(mesh.signal("NQ", "sell", 1, venues=("nt8", "sierra")))  # the same universal signal
    assert {leg.venue_symbol for leg in after.legs} == {"NQ 06-25", "NQM25"}
    assert {o.venue_symbol for o in orders_at(client, names, "sierra")} == {"NQH25", "NQM25"}


def test_open_positions_roll_to_the_new_contract_when_configured(
    client: redis.Redis, names: Names, services: Services, tmp_path: Path
) -> None:
    clock = tmp_path / "today"
    clock.write_text("2025-03-10")
    mesh = Mesh(services, client, names, "dev", ("nt8",)).start(
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
