"""HTTP against the running ingress process (real redis-server): what each request gets back, and
that only a valid, authenticated, admitted request puts anything on the bridge intake."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
import redis

from nexus_protocol import Envelope, Execution, Names, OrderStatus, Side, Signal
from nexus_protocol.ids import keyed_signal_id
from nexus_testing import Services, read_stream, wait_for, xadd
from nexus_testing.ingress import RunningIngress, bridge_alive, start_ingress

ALERT = {"ticker": "CME_MINI:NQ1!", "action": "buy", "contracts": "1", "price": "18000.25"}
SIGNAL = {"symbol": "ES", "side": "sell", "quantity": 2, "confidence": 0.9}


def intake(client: redis.Redis, names: Names) -> list[Envelope[Any]]:
    return read_stream(client, names.bridge_intake)


def test_a_key_executes_once_and_its_replay_gets_the_first_answer(
    ingress: RunningIngress, client: redis.Redis, names: Names
) -> None:
    h = {**ingress.auth("tradingview"), "Idempotency-Key": "alert-42"}
    with httpx.Client(base_url=ingress.url, headers=h) as http:
        first = http.post("/webhooks/tradingview", json=ALERT)
        assert first.status_code == 202, first.text
        sid = first.json()["signal_id"]
        assert sid == keyed_signal_id("tradingview", "alert-42")
        assert first.headers["location"] == f"/signals/{sid}" and "idempotent-replayed" not in first.headers
        again = http.post("/webhooks/tradingview", json=ALERT)
        assert (again.status_code, again.content) == (202, first.content)
        assert again.headers["idempotent-replayed"] == "true"
        other = http.post("/webhooks/tradingview", json={**ALERT, "contracts": "2"})
        assert other.status_code == 422
        assert [e["field"] for e in other.json()["errors"]] == ["Idempotency-Key"]
        (entry,) = intake(client, names)
        assert entry.id == sid and isinstance(entry.body, Signal)
        assert (entry.body.signal_id, entry.body.symbol, entry.body.reference_price) == (sid, "NQ", 18000.25)
        assert (entry.body.confidence, entry.body.strategy) == (1.0, "tradingview")  # ingress.yaml

        view = http.get(f"/signals/{sid}").json()
        assert (view["status"], view["final"], view["execution"]) == ("accepted", False, None)
        assert view["signal"]["symbol"] == "NQ" and view["idempotency_key"] == "alert-42"
        ex = Execution(signal_id=sid, symbol="NQ", side=Side.BUY, quantity=1, status=OrderStatus.FILLED,
                       final=True, filled_quantity=1, avg_price=18000.5)  # fmt: skip
        xadd(client, names.executions, Envelope.new(ex, id=f"{sid}:x", trace=sid))  # as the fills stage does
        done = wait_for(lambda: http.get(f"/signals/{sid}").json()["final"], what="the execution in the view")
        assert done
        view = http.get(f"/signals/{sid}").json()
        assert view["status"] == "filled" and view["execution"]["avg_price"] == 18000.5
        mine = http.get(f"/signals/{sid}", headers=ingress.auth("algo"))
        assert mine.status_code == 404  # another source's signal is not shown
        assert http.get("/signals/not-a-signal-id").status_code == 404
    # the key in the body, the mesh's own JSON: another signal; its signal_id works as a key too
    with httpx.Client(base_url=ingress.url, headers=ingress.auth("algo")) as http:
        a = http.post("/signals", json={**SIGNAL, "signal_id": "nexus-1"})
        b = http.post("/signals", json={**SIGNAL, "idempotency_key": "nexus-1"})
        assert a.status_code == b.status_code == 202 and a.json() == b.json()
        assert a.json()["signal_id"] == keyed_signal_id("algo", "nexus-1")
        clash = http.post(
            "/signals", json={**SIGNAL, "idempotency_key": "x"}, headers={"Idempotency-Key": "y"}
        )
        assert clash.json()["errors"][0]["field"] == "idempotency_key"
        fresh = [http.post("/signals", json=SIGNAL).json()["signal_id"] for _ in range(2)]
        assert fresh[0] != fresh[1]  # no key: every call is a new signal
    assert len(intake(client, names)) == 4


BAD: list[tuple[str, Any, int, list[str]]] = [
    ("/webhooks/tradingview", b"{not json", 400, ["(body)"]),
    ("/webhooks/tradingview", b'{"contracts": NaN}', 400, ["(body)"]),
    ("/webhooks/tradingview", [ALERT], 422, ["(body)"]),
    ("/webhooks/tradingview", {**ALERT, "contracts": "{{strategy.order.contracts}}"}, 422, ["contracts"]),
    ("/webhooks/tradingview", {**ALERT, "ticker": "AAPL"}, 422, ["ticker"]),
    ("/webhooks/tradingview", {**ALERT, "action": "hold", "contracts": 0}, 422, ["action", "contracts"]),
    ("/webhooks/tradingview", {**ALERT, "qty": 1}, 422, ["qty"]),
    ("/webhooks/tradingview", {**ALERT, "order_type": "limit"}, 422, ["limit_price"]),
    ("/webhooks/tradingview", {**ALERT, "venues": ["mt5-brazil"]}, 422, ["venues.0"]),
    ("/signals", {**SIGNAL, "quantity": -1}, 422, ["quantity"]),
    ("/signals", {**SIGNAL, "symbol": "NQ9!"}, 422, ["symbol"]),
    ("/signals", {"side": "buy"}, 422, ["symbol", "quantity"]),
    ("/signals", {**SIGNAL, "token": "x"}, 422, ["token"]),
]


def test_a_bad_payload_gets_4xx_naming_the_field_and_nothing_enters_the_mesh(
    ingress: RunningIngress, client: redis.Redis, names: Names
) -> None:
    for path, body, status, fields in BAD:
        content = body if isinstance(body, bytes) else json.dumps(body).encode()
        r = httpx.post(ingress.url + path, content=content, headers=ingress.auth("tradingview"))
        assert r.status_code == status, (body, r.text)
        assert r.headers["content-type"] == "application/problem+json"
        problem = r.json()
        assert problem["status"] == status and [e["field"] for e in problem["errors"]] == fields, body
    assert intake(client, names) == []
    assert list(client.scan_iter(match=names.state("ingress") + "*")) == []


def test_only_a_known_token_gets_in(ingress: RunningIngress, client: redis.Redis, names: Names) -> None:
    url = ingress.url
    for headers in ({}, {"Authorization": "Bearer " + "z" * 40}, {"Authorization": "Basic eDp5"}):
        r = httpx.post(f"{url}/webhooks/tradingview", json=ALERT, headers=headers)
        assert r.status_code == 401 and r.headers["www-authenticate"].startswith("Bearer"), headers
    assert httpx.get(f"{url}/signals/{keyed_signal_id('tradingview', 'k')}").status_code == 401
    # TradingView cannot set headers: its token may ride in the body, on its own endpoint only
    in_body = {**ALERT, "token": ingress.tokens["tradingview"]}
    assert httpx.post(f"{url}/webhooks/tradingview", json=in_body).status_code == 202
    assert httpx.post(f"{url}/webhooks/tradingview", json={**ALERT, "token": "w" * 30}).status_code == 401
    assert httpx.post(f"{url}/signals", json={**SIGNAL, "token": ingress.tokens["algo"]}).status_code == 401
    assert httpx.post(f"{url}/webhooks/tradingview", content=b"x" * 70_000).status_code == 401
    big = httpx.post(f"{url}/webhooks/tradingview", content=b"x" * 70_000, headers=ingress.auth("algo"))
    assert big.status_code == 413
    assert len(intake(client, names)) == 1


def test_a_source_over_its_rate_waits_and_a_replay_is_free(
    services: Services, client: redis.Redis, names: Names, tmp_path: Path
) -> None:
    (tmp_path / "ingress.yaml").write_text(
        "sources:\n  algo: {rate_per_s: 0.2, burst: 2, default_confidence: 1}\n"
    )
    bridge_alive(client, names)
    ing = start_ingress(services, NX_INGRESS_CONFIG_FILE=str(tmp_path / "ingress.yaml"))
    with httpx.Client(base_url=ing.url, headers=ing.auth("algo")) as http:
        codes = [
            http.post("/signals", json={**SIGNAL, "idempotency_key": f"k{i}"}).status_code for i in range(2)
        ]
        limited = http.post("/signals", json={**SIGNAL, "idempotency_key": "k2"})
        assert codes == [202, 202] and limited.status_code == 429
        assert 1 <= int(limited.headers["retry-after"]) <= 5
        assert http.post("/signals", json={**SIGNAL, "idempotency_key": "k0"}).status_code == 202  # replay
        other = httpx.post(f"{ing.url}/signals", json=SIGNAL, headers=ing.auth("tradingview"))
        assert other.status_code == 202  # its own budget
    assert len(intake(client, names)) == 3


def test_nothing_is_accepted_while_the_bridge_is_not_running(
    ingress: RunningIngress, client: redis.Redis, names: Names
) -> None:
    assert httpx.get(f"{ingress.url}/health").status_code == 200
    bridge_alive(client, names, False)
    wait_for(
        lambda: httpx.get(f"{ingress.url}/health").status_code == 503, what="health to see the bridge gone"
    )
    r = httpx.post(f"{ingress.url}/webhooks/tradingview", json=ALERT, headers=ingress.auth("tradingview"))
    assert r.status_code == 503 and r.headers["retry-after"] == "5"
    assert intake(client, names) == []
    bridge_alive(client, names)
    h = ingress.auth("tradingview")
    again = lambda: httpx.post(f"{ingress.url}/webhooks/tradingview", json=ALERT, headers=h).status_code  # noqa: E731
    wait_for(lambda: again() == 202, what="accepted again")


def test_a_crash_between_record_and_publish_is_healed_by_the_replay(
    ingress: RunningIngress, client: redis.Redis, names: Names
) -> None:
    """The record is written before the publish; a crash in between leaves a record and no intake
    entry. The caller's retry (same key) publishes it: nothing is lost, nothing is doubled."""
    h = {**ingress.auth("tradingview"), "Idempotency-Key": "crash-1"}
    first = httpx.post(f"{ingress.url}/webhooks/tradingview", json=ALERT, headers=h)
    sid = first.json()["signal_id"]
    (entry_id, _fields), = client.xrange(names.bridge_intake)  # fmt: skip
    client.xdel(names.bridge_intake, entry_id)  # the state a crash before the publish leaves
    client.delete(Names.dedupe(names.bridge_intake, sid))
    again = httpx.post(f"{ingress.url}/webhooks/tradingview", json=ALERT, headers=h)
    assert (again.status_code, again.content) == (202, first.content)
    assert [e.id for e in intake(client, names)] == [sid]
    httpx.post(f"{ingress.url}/webhooks/tradingview", json=ALERT, headers=h)
    assert [e.id for e in intake(client, names)] == [sid]
