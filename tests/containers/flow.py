"""Signals into a mesh from the host and what must hold afterwards: one final execution per signal,
every leg filled once, one order per leg at each venue, nothing dead-lettered."""

from __future__ import annotations

import redis

from nexus_protocol import Envelope, Execution, Leg, Names, OrderStatus, Signal, VenueOrder
from nexus_protocol.ids import new_signal_id
from nexus_testing import read_stream, venue_connected, wait_for, xadd


def send(client: redis.Redis, names: Names, n: int, symbol: str = "NQ", side: str | None = None) -> list[str]:
    """n signals for one contract each, buy and sell in turn (positions stay small), or all `side`."""
    sids = []
    for i in range(n):
        sid = new_signal_id()
        sig = Signal(signal_id=sid, symbol=symbol, side=side or ("buy" if i % 2 == 0 else "sell"), quantity=1)
        xadd(client, names.signals, Envelope.new(sig, id=sid))
        sids.append(sid)
    return sids


def finals(client: redis.Redis, names: Names) -> dict[str, list[Execution]]:
    out: dict[str, list[Execution]] = {}
    for e in read_stream(client, names.executions):
        if isinstance(e.body, Execution) and e.body.final:
            out.setdefault(e.body.signal_id, []).append(e.body)
    return out


def wait_finished(client: redis.Redis, names: Names, sids: list[str], timeout_s: float = 90.0) -> None:
    wait_for(
        lambda: not [s for s in sids if s not in finals(client, names)],
        timeout_s=timeout_s,
        interval_s=0.25,  # each look reads the whole executions stream
        what=f"a final execution for each of {len(sids)} signals",
    )


def check_exactly_once(
    client: redis.Redis, names: Names, sids: list[str], *, stale_ok: bool = False, down: str | None = None
) -> None:
    """`stale_ok`: a signal that waited out a killed router may be refused as stale (with no leg sent);
    that refusal is its one final execution. `down`: a venue whose adapter was killed: a leg routed
    while it had no live heartbeat is refused (nothing sent), and its signal ends partially filled."""
    done = finals(client, names)
    for sid in sids:
        assert len(done.get(sid, [])) == 1, f"{sid}: {len(done.get(sid, []))} final executions"
        last = done[sid][0]
        if stale_ok and last.status is OrderStatus.REJECTED and "old (limit" in (last.reason or ""):
            assert not last.legs, last
            continue
        filled = [leg for leg in last.legs if not _refused_while_down(leg, down)]
        assert filled and all(leg.filled_quantity == leg.quantity > 0 for leg in filled), last
        want = OrderStatus.FILLED if len(filled) == len(last.legs) else OrderStatus.PARTIALLY_FILLED
        assert last.status is want, last
    assert any(done[sid][0].status is OrderStatus.FILLED for sid in sids), "nothing filled"
    venues = {leg.venue for sid in sids for leg in done[sid][0].legs}
    for venue in venues:
        coids = [
            e.body.client_order_id
            for e in read_stream(client, names.orders(venue))
            if isinstance(e.body, VenueOrder)
        ]
        assert len(coids) == len(set(coids)), f"{venue}: a client order id sent twice"
    assert client.xlen(names.dlq) == 0, [e.body for e in read_stream(client, names.dlq)]


def _refused_while_down(leg: Leg, venue: str | None) -> bool:
    return (
        leg.venue == venue
        and leg.status is OrderStatus.REJECTED
        and leg.filled_quantity == 0
        and "no live adapter heartbeat" in (leg.reason or "")
    )


def links_up(client: redis.Redis, names: Names, venues: list[str], timeout_s: float = 90.0) -> None:
    """Every venue's link up, as an operator checks before trading (a leg to a venue whose adapter's
    heartbeat lapsed is refused): after a restart, and on a machine loaded enough to delay one."""
    wait_for(
        lambda: all(venue_connected(client, names, v) for v in venues),
        timeout_s=timeout_s,
        interval_s=0.25,
        what=f"the links of {sorted(venues)} up",
    )
