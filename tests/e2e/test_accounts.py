"""Per-account sizing, sessions and the net exposure cap through the running mesh (every service its
own process): one signal sized differently by each account, a closed session refusing its leg, and
the cap refusing new exposure while an offline platform's position still counts."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import redis
import yaml
from mesh import Mesh

from nexus_protocol import Names, Order, OrderStatus
from nexus_testing import Services, read_stream, wait_for

VENUES = ("nt8", "sierra", "mt5-global", "quantower")


@pytest.fixture
def mesh(client: redis.Redis, names: Names, services: Services, tmp_path: Path) -> Mesh:
    config = tmp_path / "config"
    shutil.copytree(Path(__file__).resolve().parents[2] / "deploy" / "config", config)
    venues = yaml.safe_load((config / "venues.yaml").read_text())
    dev = venues["environments"]["dev"]
    dev["nt8"]["sizing"] = {"mode": "ratio", "ratio": 0.5}
    dev["sierra"]["sizing"] = {"mode": "fixed", "quantity": 5}  # 5 MNQ: sierra trades micros for minis
    dev["sierra"]["symbol_map"] = {"NQ": "MNQ"}
    dev["mt5-global"]["sizing"] = {"mode": "equity", "reference_equity_usd": 100000}
    dev["quantower"]["sessions"] = {"NQ": {"start": "00:00", "end": "23:59", "days": []}}  # never open
    (config / "venues.yaml").write_text(yaml.safe_dump(venues))
    risk = yaml.safe_load((config / "risk.yaml").read_text())
    risk["default"]["max_net_exposure_usd_per_symbol"] = 1_400_000
    (config / "risk.yaml").write_text(yaml.safe_dump(risk))
    m = Mesh(
        services, client, names, "dev", VENUES, NX_CONFIG_DIR=str(config), NX_SIM_EQUITY_USD="50000"
    ).start()
    for v in VENUES:
        m.set_price(v, "NQ", 21000.0)
    wait_for(lambda: client.hget(names.state("md", "last"), "NQ") == b"21000.0", what="NQ at 21000")
    return m


def legs_of(ex: object) -> dict[str, tuple[str, float, str | None]]:
    return {leg.venue: (leg.status.value, leg.quantity, leg.reason) for leg in ex.legs}  # type: ignore[attr-defined]


def test_each_account_sizes_filters_and_the_cap_holds_while_a_platform_is_offline(mesh: Mesh) -> None:
    first = mesh.final(mesh.signal("NQ", "buy", 2, reference_price=21000.0))
    legs = legs_of(first)
    assert legs["nt8"][:2] == ("filled", 1.0)  # ratio 0.5
    assert legs["sierra"][:2] == ("filled", 0.5)  # 5 MNQ = 0.5 NQ of exposure
    sierra_orders = [
        e.body for e in read_stream(mesh.client, mesh.names.orders("sierra")) if isinstance(e.body, Order)
    ]
    assert [(o.venue_symbol, o.venue_quantity) for o in sierra_orders] == [("MNQH25", 5.0)]  # type: ignore[attr-defined]
    assert legs["mt5-global"][:2] == ("filled", 1.0)  # equity 50,000 / 100,000: 20 lots of NAS100
    status, _qty, reason = legs["quantower"]
    assert (
        status == "rejected"
        and reason is not None
        and reason.startswith("NQ on quantower trades 00:00-23:59")
    )
    lots = [
        e.body for e in read_stream(mesh.client, mesh.names.orders("mt5-global")) if isinstance(e.body, Order)
    ]
    assert [o.venue_quantity for o in lots] == [20.0]  # type: ignore[attr-defined]

    mesh.procs["venue-sierra"].sigkill()  # sierra goes offline holding 5 MNQ (USD 210,000)
    wait_for(
        lambda: not mesh.client.exists(mesh.names.control("venue", "sierra")),
        timeout_s=30,
        what="sierra down",
    )
    second = mesh.final(mesh.signal("NQ", "buy", 2, reference_price=21000.0))
    legs = legs_of(second)
    assert second.status is OrderStatus.REJECTED
    # without sierra's position the book would hold 2 NQ (USD 840,000) and nt8's leg would fit
    assert (
        legs["nt8"][2]
        == "net NQ exposure across all venues would be USD 1,470,000 (cap USD 1,400,000; now USD 1,050,000)"
    )
    assert "not connected" in (legs["sierra"][2] or "")
    exit_ = mesh.final(
        mesh.signal("NQ", "sell", 2, reference_price=21000.0, reduce_only=True, venues=("nt8",))
    )
    assert legs_of(exit_)["nt8"][:2] == ("filled", 1.0)  # reducing passes the cap; cut to what nt8 holds
