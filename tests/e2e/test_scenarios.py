"""The plan's five scenarios on the dev environment, and what an operator sees of it.

One mesh serves the module, started from the compose files exactly as `nexusctl up --env dev` starts
it (`DevMesh`: the same Supervisor): the gateway's core services, the recorder, the bridge, and for
each platform its real adapter talking to its simulator over the platform's wire protocol, every one
its own process. `nexusctl` commands run against it as an operator would run them.

Sharing is sound because each test trades its own signals and leaves every platform flat again. The
last two change the mesh for whatever follows, so they run last and in this order: a simulator
restarted under the mesh (the new Sierra process has no memory of the old one's position) and the
NQ roll (the rollover's clock moves past the front contract's roll date).
"""

from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
import sys
import uuid
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import pytest
import rpyc
from mesh import DevMesh

from nexus_bridge import NexusGatewayInterface
from nexus_gateway.rollover.calendar import RollRule, next_contract, roll_date
from nexus_mesh.embedded import RedisServer
from nexus_ops.status import heartbeats
from nexus_protocol import Execution, Names, OrderStatus, Tick, VenueOrder, decode
from nexus_protocol.symbols import Contract
from nexus_sierra.simulator import ControlClient
from nexus_testing import REPO_ROOT, read_stream, wait_for

sys.path.insert(0, str(REPO_ROOT / "tests" / "integration" / "mt5"))
from mt5_helpers import TerminalView

NEXUSCTL = str(Path(sys.executable).parent / "nexusctl")
NQ_VENUES = ("nt8", "sierra", "quantower", "mt5-global", "bookmap")
VENUES = (*NQ_VENUES, "mt5-brazil")


@pytest.fixture(scope="module")
def dev(redis_server: RedisServer, tmp_path_factory: pytest.TempPathFactory) -> Iterator[DevMesh]:
    data = tmp_path_factory.mktemp("dev")
    clock = data / "today"  # the rollover's date: today, until the roll scenario moves it
    clock.write_text(dt.date.today().isoformat())
    mesh = DevMesh(
        redis_server.url,
        Names(f"t{uuid.uuid4().hex[:10]}"),
        data,
        overrides={
            "rollover": {"NX_ROLLOVER_CLOCK_FILE": str(clock)},
            # a difference is an alarm once it outlives its grace window (30 s by default): short here
            "adapter-sierra": {"NX_POSITION_GRACE_S": "2"},
        },
    )
    try:
        yield mesh.start()
    finally:
        mesh.stop()


@pytest.fixture(autouse=True)
def _logs_when_failed(request: pytest.FixtureRequest, dev: DevMesh) -> Iterator[None]:
    yield
    rep: Any = getattr(request.node, "rep_call", None)
    if rep is not None and rep.failed:
        print(dev.logs())


def nexusctl(dev: DevMesh, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("NX_")}
    env |= {"NX_DATA_DIR": str(dev.sup.data_dir), "NX_NAMESPACE": dev.names.namespace, "COLUMNS": "200"}
    out = subprocess.run(
        [NEXUSCTL, *args], cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=120, check=False
    )
    assert not check or out.returncode == 0, f"nexusctl {' '.join(args)}: {out.stdout}\n{out.stderr}"
    return out


def terminal(dev: DevMesh, venue: str) -> TerminalView:
    """The simulated MT5 terminal as the test sees it, over a classic connection of its own."""

    class At:
        port = int(dev.option(f"sim-{venue}", "--port"))

        @classmethod
        def connect(cls) -> Any:
            return rpyc.classic.connect(dev.address, cls.port)

        @staticmethod
        def control(conn: Any) -> Any:
            return conn.modules.nexus_sim_control

    return TerminalView(At())  # type: ignore[arg-type]


def sierra(dev: DevMesh) -> ControlClient:
    return ControlClient(int(dev.option("sim-sierra", "--control-port")), host=dev.address)


def last_price(dev: DevMesh, root: str) -> float:
    raw = wait_for(lambda: dev.client.hget(dev.names.state("md", "last"), root), what=f"a {root} price")
    return float(raw)


def flat(dev: DevMesh, opened: Execution, **fields: Any) -> Execution:
    """Close what `opened` bought or sold, on the same platforms."""
    side = "sell" if opened.side.value == "buy" else "buy"
    venues = tuple(leg.venue for leg in opened.legs)
    closed = dev.final(
        dev.signal(opened.symbol, side, opened.quantity, venues=venues, **fields), timeout_s=40
    )
    assert closed.status is OrderStatus.FILLED, closed
    return closed


def test_six_platforms_linked_and_every_simulator_feeds_market_data(dev: DevMesh) -> None:
    status = json.loads(nexusctl(dev, "status", "--json").stdout)
    assert status["healthy"] is True, status["problems"]
    assert {v["venue"]: v["connected"] for v in status["venues"]} == dict.fromkeys(VENUES, True)
    assert not {s["service"] for s in status["services"]} & {
        s for s in dev.sup.services if s.startswith("sim-")
    }
    assert "Platforms: 6/6 ONLINE" in nexusctl(dev, "dashboard", "--once").stdout

    wait_for_quotes(dev, "NQ", NQ_VENUES)
    for root in ("WIN", "WDO"):
        wait_for_quotes(dev, root, ("mt5-brazil",))


def feeding(dev: DevMesh, root: str) -> set[str]:
    """The venues whose ticks of `root` reached nx:{md:ROOT} (through the normalizer)."""
    entries = dev.client.xrevrange(dev.names.md(root), count=5000) or []
    return {t.venue for t in (e.body for e in map(_decode, entries)) if isinstance(t, Tick)}


def wait_for_quotes(dev: DevMesh, root: str, venues: Iterable[str]) -> None:
    wait_for(lambda: feeding(dev, root) >= set(venues), timeout_s=30, what=f"{root} ticks from {venues}")


def test_scenario_1_a_single_nq_signal_on_mt5_fills_as_nas100_lots(dev: DevMesh) -> None:
    sid = dev.signal("NQ", "buy", 1, venues=("mt5-global",), reference_price=last_price(dev, "NQ"))
    ex = dev.final(sid, timeout_s=40)
    assert (ex.status, ex.filled_quantity) == (OrderStatus.FILLED, 1), ex
    [leg] = ex.legs
    assert (leg.venue, leg.venue_symbol, leg.venue_filled_qty, leg.currency) == (
        "mt5-global",
        "NAS100",
        20,
        "USD",
    )
    fx = terminal(dev, "mt5-global")
    [order] = fx.orders_with(leg.client_order_id)  # our client order id is the order's comment
    assert (order["volume_initial"], order["type"]) == (20.0, 0)  # 1 NQ ($20/pt) = 20 lots of a $1/pt CFD
    assert [p["volume"] for p in fx("positions_get") if p["symbol"] == "NAS100"] == [20.0]
    flat(dev, ex)
    assert [p for p in fx("positions_get") if p["symbol"] == "NAS100"] == []  # hedging: the sell closed it
    fx.close()


def test_scenario_2_one_signal_on_every_platform_gives_one_averaged_report(dev: DevMesh) -> None:
    wait_for_quotes(dev, "NQ", NQ_VENUES)  # each leg's slippage is against its venue's quote
    reference = last_price(dev, "NQ")
    ex = dev.final(dev.signal("NQ", "buy", 1, reference_price=reference), timeout_s=40)
    assert ex.status is OrderStatus.FILLED, ex
    legs = {leg.venue: leg for leg in ex.legs}
    assert {v: (legs[v].venue_symbol, legs[v].venue_filled_qty) for v in NQ_VENUES} == {
        "nt8": (dev.venue_symbol("NQ", "nt8"), 1),  # "NQ 12-26"
        "sierra": (dev.venue_symbol("NQ", "sierra"), 1),  # "NQZ26"
        "quantower": (dev.venue_symbol("NQ", "quantower"), 1),
        "mt5-global": ("NAS100", 20),
        "bookmap": (dev.venue_symbol("NQ", "bookmap"), 1),  # its alias, "NQZ6"
    }
    # each leg in its own instrument; the report in NQ: the reference plus the exposure-weighted slippage
    assert all(leg.filled_quantity == 1 and leg.slippage_points is not None for leg in ex.legs)
    slip = sum(leg.slippage_points or 0.0 for leg in ex.legs) / len(ex.legs)
    assert ex.filled_quantity == 5 and ex.avg_price == pytest.approx(reference + slip)
    with sierra(dev) as dtc:
        assert dtc.submits(legs["sierra"].client_order_id) == 1  # once at the platform, over DTC
    fx = terminal(dev, "mt5-global")
    assert len(fx.orders_with(legs["mt5-global"].client_order_id)) == 1
    fx.close()
    closed = flat(dev, ex)
    assert closed.realized_pnl_usd == pytest.approx(
        sum(leg.realized_pnl_usd for leg in closed.legs), abs=0.01
    )


def test_scenario_3_duplicate_prevention_until_the_fill(dev: DevMesh) -> None:
    gw = NexusGatewayInterface(dev.sup.redis_url, namespace=dev.names.namespace, symbols=["NQ"])
    gw.start_listening()
    contract = dev.venue_symbol("NQ", "sierra")
    limit = round((last_price(dev, "NQ") - 25.0) * 4) / 4  # 100 ticks below: rests until the test moves it
    try:
        first = gw.send_signal("NQ", "BUY", 0.9, 1, order_type="limit", limit_price=limit, venues=["sierra"])
        wait_for(
            lambda: any(leg.status is OrderStatus.ACCEPTED for e in dev.executions(first) for leg in e.legs),
            timeout_s=30,
            what="the limit order working at Sierra",
        )
        second = gw.send_signal("NQ", "BUY", 0.9, 1, venues=["sierra"])  # before the fill: refused
        refused = dev.final(second)
        assert refused.status is OrderStatus.REJECTED and (refused.reason or "").startswith("duplicate"), (
            refused
        )
        [event] = dev.events("duplicate_signal", lambda e: e.signal_id == second)
        assert event.data["working_signal_id"] == first
        assert not [e for e in dev.executions(first) if e.final]
        with sierra(dev) as dtc:
            dtc.set_price(contract, limit - 1.0)  # the market trades through the limit: the order fills
        filled = dev.final(first, timeout_s=30)
        assert (filled.status, filled.legs[0].avg_price) == (OrderStatus.FILLED, limit)
        allowed = gw.send_signal("NQ", "SELL", 0.9, 1, venues=["sierra"])  # after the fill: allowed
        closed = dev.final(allowed, timeout_s=30)
        assert closed.status is OrderStatus.FILLED, closed
    finally:
        gw.stop()


def test_scenario_5_win_pnl_reaches_nexus_in_usd_at_the_rate_of_the_wdo_quote(dev: DevMesh) -> None:
    b3 = terminal(dev, "mt5-brazil")
    win, wdo = dev.contract("WIN"), dev.contract("WDO")
    b3.control.hold()  # the terminal's market stands still where the test sets it
    try:
        b3.control.set_quote(wdo, 5_489.5, 5_490.5, 5_490.0)  # BRL per USD 1,000: USDBRL 5.49
        b3.control.set_quote(win, 130_000.0, 130_000.0, 130_000.0)
        wait_for(lambda: _usdbrl(dev) == "5.49", timeout_s=30, what="the fx stage at the WDO quote's rate")
        buy = dev.final(dev.signal("WIN", "buy", 1, venues=("mt5-brazil",)), timeout_s=40)
        assert buy.status is OrderStatus.FILLED, buy
        assert (buy.legs[0].venue_symbol, buy.legs[0].avg_price) == (win, 130_000.0)
        b3.control.set_quote(win, 130_100.0, 130_100.0, 130_100.0)  # 100 points of profit: BRL 20
        sell = dev.final(dev.signal("WIN", "sell", 1, venues=("mt5-brazil",)), timeout_s=40)
        assert sell.status is OrderStatus.FILLED, sell
        assert sell.realized_pnl_usd == 3.64  # BRL 20.00 at 5.49
        assert (sell.legs[0].currency, sell.legs[0].avg_price) == ("BRL", 130_100.0)
        assert sell.fees_usd == 0.05  # the terminal's R$0.25 commission, converted
        assert [p for p in b3("positions_get") if p["symbol"] == win] == []
    finally:
        b3.control.hold(None, False)
        b3.close()


def test_a_platform_simulator_restarted_under_the_running_mesh(dev: DevMesh) -> None:
    opened = dev.final(dev.signal("NQ", "buy", 1, venues=("sierra",)), timeout_s=40)
    assert opened.status is OrderStatus.FILLED, opened
    assert "stopped sim-sierra" in nexusctl(dev, "stop", "sim-sierra").stdout
    wait_for(lambda: not dev.linked("sierra"), timeout_s=30, what="the Sierra adapter showing the link down")
    down = nexusctl(dev, "status", "--json", check=False)
    assert down.returncode == 1 and "venue sierra: link down" in json.loads(down.stdout)["problems"]

    refused = dev.final(dev.signal("NQ", "buy", 1, venues=("sierra",)))
    assert refused.status is OrderStatus.REJECTED, refused
    assert "sierra is not connected" in (refused.legs[0].reason or "")
    [event] = dev.events("risk_rejected", lambda e: e.signal_id == refused.signal_id)
    assert event.data["check"] == "venue_connected"
    assert [o for o in _orders(dev, "sierra") if o.signal_id == refused.signal_id] == []  # nothing sent

    assert "started sim-sierra" in nexusctl(dev, "start", "sim-sierra").stdout
    dev.wait_linked()
    # the adapter reconciled with the new platform process, which holds nothing: it says so
    contract = dev.venue_symbol("NQ", "sierra")
    [mismatch] = wait_for(
        lambda: dev.events("position_mismatch", lambda e: e.venue == "sierra"),
        timeout_s=30,
        what="the reconciliation's report",
    )
    data = dict(mismatch.data)
    assert data.pop("for_s") >= 2.0  # it outlived sierra's grace window
    assert data == {"venue_symbol": contract, "platform": 0.0, "gateway": 1.0, "difference": -1.0}
    back = dev.final(dev.signal("NQ", "sell", 1, venues=("sierra",)), timeout_s=40)
    assert back.status is OrderStatus.FILLED, back  # the venue is back
    assert nexusctl(dev, "status", "--json").returncode == 0


def test_scenario_4_the_nq_roll_changes_the_contract_not_the_signal(dev: DevMesh) -> None:
    rule = RollRule.from_registry("NQ", dev.registry.spec("NQ"))
    front = Contract.parse(dev.contract("NQ"))
    venues = ("nt8", "sierra", "quantower")
    before = dev.final(dev.signal("NQ", "buy", 1, venues=venues), timeout_s=40)
    assert before.status is OrderStatus.FILLED, before
    assert {leg.venue_symbol for leg in before.legs} == {dev.venue_symbol("NQ", v) for v in venues}

    (dev.sup.data_dir / "today").write_text(roll_date(front, rule).isoformat())
    following = next_contract(front, rule)
    wait_for(lambda: dev.contract("NQ") == following.code, timeout_s=30, what=f"the roll to {following}")
    [roll] = dev.events("contract_roll", lambda e: e.data.get("contract") == following.code)
    assert roll.data["previous"] == front.code
    after = dev.final(dev.signal("NQ", "sell", 1, venues=venues), timeout_s=40)  # the same universal signal
    assert after.status is OrderStatus.FILLED, after
    spelled = {v: dev.registry.venue_symbol("NQ", v, following) for v in venues}
    assert {leg.venue: leg.venue_symbol for leg in after.legs} == spelled  # e.g. "NQ 03-27", "NQH27"
    sent = {o.venue_symbol for o in _orders(dev, "sierra")}
    assert {dev.registry.venue_symbol("NQ", "sierra", front), spelled["sierra"]} <= sent
    # market data follows the roll: the adapters subscribe the new contract at their platforms
    for venue in ("nt8", "sierra"):
        wait_for(
            lambda v=venue: spelled[v] in {t.symbol for t in _ticks(dev, v)},
            timeout_s=30,
            what=f"{spelled[venue]} quotes from {venue}",
        )


def _decode(entry: tuple[bytes, dict[bytes, bytes]]) -> Any:
    return decode(entry[1])


def _orders(dev: DevMesh, venue: str) -> list[VenueOrder]:
    return [
        e.body for e in read_stream(dev.client, dev.names.orders(venue)) if isinstance(e.body, VenueOrder)
    ]


def _ticks(dev: DevMesh, venue: str) -> list[Tick]:
    entries = dev.client.xrevrange(dev.names.md_raw(venue), count=200) or []
    return [t for t in (e.body for e in map(_decode, entries)) if isinstance(t, Tick)]


def _usdbrl(dev: DevMesh) -> str | None:
    fx = [r for r in heartbeats(dev.client, dev.names, ttl_ms=10_000) if r.service == "fx"]
    return str(fx[0].detail.get("usdbrl")) if fx else None
