"""Robustness: arbitrary and truncated frames from the server never crash the client or lose an order.

Each example injects bytes into the client's live DTC stream (the simulator's garbage fault), then
sends one order the way the adapter base does (a retryable refusal means nothing was sent; an
unknown outcome is looked up, never re-sent). Whatever the bytes did (nothing, a decode error, a
desynchronised stream, a LOGOFF), the client must be ready again and agree with the simulator:
the order is there exactly once with its fill found, or (the connection dropped before the order
reached the server) it is neither there nor found."""

from __future__ import annotations

import struct
from collections.abc import Iterator

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sierra_helpers import Recorder, client_config, dtc_order, new_coid

from nexus_mesh.adapter import UnknownOutcome
from nexus_protocol.enums import OrderStatus
from nexus_protocol.errors import VenueError
from nexus_sierra.client import DtcClient
from nexus_sierra.dtc.codec import (
    DtcHeartbeat,
    Logoff,
    MarketDataUpdateTrade,
    OrderStatusEnum,
    OrderUpdate,
    OrderUpdateReasonEnum,
    encode_binary,
)
from nexus_sierra.simulator import RunningSimulator

SAMPLES = [
    encode_binary(
        OrderUpdate(
            client_order_id="x",
            order_status=OrderStatusEnum.OPEN,
            order_update_reason=OrderUpdateReasonEnum.NEW_ORDER_ACCEPTED,
        )
    ),
    encode_binary(DtcHeartbeat(current_date_time_s=1)),
    encode_binary(MarketDataUpdateTrade(symbol_id=1, price=1.0, volume=1.0)),
    encode_binary(Logoff(reason="fuzz")),
]


@st.composite
def truncated(draw: st.DrawFn) -> bytes:
    frame = draw(st.sampled_from(SAMPLES))
    return frame[: draw(st.integers(1, len(frame) - 1))]


@st.composite
def framed_noise(draw: st.DrawFn) -> bytes:
    """A frame with a plausible header (any type, Size matching) and random contents."""
    payload = draw(st.binary(max_size=120))
    return struct.pack("<HH", len(payload) + 4, draw(st.integers(0, 0xFFFF))) + payload


JUNK = st.one_of(
    st.binary(min_size=1, max_size=80),
    truncated(),
    framed_noise(),
    st.builds(lambda size, tail: struct.pack("<H", size) + tail, st.integers(0, 3), st.binary(max_size=8)),
    st.lists(st.sampled_from(SAMPLES), min_size=1, max_size=3).map(b"".join),
)


@pytest.fixture(scope="module")
def env() -> Iterator[tuple[RunningSimulator, DtcClient, Recorder]]:
    with RunningSimulator(md_interval_s=0.05) as sim:
        rec = Recorder()
        client = DtcClient(client_config(sim.port, response_timeout_s=0.5, symbols=("NQH25",)), rec)
        client.start()
        assert client.wait_ready(5), client.last_error
        yield sim, client, rec
        client.stop()


def send_like_the_adapter(client: DtcClient, coid: str) -> None:
    order = dtc_order(coid, qty=1)
    for _ in range(5):
        try:
            client.submit(order)
            return
        except VenueError as exc:
            if not exc.retryable:  # only "not sent: the session is down" is acceptable here
                raise
            assert client.wait_ready(5), client.last_error
        except UnknownOutcome:
            return
    pytest.fail("the client never became ready to send")


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(junk=JUNK)
def test_garbage_from_the_server_never_crashes_the_client_or_loses_an_order(
    env: tuple[RunningSimulator, DtcClient, Recorder], junk: bytes
) -> None:
    sim, client, _ = env
    assert client.wait_ready(5), client.last_error
    sim.inject(junk)
    coid = new_coid()
    send_like_the_adapter(client, coid)
    assert client.wait_ready(5), client.last_error
    found = None
    for _ in range(3):  # a lookup on a session the junk had already desynchronised times out: try again
        try:
            found = client.lookup(coid)
            break
        except (TimeoutError, ConnectionError, VenueError):
            assert client.wait_ready(5), client.last_error
    if found is None:  # the drop beat the order (e.g. a LOGOFF read before it): it never arrived,
        assert sim.submits(coid) == 0, f"{coid} at the venue but not found after {junk!r}"
    else:  # which is what the lookup says, and the base then reports it rejected, never re-sent
        fills = [r for r in found if r.is_fill]
        assert [(f.status, f.cum_qty) for f in fills] == [(OrderStatus.FILLED, 1.0)]
        assert sim.submits(coid) == 1
    assert client._thread is not None
    assert client._thread.is_alive()
