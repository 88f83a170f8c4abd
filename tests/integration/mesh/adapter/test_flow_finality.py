"""Every order an adapter takes gets an answer, also when Redis or the platform link goes in the middle
(both found by the storm, tests/chaos/storm):
- the adapter refused an order (its link was down) and Redis went before the refusal was published:
  the redelivered order is refused again, never left without an answer (its intent said `done`);
- a redelivered order's lookup fails because the link drops: its outcome stays open for
  reconciliation, never a refusal dead-lettered at once while the platform may have filled it;
- an answer's intent moves only once it is published: killed in between, the order stays open.
The adapter is the simulated venue (the adapter base over an in-process engine) with its link and
lookup switchable."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pytest
import redis

from nexus_gateway.sim_venue.adapter import SimVenue
from nexus_gateway.sim_venue.config import SimVenueSettings
from nexus_mesh.adapter import IntentState, VenueReport
from nexus_mesh.context import stage_context
from nexus_mesh.state import StateView
from nexus_protocol import Envelope, Fill, Names, Side, VenueOrder
from nexus_protocol.errors import VenueError
from nexus_testing import read_stream

COID = "01JD3ZK6Q9X8V7W5T4S3R2P1N0.n80"
OTHER = "01JD3ZK6Q9X8V7W5T4S3R2P1N1.n80"


class Venue(SimVenue):
    link_up = True
    lookup_fails = False

    def connected(self) -> bool:
        return self.link_up

    def lookup(self, client_order_id: str) -> list[VenueReport] | None:
        if self.lookup_fails:
            raise VenueError("the connection closed before the query was answered", retryable=True)
        return super().lookup(client_order_id)


@pytest.fixture
def venue(redis_url: str, names: Names, client: redis.Redis, monkeypatch: pytest.MonkeyPatch) -> Venue:
    for k, v in {"NX_REDIS_URL": redis_url, "NX_NAMESPACE": names.namespace, "NX_VENUE": "nt8",
                 "NX_ENVIRONMENT": "dev"}.items():  # fmt: skip
        monkeypatch.setenv(k, v)
    return Venue(SimVenueSettings(), client)


def order() -> VenueOrder:
    return VenueOrder(client_order_id=COID, signal_id=COID[:26], venue="nt8", symbol="NQ", side=Side.BUY,
                      quantity=1, venue_symbol="NQ 03-25", venue_quantity=1)  # fmt: skip


def deliver(v: Venue, o: VenueOrder) -> None:
    v._on_order(Envelope.new(o, id=o.client_order_id), stage_context(v.settings, StateView.of()))


def statuses(client: redis.Redis, names: Names) -> Sequence[str]:
    return [e.body.status.value for e in read_stream(client, names.fills_raw) if isinstance(e.body, Fill)]


def test_a_refusal_redis_lost_before_publishing_is_answered_on_redelivery(
    venue: Venue, client: redis.Redis, names: Names, monkeypatch: pytest.MonkeyPatch
) -> None:
    venue.link_up = False
    publish = venue.publisher.publish

    def down(*_: Any) -> None:
        raise redis.ConnectionError("Connection refused")

    monkeypatch.setattr(venue.publisher, "publish", down)
    with pytest.raises(redis.ConnectionError):
        deliver(venue, order())
    monkeypatch.setattr(venue.publisher, "publish", publish)
    venue.link_up = True
    deliver(venue, order())  # the processor redelivers it once Redis is back
    assert statuses(client, names) == ["rejected"]
    assert venue.engine.order_by_client_id(COID) is None  # refused: never sent late
    deliver(venue, order())  # a replay answers nothing new
    assert statuses(client, names) == ["rejected"]


def test_a_lookup_cut_by_the_link_leaves_the_outcome_to_reconciliation(
    venue: Venue, client: redis.Redis, names: Names
) -> None:
    assert venue.intents.claim(order()) is None  # recorded, then the adapter died before sending
    venue.lookup_fails = True
    deliver(venue, order())  # redelivered: the lookup fails, and no refusal is made of it
    intent = venue.intents.get(COID)
    assert intent is not None and intent.state is IntentState.UNKNOWN
    assert statuses(client, names) == []
    assert venue.engine.order_by_client_id(COID) is None  # not sent late either


def tick(v: Venue) -> None:
    v._tick(stage_context(v.settings, StateView.of()))


@pytest.mark.parametrize("state", [IntentState.UNKNOWN, IntentState.SENT])
def test_an_open_outcome_resolved_while_redis_goes_is_resolved_again(
    venue: Venue, client: redis.Redis, names: Names, monkeypatch: pytest.MonkeyPatch, state: IntentState
) -> None:
    """The storm's last no-final signal: an order of unknown outcome, resolved by the reconciliation
    (not at the platform: rejected) just as Redis restarted; the intent was written `done` with the
    next flush while the rejection never went out, and nothing asked again."""
    assert venue.intents.claim(order()) is None
    venue.intents.mark_many({COID: state})  # sent, never acknowledged / its submit's outcome unknown
    publish = venue.publisher.publish

    def down(*_: Any) -> None:
        raise redis.ConnectionError("Connection refused")

    monkeypatch.setattr(venue.publisher, "publish", down)
    with pytest.raises(redis.ConnectionError):
        tick(venue)  # reconciles: not at the platform -> rejected, which Redis does not take
    venue._flush_marks()  # whatever else writes the marks meanwhile (the next claim, another thread)
    intent = venue.intents.get(COID)
    assert intent is not None and intent.state is state  # still open: asked again
    assert statuses(client, names) == []

    monkeypatch.setattr(venue.publisher, "publish", publish)
    tick(venue)
    venue._flush_marks()
    assert statuses(client, names) == ["rejected"]
    intent = venue.intents.get(COID)
    assert intent is not None and intent.state is IntentState.DONE
    assert venue.engine.order_by_client_id(COID) is None  # never sent late


class Killed(BaseException):
    """The process dies here: nothing after it runs, no handler catches it."""


def test_an_answer_killed_before_its_publish_leaves_its_intent_open(
    venue: Venue, client: redis.Redis, names: Names, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Marks are written before this order's answer is published: another order's urgent one (its
    outcome unknown) by this handler, all of them by another thread's flush (a report the platform
    pushed). A kill after them never leaves this order `done` with its fill unpublished (the
    redelivery would then trust the platform to still show it)."""
    other = order().replace(client_order_id=OTHER, signal_id=OTHER[:26])
    assert venue.intents.claim(other) is None
    venue._mark(OTHER, IntentState.UNKNOWN)  # its submit's outcome unknown, from another thread

    def killed(*_: Any) -> None:
        venue._flush_marks()  # another thread's, meanwhile
        raise Killed

    monkeypatch.setattr(venue.publisher, "publish", killed)
    with pytest.raises(Killed):
        deliver(venue, order())
    assert venue.engine.order_by_client_id(COID) is not None  # sent and answered at the platform
    intent = venue.intents.get(COID)
    assert intent is not None and intent.state is not IntentState.DONE
    urgent = venue.intents.get(OTHER)
    assert urgent is not None and urgent.state is IntentState.UNKNOWN  # the urgent mark went first
