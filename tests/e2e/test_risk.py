"""Every pre-trade limit refuses through the running mesh: an event with the check and a final
rejected execution with the reason, never silence."""

from __future__ import annotations

import shutil
from pathlib import Path

import redis
import yaml
from mesh import Mesh

from nexus_bridge import NexusGatewayInterface
from nexus_gateway.router.state import RiskState
from nexus_mesh.killswitch import KillSwitch
from nexus_protocol import Names, OrderStatus
from nexus_testing import REPO_ROOT, Services, wait_for


def config_with(tmp: Path, **limits: object) -> Path:
    cfg = tmp / "config"
    shutil.copytree(REPO_ROOT / "deploy" / "config", cfg)
    risk = yaml.safe_load((cfg / "risk.yaml").read_text())
    risk["default"].update(limits)
    (cfg / "risk.yaml").write_text(yaml.safe_dump(risk))
    return cfg


def test_each_limit_refuses_with_its_reason(
    client: redis.Redis, names: Names, services: Services, tmp_path: Path
) -> None:
    cfg = config_with(
        tmp_path,
        max_position_per_symbol=2,
        max_daily_loss_usd=100,
        max_daily_trades=8,
        throttle_per_second=50,
        per_symbol={"NQ": {"max_position_value_usd": 2_500_000}, "ES": {"max_position_value_usd": 100_000}},
    )
    mesh = Mesh(services, client, names, "single", ("sim",), NX_CONFIG_DIR=str(cfg)).start()
    mesh.set_price("sim", "NQ", 21000.0)
    wait_for(lambda: client.hget(names.state("md", "last"), "NQ"), what="NQ market price for the collar")

    def refused(sid: str, check: str) -> str:
        ex = mesh.final(sid)
        assert ex.status is OrderStatus.REJECTED, ex
        events = mesh.events("risk_rejected", lambda e: e.signal_id == sid)
        assert [e.data["check"] for e in events] == [check], events
        return ex.reason or ex.legs[0].reason or ""

    assert "exceeds the limit of 10" in refused(mesh.signal("NQ", "buy", 11), "max_order_qty")
    assert "from the last market price" in refused(
        mesh.signal("NQ", "buy", 1, reference_price=22000.0), "price_collar"
    )
    assert "position value" in refused(
        mesh.signal("ES", "buy", 1, reference_price=6000.0), "max_position_value"
    )

    ks = KillSwitch(client, names)
    ks.set(True, reason="e2e test", by="test")
    assert "kill switch is on: e2e test" in refused(mesh.signal("NQ", "buy", 1), "kill_switch")
    ks.set(False, reason="e2e test done", by="test")

    assert mesh.final(mesh.signal("NQ", "buy", 2)).status is OrderStatus.FILLED
    assert "position would be 3" in refused(mesh.signal("NQ", "buy", 1), "max_position_per_symbol")

    mesh.set_price("sim", "NQ", 20990.0)  # sell the 2 at 10 points lower: USD -400 realized
    assert mesh.final(mesh.signal("NQ", "sell", 2)).realized_pnl_usd == -400.0
    wait_for(
        lambda: (
            float(client.hget(names.state("router", "day", _day(client, names), "totals"), "pnl") or 0)
            <= -400
        ),
        what="the router to count the loss",
    )
    assert "loss limit" in refused(mesh.signal("NQ", "buy", 1), "max_daily_loss")

    mesh.procs["venue-sim"].sigkill()
    client.delete(names.control("venue", "sim"))  # as when its heartbeat expires
    ex = mesh.final(mesh.signal("NQ", "sell", 1, reduce_only=True))
    assert ex.status is OrderStatus.REJECTED and "not connected" in (ex.legs[0].reason or "")


def _day(client: redis.Redis, names: Names) -> str:
    keys = [k.decode() for k in client.scan_iter(match=names.state("router", "day") + ":*:totals")]
    return keys[0].split(":")[-2]


def test_throttle_refuses_a_burst(
    client: redis.Redis, names: Names, services: Services, tmp_path: Path
) -> None:
    cfg = config_with(
        tmp_path,
        throttle_per_second=3,
        max_daily_trades=1000,
        max_position_per_symbol=100,
        max_total_position=1000,
        max_order_qty=100,
        per_symbol={},
    )
    mesh = Mesh(services, client, names, "single", ("sim",), NX_CONFIG_DIR=str(cfg)).start()
    sids = [mesh.signal("US30", "buy", 0.01) for _ in range(10)]
    finals = [mesh.final(s) for s in sids]
    throttled = [
        e for e in finals if e.status is OrderStatus.REJECTED and "signals in one second" in (e.reason or "")
    ]
    assert 1 <= len(throttled) <= 7
    assert len(mesh.events("risk_rejected", lambda e: e.data.get("check") == "throttle")) == len(throttled)


def test_kill_switch_cancels_working_orders_at_the_venues(
    client: redis.Redis, names: Names, services: Services
) -> None:
    mesh = Mesh(services, client, names, "sim", ("nt8", "sierra")).start()
    mesh.set_price("nt8", "NQ", 21000.0)
    mesh.set_price("sierra", "NQ", 21000.0)
    assert mesh.final(mesh.signal("NQ", "buy", 2, venues=("nt8",))).status is OrderStatus.FILLED
    sid = mesh.signal("NQ", "buy", 1, order_type="limit", limit_price=20900.0, venues=("nt8", "sierra"))
    wait_for(
        lambda: any(
            all(leg.status is OrderStatus.ACCEPTED for leg in e.legs) and len(e.legs) == 2
            for e in mesh.executions(sid)
        ),
        what="both limit orders working",
    )
    KillSwitch(client, names).set(True, reason="operator test", by="test")
    ex = mesh.final(sid)
    assert ex.status is OrderStatus.CANCELLED
    assert {leg.status for leg in ex.legs} == {OrderStatus.CANCELLED}
    applied = mesh.events("killswitch_applied")
    assert {e.venue for e in applied} == {"nt8", "sierra"}
    refused = mesh.final(mesh.signal("NQ", "buy", 1, venues=("nt8",)))
    assert refused.status is OrderStatus.REJECTED and "kill switch" in (refused.reason or "")
    # Judged per venue against the router's book: nt8 is long 2 (a sell reduces it), sierra is flat.
    book = RiskState(names).exposure
    wait_for(lambda: float(client.hget(book, "sierra|NQ") or 1) == 0, what="the cancels in the router's book")
    closing = mesh.final(mesh.signal("NQ", "sell", 1))
    legs = {leg.venue: leg for leg in closing.legs}
    assert legs["nt8"].status is OrderStatus.FILLED, closing
    assert legs["sierra"].status is OrderStatus.REJECTED
    assert "would take sierra NQ from 0 to -1" in (legs["sierra"].reason or "")
    flip = mesh.final(mesh.signal("NQ", "sell", 2, venues=("nt8",)))  # long 1 to short 1: new exposure
    assert flip.status is OrderStatus.REJECTED and "from 1 to -1" in (flip.reason or "")
    # NEXUS closes the rest through the client API, flagged reduce_only.
    mesh.start_bridge(NX_BRIDGE_VENUE_GUARD="false")
    with NexusGatewayInterface(services.redis_url, namespace=names.namespace, symbols=["NQ"]) as gw:
        sid = gw.send_signal("NQ", "SELL", 0.9, 1, venues=("nt8",), reduce_only=True)
        assert mesh.final(sid).status is OrderStatus.FILLED
    wait_for(lambda: float(client.hget(book, "nt8|NQ") or 1) == 0, what="nt8 flat in the router's book")
