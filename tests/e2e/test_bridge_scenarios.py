"""The seed's scenarios 1 and 3 through the NEXUS bridge, every service its own process: the gateway
mesh, a simulated venue, the bridge service, and (scenario 1) the strategy host."""

from __future__ import annotations

import json
import threading
from pathlib import Path
from typing import Any

import pytest
import redis
from mesh import Mesh

from nexus_bridge import NexusGatewayInterface
from nexus_protocol import Envelope, Names, Signal, Tick
from nexus_testing import ServiceProcess, Services, read_stream, wait_for, xadd


def start_bridge(mesh: Mesh, **env: str) -> ServiceProcess:
    return mesh.start_bridge(**env)


def journal(path: Path, kind: str) -> list[dict[str, Any]]:
    if not path.exists():
        return []
    rows = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    return [r for r in rows if r["kind"] == kind]


def test_scenario_1_strategy_host_market_data_to_signal_to_fill_back_to_the_strategy(
    client: redis.Redis, names: Names, services: Services, tmp_path: Path
) -> None:
    mesh = Mesh(services, client, names, "single", ("sim",)).start()
    mesh.set_price("sim", "NQ", 21000.0)
    start_bridge(mesh)
    out = tmp_path / "journal.jsonl"
    host = services.start(
        "nexus_bridge.cli",
        "run",
        "--strategy",
        "nexus_bridge.examples.momentum:strategy",
        "--symbols",
        "NQ",
        "--param",
        "lookback=3",
        "--param",
        "threshold_points=5",
        "--journal",
        str(out),
        name="host",
    )
    wait_for(lambda: journal(out, "started"), timeout_s=20, what="the strategy host")
    seen = client.xlen(names.md("NQ"))
    wait_for(lambda: client.xlen(names.md("NQ")) >= seen + 2, what="NQ ticks at 21000 reaching the strategy")
    mesh.set_price("sim", "NQ", 21010.0)  # a 10-point move: the momentum strategy buys
    [sent] = wait_for(lambda: journal(out, "signal"), timeout_s=15, what="the strategy's signal")
    sid = sent["signal_id"]
    assert sent["signal"]["side"] == "BUY" and sent["reference_price"] == 21010.0

    def final() -> dict[str, Any] | None:
        done = [r["execution"] for r in journal(out, "execution") if r["execution"]["final"]]
        return done[0] if done else None

    ex = wait_for(final, timeout_s=20, what="the fill back at the strategy")
    assert ex["signal_id"] == sid and ex["status"] == "filled" and ex["filled_quantity"] == 1
    assert ex["avg_price"] == 21010.0 and ex["legs"][0]["venue_symbol"] == "NQH25"
    [sig] = [e.body for e in read_stream(client, names.signals) if isinstance(e.body, Signal)]
    assert sig.signal_id == sid and sig.confidence == 0.8 and sig.mqscore == 0.8 and sig.noise == 0.2
    wait_for(lambda: f"momentum execution NQ {sid}: filled" in host.log(), what="the strategy's on_execution")
    assert host.terminate() == 0


class EveryTickBuys:
    """The scenario's strategy, in the test process on the client API: every NQ tick sends a buy."""

    def __init__(self, gw: NexusGatewayInterface) -> None:
        self.gw = gw
        self.lock = threading.Lock()
        self.sent: list[str] = []
        self.executions: dict[str, list[dict[str, Any]]] = {}
        self.sending = threading.Event()
        self.sending.set()
        gw.set_market_data_callback(self.on_tick)
        gw.set_execution_callback(self.on_execution)

    def on_tick(self, tick: dict[str, Any]) -> None:
        if self.sending.is_set():
            sid = self.gw.send_signal("NQ", "BUY", 0.9, 1, reference_price=tick["price"])
            with self.lock:
                self.sent.append(sid)

    def on_execution(self, ex: dict[str, Any]) -> None:
        with self.lock:
            self.executions.setdefault(ex["signal_id"], []).append(ex)

    def since(self, n: int) -> list[str]:
        with self.lock:
            return self.sent[n:]

    def seen(self, sid: str) -> list[tuple[str, bool, str]]:
        with self.lock:
            return [(e["status"], e["final"], e["reason"] or "") for e in self.executions.get(sid, [])]

    def duplicates(self, after: int) -> list[str]:
        return [
            s for s in self.since(after) if any(f and r.startswith("duplicate") for _st, f, r in self.seen(s))
        ]

    def working(self, sid: str) -> bool:
        return bool(self.seen(sid)) and not any(final for _st, final, _r in self.seen(sid))


def feed(client: redis.Redis, names: Names, n: int) -> None:
    """More NQ data, from a feed of the test's own."""
    for i in range(n):
        xadd(
            client,
            names.md("NQ"),
            Envelope.new(Tick(venue="feed", symbol="NQ", last=21000.0), id=f"feed:{i}"),
        )


@pytest.mark.slow
def test_scenario_3_duplicate_prevention_until_the_fill(
    client: redis.Redis, names: Names, services: Services
) -> None:
    # The venue takes 2.5 s to fill (NX_SIM_LATENCY_MS): the first signal stays working that long.
    mesh = Mesh(services, client, names, "single", ("sim",), NX_SIM_LATENCY_MS="2500").start()
    mesh.set_price("sim", "NQ", 21000.0)
    start_bridge(mesh)
    gw = NexusGatewayInterface(services.redis_url, namespace=names.namespace, symbols=["NQ"])
    strat = EveryTickBuys(gw)
    gw.start_listening()
    try:
        # 1. NQ data generates a signal; the venue works on it (routed, no fill yet).
        first = wait_for(lambda: strat.since(0)[:1], timeout_s=15, what="a first signal")[0]
        wait_for(lambda: strat.working(first), what="the first signal routed and working")
        # 2-3. More NQ data before the fill: the signals it generates are refused as duplicates.
        feed(client, names, 2)
        dupes = wait_for(
            lambda: d if len(d := strat.duplicates(1)) >= 2 else None, what="two duplicates refused"
        )
        assert strat.working(first), "refused while the first signal was still working"
        events = [e.body for e in read_stream(client, names.events) if e.body.kind == "duplicate_signal"]
        assert {e.signal_id for e in events} >= set(dupes)
        assert all(e.data["working_signal_id"] == first for e in events)
        # 4. The simulated fill arrives.
        wait_for(
            lambda: ("filled", True, "") in strat.seen(first), timeout_s=15, what="the first signal's fill"
        )
        before = len(strat.since(0))
        # 5-6. More NQ data: a new signal is allowed, routed and filled.
        feed(client, names, 1)
        new = wait_for(
            lambda: next((s for s in strat.since(before) if strat.working(s)), None),
            timeout_s=15,
            what="a new signal allowed after the fill",
        )
        strat.sending.clear()
        wait_for(lambda: ("filled", True, "") in strat.seen(new), timeout_s=15, what="the new signal's fill")
        routed = {e.body.signal_id for e in read_stream(client, names.signals) if isinstance(e.body, Signal)}
        assert {first, new} <= routed and not routed & set(dupes)
    finally:
        strat.sending.clear()
        gw.stop()
