"""The ingress with the whole mesh, every service its own process: a TradingView alert and a mesh
signal over HTTP, through the bridge's guards to every connected venue, exactly once per key, and
each call's answer and execution read back over HTTP - also across a kill -9 of the ingress."""

from __future__ import annotations

import time
from typing import Any

import httpx
import pytest
import redis
from mesh import Mesh

from nexus_protocol import Names, Order, Signal
from nexus_testing import Services, read_stream, wait_for
from nexus_testing.ingress import RunningIngress, start_ingress

VENUES = ("nt8", "sierra", "mt5-global")  # in dev NQ also trades on quantower: no adapter, paused


@pytest.fixture
def mesh(client: redis.Redis, names: Names, services: Services) -> Mesh:
    m = Mesh(services, client, names, "dev", VENUES).start()
    for v in VENUES:
        m.set_price(v, "NQ", 21000.0)
    m.start_bridge()
    return m


def final_view(ing: RunningIngress, source: str, sid: str, timeout_s: float = 30) -> dict[str, Any]:
    def done() -> dict[str, Any] | None:
        view: dict[str, Any] = httpx.get(f"{ing.url}/signals/{sid}", headers=ing.auth(source)).json()
        return view if view["final"] else None

    return wait_for(done, timeout_s=timeout_s, interval_s=0.1, what=f"the final execution of {sid}")  # type: ignore[no-any-return]


def orders_of(mesh: Mesh, sid: str) -> dict[str, int]:
    out = {}
    for v in VENUES:
        out[v] = sum(
            1
            for e in read_stream(mesh.client, mesh.names.orders(v))
            if isinstance(e.body, Order) and e.body.signal_id == sid
        )
    return out


def test_one_alert_executes_once_on_every_venue_and_each_call_gets_the_first_answer(mesh: Mesh) -> None:
    ing = start_ingress(mesh.services, **mesh.env)
    alert = {"ticker": "CME_MINI:NQ1!", "action": "buy", "contracts": "2", "price": "21000",
             "idempotency_key": "strategy-7-entry-1"}  # fmt: skip
    h = ing.auth("tradingview")
    answers = [httpx.post(f"{ing.url}/webhooks/tradingview", json=alert, headers=h) for _ in range(3)]
    assert [a.status_code for a in answers] == [202] * 3
    assert answers[1].content == answers[0].content == answers[2].content
    sid = answers[0].json()["signal_id"]
    view = final_view(ing, "tradingview", sid)
    ex = view["execution"]
    assert (view["status"], ex["filled_quantity"], ex["symbol"]) == ("filled", 2.0 * len(VENUES), "NQ"), ex
    assert {leg["venue"] for leg in ex["legs"]} == set(VENUES)
    again = httpx.post(f"{ing.url}/webhooks/tradingview", json=alert, headers=h)  # after the fill
    assert (again.status_code, again.content) == (202, answers[0].content)
    time.sleep(1.0)  # anything doubled would have reached the venues by now
    assert orders_of(mesh, sid) == dict.fromkeys(VENUES, 1)
    signals = [e for e in read_stream(mesh.client, mesh.names.signals) if isinstance(e.body, Signal)]
    assert [s.id for s in signals] == [sid]
    # NQ2!: the next contract, resolved by the normalizer with the rollover calendar (NQH25 is active)
    second = {**alert, "ticker": "NQ2!", "idempotency_key": "n2"}
    nxt = httpx.post(f"{ing.url}/webhooks/tradingview", json=second, headers=h)
    view = final_view(ing, "tradingview", nxt.json()["signal_id"])
    legs = {leg["venue"]: (leg["venue_symbol"], leg["contract"]) for leg in view["execution"]["legs"]}
    assert legs == {
        "nt8": ("NQ 06-25", "NQM25"),
        "sierra": ("NQM25", "NQM25"),
        "mt5-global": ("NAS100", None),
    }


def test_a_refusal_is_an_answer_and_a_kill_9_loses_nothing(mesh: Mesh) -> None:
    ing = start_ingress(mesh.services, **mesh.env)
    h = ing.auth("algo")  # no default confidence in ingress.yaml: the payload's own counts
    doubtful = {"symbol": "NQ", "side": "buy", "quantity": 1, "confidence": 0.5}
    low = httpx.post(f"{ing.url}/signals", json=doubtful, headers=h)
    assert low.status_code == 202
    view = final_view(ing, "algo", low.json()["signal_id"])
    assert view["status"] == "rejected" and view["execution"]["reason"].startswith("confidence:")

    body = {"symbol": "NQ1!", "side": "sell", "quantity": 1, "confidence": 0.9, "idempotency_key": "k-9"}
    first = httpx.post(f"{ing.url}/signals", json=body, headers=h)
    assert first.status_code == 202
    ing.proc.sigkill()  # its execution arrives while no ingress runs
    sid = first.json()["signal_id"]
    wait_for(lambda: sum(orders_of(mesh, sid).values()) == len(VENUES), timeout_s=30, what="the legs")
    ing.restart()
    replay = httpx.post(f"{ing.url}/signals", json=body, headers=h)
    assert (replay.status_code, replay.content) == (202, first.content)
    view = final_view(ing, "algo", sid)  # read from the group's backlog after the restart
    assert view["status"] == "filled" and view["execution"]["filled_quantity"] == len(VENUES)
    time.sleep(1.0)
    assert orders_of(mesh, sid) == dict.fromkeys(VENUES, 1)
