"""Bookmap end to end: the gateway's core services and the Bookmap adapter, each a process, the real
add-on on the real `bookmap` package in a simulated Bookmap. A signal becomes a Bookmap order and a
final execution; a data-only Bookmap connection is refused by the router with its reason."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import pytest
import redis
import yaml
from mesh import Mesh

sys.path.insert(0, str(Path(__file__).parents[1] / "integration" / "bookmap"))
from bookmap_rig import ALIAS, BookmapRig

from nexus_protocol import Names, OrderStatus, VenueOrder
from nexus_testing import REPO_ROOT, Services, read_stream, wait_for

ENVIRONMENT = "bookmap-e2e"


def config_with_bookmap(tmp: Path) -> Path:
    """deploy/config with one more environment: Bookmap able to trade (staging lists it data-only)."""
    cfg = tmp / "config"
    shutil.copytree(REPO_ROOT / "deploy" / "config", cfg)
    venues = yaml.safe_load((cfg / "venues.yaml").read_text())
    venues["environments"][ENVIRONMENT] = {
        "bookmap": {"code": "bm", "adapter": "bookmap", "symbols": ["NQ"], "order_types": ["market", "limit"],
                    "can_trade": True},
    }  # fmt: skip
    (cfg / "venues.yaml").write_text(yaml.safe_dump(venues))
    return cfg


@pytest.fixture
def rigs() -> list[BookmapRig]:
    return []


def start(services: Services, client: redis.Redis, names: Names, tmp_path: Path, rigs: list[BookmapRig], *,
          can_trade: bool = True) -> tuple[Mesh, BookmapRig]:  # fmt: skip
    cfg = str(config_with_bookmap(tmp_path))
    rig = BookmapRig(services, client, names, can_trade=can_trade, NX_CONFIG_DIR=cfg,
                     NX_ENVIRONMENT=ENVIRONMENT)  # fmt: skip
    rigs.append(rig)
    rig.start(connected=False)
    mesh = Mesh(services, client, names, ENVIRONMENT, (), NX_CONFIG_DIR=cfg).start()
    rig.wait_connected(can_trade=can_trade)
    return mesh, rig


@pytest.fixture(autouse=True)
def _stop_rigs(rigs: list[BookmapRig]) -> object:
    yield
    for rig in rigs:
        rig.stop()
        print(f"----- add-on log -----\n{rig.addon_log()}")


def test_a_signal_fills_on_bookmap(
    client: redis.Redis, names: Names, services: Services, tmp_path: Path, rigs: list[BookmapRig]
) -> None:
    mesh, rig = start(services, client, names, tmp_path, rigs)
    wait_for(lambda: client.hget(names.state("md", "last"), "NQ"), what="NQ prices from Bookmap's ticks")
    sid = mesh.signal("NQ", "buy", 1)
    ex = mesh.final(sid)
    assert ex.status is OrderStatus.FILLED
    assert ex.filled_quantity == 1
    (leg,) = ex.legs
    assert (leg.venue, leg.venue_symbol, leg.status, leg.venue_filled_qty) == (
        "bookmap",
        ALIAS,
        OrderStatus.FILLED,
        1,
    )
    (order,) = [
        e.body for e in read_stream(client, names.orders("bookmap")) if isinstance(e.body, VenueOrder)
    ]
    state = rig.host.venue.engine.order_by_client_id(
        f"{sid}.bm0"
    )  # our client order id is Bookmap's clientId
    assert state is not None
    assert order.client_order_id == f"{sid}.bm0"
    assert leg.avg_price == state.avg_price
    assert rig.host.venue.engine.net_position(ALIAS) == 1.0


def test_a_data_only_bookmap_connection_is_refused_by_the_router_with_its_reason(
    client: redis.Redis, names: Names, services: Services, tmp_path: Path, rigs: list[BookmapRig]
) -> None:
    mesh, rig = start(services, client, names, tmp_path, rigs, can_trade=False)
    sid = mesh.signal("NQ", "buy", 1)
    ex = mesh.final(sid)
    assert ex.status is OrderStatus.REJECTED
    (leg,) = ex.legs
    assert leg.status is OrderStatus.REJECTED
    assert leg.reason is not None
    assert "market data only" in leg.reason
    (event,) = mesh.events("risk_rejected", lambda e: e.signal_id == sid)
    assert event.data["check"] == "venue_data_only"
    assert read_stream(client, names.orders("bookmap")) == []  # refused before routing: nothing was sent
    assert rig.host.venue.engine.orders() == []


@pytest.mark.slow
def test_a_sigkill_of_the_adapter_between_send_and_fill_still_gives_one_fill(
    client: redis.Redis, names: Names, services: Services, tmp_path: Path, rigs: list[BookmapRig]
) -> None:
    mesh, rig = start(services, client, names, tmp_path, rigs)
    wait_for(lambda: client.hget(names.state("md", "last"), "NQ"), what="NQ prices from Bookmap's ticks")
    rig.host.pause()  # hold the market so the limit order rests until the test moves it
    price = rig.host.venue.market.quote(ALIAS).bid - 2.0
    sid = mesh.signal("NQ", "buy", 1, order_type="limit", limit_price=price)
    wait_for(lambda: any(leg.status is OrderStatus.ACCEPTED for e in mesh.executions(sid) for leg in e.legs),
             what="the order working at Bookmap")  # fmt: skip
    assert rig.adapter is not None
    rig.adapter.sigkill()
    client.delete(names.control("venue", "bookmap"))  # its heartbeat would expire
    rig.host.set_price(ALIAS, price - 5.0)
    rig.host.step()
    assert rig.host.wait_until(lambda: rig.host.venue.engine.net_position(ALIAS) == 1.0, 10)
    rig.start_adapter()
    ex = mesh.final(sid, timeout_s=30)
    assert (ex.status, ex.filled_quantity) == (OrderStatus.FILLED, 1)
    (leg,) = ex.legs
    assert (leg.venue_filled_qty, leg.avg_price) == (1, price)
    assert len(rig.host.venue.engine.orders()) == 1
