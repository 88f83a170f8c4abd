"""The kill switch's flatten as every adapter test checks it against its platform's simulator.

    closing = flatten_and_check(client, names, "sierra", lambda: position_at_the_simulator())

switches the kill switch on with `flatten` (as `nexusctl killswitch on --flatten` does), waits until the
platform holds nothing, and checks what the mesh saw: one closing order per position, each a leg of its
own signal (a Route on nx:fills), filled on nx:fills:raw for exactly what was held, and the adapter's
`killswitch_applied` event. The platform's position is read by the caller from the simulator (never
from the adapter).
"""

from __future__ import annotations

from collections.abc import Callable

import pytest
import redis

from nexus_mesh.adapter.flatten import FLATTEN_CODE
from nexus_mesh.killswitch import KillSwitch
from nexus_protocol.enums import OrderStatus
from nexus_protocol.ids import parse_client_order_id
from nexus_protocol.messages import Event, Fill, KillSwitchState, Route
from nexus_protocol.streams import Names
from nexus_testing.helpers import read_stream, wait_for


def switch_on(client: redis.Redis, names: Names, *, flatten: bool = True) -> KillSwitchState:
    return KillSwitch(client, names).set(True, reason="flatten test", by="test", flatten=flatten)


def _closed(fills: list[Fill]) -> float:
    return sum(f.cum_qty * f.side.sign for f in fills)


def closing_fills(client: redis.Redis, names: Names, venue: str) -> list[Fill]:
    """The final fills of `venue`'s closing orders (client order ids with the flatten venue code)."""
    return [
        e.body
        for e in read_stream(client, names.fills_raw)
        if isinstance(e.body, Fill)
        and e.body.venue == venue
        and e.body.status is OrderStatus.FILLED
        and parse_client_order_id(e.body.client_order_id)[1] == FLATTEN_CODE
    ]


def flatten_and_check(
    client: redis.Redis,
    names: Names,
    venue: str,
    held_at_platform: Callable[[], float],
    *,
    timeout_s: float = 30.0,
) -> list[Fill]:
    """Flatten `venue` and check it closed exactly what the platform held; the closing fills."""
    held = held_at_platform()
    assert abs(held) > 1e-9, f"{venue} holds nothing to flatten"
    switch_on(client, names)
    wait_for(lambda: abs(held_at_platform()) < 1e-9, timeout_s, what=f"{venue} flat at the platform")

    def closed_all() -> list[Fill] | None:
        fills = closing_fills(client, names, venue)
        return fills if abs(_closed(fills) + held) < 1e-9 else None

    try:  # a platform closing several positions reports each one's fill in its own time
        fills: list[Fill] = wait_for(closed_all, timeout_s, what=f"{venue}'s closing fills")
    except pytest.fail.Exception:
        fills = closing_fills(client, names, venue)
        raise AssertionError(f"{venue} held {held}; closing fills for {_closed(fills)}: {fills}") from None
    routes = {e.body.signal_id: e.body for e in read_stream(client, names.fills) if isinstance(e.body, Route)}
    for f in fills:
        legs = [(leg.venue, leg.client_order_id, leg.status) for leg in routes[f.signal_id].legs]
        assert legs == [(venue, f.client_order_id, OrderStatus.PENDING)], legs
    applied = wait_for(
        lambda: [
            e.body
            for e in read_stream(client, names.events)
            if isinstance(e.body, Event) and e.body.kind == "killswitch_applied" and e.body.venue == venue
        ],
        timeout_s,
        what=f"{venue}'s killswitch_applied event",
    )
    assert applied[-1].data["flatten"] is True and applied[-1].data["closed"], applied[-1]
    return fills
