"""Each bridge guard through the running mesh, every service its own process: the filters, the
circuit breakers (consecutive losses, daily loss with the kill switch), the venue guard and the
duplicate timeout - each with its event, and a rejected execution heard by the client. (Scenario 3
in test_bridge_scenarios.py covers duplicate prevention itself.)"""

from __future__ import annotations

import threading
import time
from typing import Any

import pytest
import redis
from mesh import Mesh

from nexus_bridge import NexusGatewayInterface
from nexus_bridge.wire import status_key
from nexus_mesh.killswitch import KillSwitch
from nexus_protocol import Event, Names, Signal
from nexus_testing import Services, read_stream, wait_for


class Nexus:
    """NEXUS on the client API: send signals, wait for their final executions."""

    def __init__(self, mesh: Mesh, **bridge_env: str) -> None:
        mesh.services.start(
            "nexus_bridge", name="bridge", **mesh.env, NX_BRIDGE_TICK_INTERVAL_S="0.2", **bridge_env
        )
        wait_for(lambda: mesh.client.exists(status_key(mesh.names)), timeout_s=20, what="the bridge service")
        self.mesh = mesh
        self.gw = NexusGatewayInterface(
            mesh.services.redis_url, namespace=mesh.names.namespace, symbols=["NQ"]
        )
        self.lock = threading.Lock()
        self.finals: dict[str, dict[str, Any]] = {}
        self.gw.set_execution_callback(self._on_execution)
        self.gw.start_listening()

    def _on_execution(self, ex: dict[str, Any]) -> None:
        if ex["final"]:
            with self.lock:
                self.finals[ex["signal_id"]] = ex

    def send(
        self, side: str = "BUY", quantity: float = 1, confidence: float = 0.9, **kw: Any
    ) -> dict[str, Any]:
        sid = self.gw.send_signal("NQ", side, confidence, quantity, **kw)
        return wait_for(lambda: self.finals.get(sid), timeout_s=20, what=f"the final execution of {sid}")  # type: ignore[no-any-return]

    def trade(self, side: str, price: float, quantity: float = 1) -> dict[str, Any]:
        self.mesh.set_price("sim", "NQ", price)
        ex = self.send(side, quantity)
        assert ex["status"] == "filled", ex
        return ex

    def events(self, kind: str) -> list[Event]:
        return [
            e.body
            for e in read_stream(self.mesh.client, self.mesh.names.events)
            if isinstance(e.body, Event) and e.body.kind == kind
        ]

    def close(self) -> None:
        self.gw.stop()


@pytest.fixture
def single(client: redis.Redis, names: Names, services: Services) -> Mesh:
    mesh = Mesh(services, client, names, "single", ("sim",)).start()
    mesh.set_price("sim", "NQ", 21000.0)
    return mesh


def test_filters_and_the_duplicate_timeout(single: Mesh) -> None:
    """Each filter refuses with its event and a rejected execution; then a symbol whose legs never end
    is released by the duplicate timeout (2 s here) with a critical alert."""
    nexus = Nexus(single, NX_BRIDGE_DUPLICATE_TIMEOUT_S="2")
    try:
        cases = [
            ({"confidence": 0.6}, "confidence", 0.6, 0.65),
            ({"mqscore": {"composite": 0.4, "noise_level": 0.1}}, "mqscore", 0.4, 0.5),
            ({"mqscore": {"composite": 0.9, "noise_level": 0.8}}, "noise", 0.8, 0.7),
            ({"confidence": 0.7}, "min_quantity", 0.5, 1.0),  # half of one NQ contract is less than a lot
        ]
        for kwargs, name, value, threshold in cases:
            ex = nexus.send(**kwargs)
            assert ex["status"] == "rejected" and ex["reason"].startswith(f"{name}:"), ex
            [ev] = [e for e in nexus.events("signal_filtered") if e.signal_id == ex["signal_id"]]
            assert ev.data == {"filter": name, "value": value, "threshold": threshold}
        half = nexus.send(quantity=3, confidence=0.7)  # 3 x 0.5 = 1.5, rounded down to 1 contract
        assert half["status"] == "filled" and half["filled_quantity"] == 1
        [resized] = nexus.events("signal_resized")
        assert resized.data["from"] == 3 and resized.data["to"] == 1
        routed = [
            e.body for e in read_stream(single.client, single.names.signals) if isinstance(e.body, Signal)
        ]
        assert [s.signal_id for s in routed] == [half["signal_id"]]
        # A buy limit far below the market rests and never fills: its legs never end.
        stuck = nexus.gw.send_signal("NQ", "BUY", 0.9, 1, order_type="limit", limit_price=20900.0)
        dup = nexus.send("BUY")
        assert dup["status"] == "rejected" and dup["reason"].startswith("duplicate:")
        [ev] = wait_for(lambda: nexus.events("duplicate_timeout"), timeout_s=10, what="the timeout alert")
        assert ev.signal_id == stuck and ev.severity.value == "critical" and ev.data["value"] >= 2
        assert nexus.send("BUY")["status"] == "filled"  # the symbol is free again
    finally:
        nexus.close()


def test_five_losing_trades_pause_trading(single: Mesh) -> None:
    nexus = Nexus(single)
    try:
        for _ in range(
            5
        ):  # buy at 21000, sell at 20995: USD -100 each, USD -500 in all (under the daily limit)
            nexus.trade("BUY", 21000.0)
            assert nexus.trade("SELL", 20995.0)["realized_pnl_usd"] == -100.0
        [trip] = wait_for(lambda: nexus.events("circuit_breaker_tripped"), what="the breaker")
        assert (
            trip.data["check"] == "consecutive_losses"
            and trip.data["value"] == 5
            and trip.severity.value == "critical"
        )
        ex = nexus.send("BUY")
        assert ex["status"] == "rejected" and ex["reason"].startswith("consecutive_losses:")
        [ev] = nexus.events("circuit_breaker_open")
        assert ev.signal_id == ex["signal_id"] and ev.data["threshold"] == 5
        assert 3500 < (ev.data["until_ms"] - time.time() * 1000) / 1000 <= 3600  # paused for an hour
        assert not KillSwitch(single.client, single.names).active()
    finally:
        nexus.close()


def test_daily_loss_pauses_and_turns_the_kill_switch_on(single: Mesh) -> None:
    nexus = Nexus(single)
    try:
        nexus.trade("BUY", 21000.0, quantity=5)
        assert (
            nexus.trade("SELL", 20990.0, quantity=5)["realized_pnl_usd"] == -1000.0
        )  # 5 x 10 points x USD 20
        trip = wait_for(
            lambda: [e for e in nexus.events("circuit_breaker_tripped") if e.data["check"] == "daily_loss"],
            what="the daily loss breaker",
        )[0]
        assert trip.data["value"] == -1000.0 and trip.data["threshold"] == -1000.0
        wait_for(lambda: KillSwitch(single.client, single.names).active(), what="the kill switch on")
        assert [e for e in nexus.events("killswitch") if e.data["on"]]
        ex = nexus.send("BUY")
        assert ex["status"] == "rejected" and ex["reason"].startswith("daily_loss:")
    finally:
        nexus.close()


@pytest.mark.slow
def test_a_venue_disconnect_pauses_that_venue_and_alerts(
    client: redis.Redis, names: Names, services: Services
) -> None:
    mesh = Mesh(services, client, names, "sim", ("nt8", "sierra"), NX_HEARTBEAT_TTL_MS="1000").start()
    nexus = Nexus(mesh)
    try:
        # quantower and mt5-global trade NQ in dev but run no adapter here: paused from the start.
        wait_for(
            lambda: {e.venue for e in nexus.events("venue_disconnected")} >= {"quantower", "mt5-global"},
            what="alerts for the venues without an adapter",
        )
        both = nexus.send("BUY")
        assert both["status"] == "filled" and {leg["venue"] for leg in both["legs"]} == {"nt8", "sierra"}
        mesh.procs["venue-sierra"].sigkill()
        [alert] = wait_for(
            lambda: [e for e in nexus.events("venue_disconnected") if e.venue == "sierra"],
            timeout_s=15,
            what="the sierra alert",
        )
        assert alert.severity.value == "critical"
        one = nexus.send("SELL")
        assert one["status"] == "filled" and [leg["venue"] for leg in one["legs"]] == ["nt8"]
        [sig] = [
            e.body
            for e in read_stream(client, names.signals)
            if isinstance(e.body, Signal) and e.body.signal_id == one["signal_id"]
        ]
        assert sig.venues == ("nt8",)
        mesh.procs["venue-nt8"].sigkill()
        wait_for(
            lambda: [e for e in nexus.events("venue_disconnected") if e.venue == "nt8"],
            timeout_s=15,
            what="the nt8 alert",
        )
        none = nexus.send("BUY")
        assert none["status"] == "rejected" and none["reason"].startswith("venue_connected:")
        assert [e.signal_id for e in nexus.events("venue_unavailable")] == [none["signal_id"]]
    finally:
        nexus.close()
