"""Every input gets an answer (issue 15): impossible venue reports XADDed to nx:{fills:raw} are
dead-lettered at once with their reason and an event, and no position moves; a poison signal (a bad
id, a body the schema refuses, a text over its limit) gets its final rejected execution and never
locks its symbol. Each service its own process."""

from __future__ import annotations

import time

import msgspec
import pytest
import redis
from mesh import Mesh

from nexus_bridge import NexusGatewayInterface
from nexus_bridge.errors import SignalError
from nexus_bridge.state import OWNER, BridgeKeys
from nexus_gateway.fills.positions import VenuePosition
from nexus_protocol import DeadLetter, Fill, Names, OrderStatus, Side, Signal
from nexus_protocol.codec import Envelope
from nexus_protocol.ids import derived_id, new_signal_id
from nexus_testing import Services, read_stream, wait_for, xadd


def positions(client: redis.Redis, names: Names) -> dict[str, float]:
    raw = client.hgetall(names.state("fills", "positions"))
    return {k.decode(): msgspec.msgpack.decode(v, type=VenuePosition).quantity for k, v in raw.items()}


def dead_letters(client: redis.Redis, names: Names) -> list[DeadLetter]:
    return [e.body for e in read_stream(client, names.dlq) if isinstance(e.body, DeadLetter)]


def test_every_input_gets_an_answer(client: redis.Redis, names: Names, services: Services) -> None:
    """One mesh for both halves (a mesh start is most of an end-to-end test's time)."""
    mesh = Mesh(services, client, names, "single", ("sim",)).start()
    mesh.set_price("sim", "NQ", 21000.0)
    mesh.start_bridge()
    impossible_fills_are_dead_lettered_at_once_and_move_no_position(mesh)
    every_signal_gets_one_final_execution_and_a_poison_signal_locks_no_symbol(mesh, services)


def impossible_fills_are_dead_lettered_at_once_and_move_no_position(mesh: Mesh) -> None:
    client, names = mesh.client, mesh.names
    sid = mesh.signal("NQ", "buy", 3)
    assert mesh.final(sid).status is OrderStatus.FILLED
    raw = read_stream(client, names.fills_raw)
    real = next(e.body for e in raw if isinstance(e.body, Fill) and e.body.last_qty)
    before = positions(client, names)
    assert list(before.values()) == [3.0]

    def report(tag: str, **changes: object) -> Fill:
        return real.replace(fill_id=derived_id(real.client_order_id, "x", tag), **changes)

    bad = {
        "negative": report("neg", last_qty=-5.0, cum_qty=0.0, status=OrderStatus.PARTIALLY_FILLED),
        "zero filled": report("zero", last_qty=0.0, cum_qty=0.0, status=OrderStatus.FILLED),
        "overfill": report("over", last_qty=2.0, cum_qty=5.0, status=OrderStatus.FILLED),
        "stranger": report("hello", client_order_id="hello"),
        "unknown symbol": report("sym", venue_symbol="NOPE 03-25", symbol=None, contract=None),
    }
    for body in bad.values():
        xadd(client, names.fills_raw, Envelope.new(body, id=body.fill_id, trace=sid))
    letters = wait_for(
        lambda: (d := dead_letters(client, names)) and len(d) >= len(bad) and d,
        timeout_s=30, what="a dead letter for each impossible fill",
    )  # fmt: skip
    reasons = sorted(d.reason for d in letters)
    assert len(letters) == len(bad), reasons
    assert all(d.deliveries == 1 for d in letters), letters  # permanent: never retried
    whys = ("negative or no number", "nothing filled", "more than the order's 3", "unknown client order id")
    for why in (*whys, "unknown venue symbol"):
        assert sum(why in r for r in reasons) == 1, (why, reasons)
    assert all(d.fields.get("data") for d in letters)  # the original body, to replay once fixed
    events = wait_for(lambda: len(e := mesh.events("fill_refused")) == len(bad) and e, what="five events")
    assert all(e.severity.value == "critical" for e in events)
    assert positions(client, names) == before
    assert [e.filled_quantity for e in mesh.executions(sid)][-1] == 3  # no execution counted them


def every_signal_gets_one_final_execution_and_a_poison_signal_locks_no_symbol(
    mesh: Mesh, services: Services
) -> None:
    client, names = mesh.client, mesh.names
    keys = BridgeKeys(names)
    gw = NexusGatewayInterface(services.redis_url, namespace=names.namespace, symbols=["NQ"])
    gw.connect()
    try:
        with pytest.raises(SignalError, match="holds 'U'"):  # the client API: refused before sending
            gw.send_signal("NQ", "BUY", 0.9, 1, signal_id=new_signal_id()[:-1] + "U")
        # Another client XADDs such an id to the intake: a final rejected execution saying why.
        bad = new_signal_id()[:-1]
        sig = Signal(signal_id=bad, symbol="NQ", side=Side.BUY, quantity=1, confidence=0.9)
        xadd(client, names.bridge_intake, Envelope.new(sig, id=bad))
        assert "has 25 characters" in (mesh.final(bad).reason or "")
        assert not client.hexists(keys.working, "NQ")
        # A signal the bridge passed (NQ held for it) that the router cannot take: dead-lettered there,
        # answered with a final rejected execution, and NQ released for the next signal.
        poison = new_signal_id()
        client.hset(keys.working, "NQ", f"{poison}|{int(time.time() * 1000)}")
        client.set(names.state(OWNER, "version"), "test")  # as another writer would: the bridge rereads
        body = Signal(signal_id=poison, symbol="NQ", side=Side.BUY, quantity=-1.0)  # the schema refuses it
        xadd(client, names.signals, Envelope.new(body, id=poison))
        ex = mesh.final(poison)
        assert ex.status is OrderStatus.REJECTED and (ex.reason or "").startswith(
            "dead-lettered: invalid entry"
        )
        [letter] = [d for d in dead_letters(client, names) if d.stream == names.signals]
        assert letter.deliveries == 1 and "quantity" in letter.reason
        assert mesh.events("signal_dead_lettered", lambda e: e.signal_id == poison)
        wait_for(lambda: not client.hexists(keys.working, "NQ"), what="the bridge to release NQ")
        sid = gw.send_signal("NQ", "BUY", 0.9, 1)
        assert mesh.final(sid).status is OrderStatus.FILLED  # not refused as a duplicate
        # Sizes are bounded where signals enter: a 5,000-character strategy is refused with why.
        long = new_signal_id()
        body = Signal(signal_id=long, symbol="ES", side=Side.BUY, quantity=1, strategy="x" * 5000)
        xadd(client, names.signals, Envelope.new(body, id=long))
        assert "strategy is 5,000 characters, over the limit of 128" in (mesh.final(long).reason or "")
    finally:
        gw.stop()
