"""What the base holds between the platform and Redis: pushes held for a running submit, the backlog,
orders awaiting their acknowledgement."""

from __future__ import annotations

import time

from nexus_mesh.adapter import VenueExecution, VenueReport
from nexus_mesh.adapter.pending import AwaitingAck, Outbox
from nexus_mesh.publish import Output
from nexus_protocol.codec import Envelope
from nexus_protocol.enums import OrderStatus, Severity
from nexus_protocol.messages import Event

A, B = "01JD3ZK6Q9X8V7W5T4S3R2P1N0.sm0", "01JD3ZK6Q9X8V7W5T4S3R2P1N1.sm0"


def test_pushes_for_a_running_submit_wait_for_it_and_come_back_in_order() -> None:
    box = Outbox()
    box.hold(A)
    fill = VenueExecution(A, "x1", 1.0, 100.0)
    done = VenueReport(A, OrderStatus.FILLED, exec_id="x2", last_qty=1.0, last_price=100.0, cum_qty=2.0)
    other = VenueReport(B, OrderStatus.ACCEPTED)
    assert box.take([fill, other]) == [other]  # B's submit is not running: out now
    assert box.take() == []
    assert box.drain(A) == [fill]  # with the submit's answer
    assert box.take([done]) == []  # after the answer, before it is published: still waits
    assert box.release(A) == [done]
    assert box.release(A) == []
    assert box.drain(A) == []
    assert box.take([VenueReport(A, OrderStatus.CANCELLED)]) == [VenueReport(A, OrderStatus.CANCELLED)]


def test_what_could_not_be_published_goes_first_next_time() -> None:
    box = Outbox()
    event = Output(
        "nx:{events}", Envelope.new(Event(kind="k", severity=Severity.INFO, source="s", message="m"), id="e")
    )
    first = box.take([VenueReport(A, OrderStatus.ACCEPTED), event])
    box.put_back(first)
    assert len(box) == 2
    later = VenueReport(B, OrderStatus.ACCEPTED)
    assert box.take([later]) == [*first, later]
    assert len(box) == 0


def test_orders_awaiting_an_acknowledgement_fall_due_and_are_rearmed() -> None:
    acks = AwaitingAck(timeout_s=0.05)
    acks.sent(A)
    acks.sent(B, due_now=True)
    assert acks.due() == [B]
    assert acks.due() == []  # re-armed
    assert sorted(acks.due(every=True)) == sorted([A, B])  # after a reconnect: every one
    time.sleep(0.06)
    assert sorted(acks.due()) == sorted([A, B])
    assert acks.acknowledged(A)
    assert not acks.acknowledged(A)
    assert A not in acks
    assert B in acks
    assert len(acks) == 1
