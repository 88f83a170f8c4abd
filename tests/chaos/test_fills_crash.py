"""The fills aggregator killed at every boundary of a batch holding two fills of one signal (issue 13):
exactly one final execution per signal, positions moved once by each fill, nothing published twice."""

from __future__ import annotations

import msgpack
import pytest
import redis
from stage_crash import POINTS, bodies, crash_and_recover, ids

from nexus_protocol import Envelope, Execution, Fill, Names, OrderStatus, Route, RouteLeg, Side
from nexus_protocol.ids import client_order_id, new_signal_id
from nexus_testing import Services

VENUES = (("nt8", "n8"), ("sierra", "sc"))


def signal_inputs(names: Names, sid: str) -> list[tuple[str, Envelope[Route | Fill]]]:
    legs = tuple(
        RouteLeg(venue=v, client_order_id=client_order_id(sid, c), status=OrderStatus.PENDING)
        for v, c in VENUES
    )
    route = Route(signal_id=sid, symbol="NQ", side=Side.BUY, quantity=2, reference_price=21000.0, legs=legs)
    out: list[tuple[str, Envelope[Route | Fill]]] = [
        (names.fills, Envelope.new(route, id=f"route:{sid}", trace=sid))
    ]
    for venue, code in VENUES:
        coid = client_order_id(sid, code)
        fill = Fill(
            fill_id=f"{coid}:x:1", client_order_id=coid, signal_id=sid, venue=venue, status="filled",
            venue_symbol="NQH25", side=Side.BUY, last_qty=2, last_price=21001.0, cum_qty=2, avg_price=21001.0,
            symbol="NQ", contract="NQH25", qty_factor=1.0, point_value=20.0, usd_rate=1.0, fee_usd=0.0,
        )  # fmt: skip
        out.append((names.fills, Envelope.new(fill, id=fill.fill_id, trace=sid)))
    return out


@pytest.mark.chaos
@pytest.mark.parametrize("point", POINTS)
def test_two_fills_of_one_signal_in_one_batch_give_one_final_execution(
    client: redis.Redis, names: Names, services: Services, point: str
) -> None:
    sids = [new_signal_id() for _ in range(3)]
    inputs = [x for sid in sids for x in signal_inputs(names, sid)]

    def finals() -> list[Execution]:
        return [e for e in bodies(client, names.executions, Execution) if e.final]

    crash_and_recover(
        client, services, "nexus_gateway.fills", "fills", inputs, point, lambda: len(finals()) >= len(sids)
    )
    assert sorted(e.signal_id for e in finals()) == sorted(sids)  # one final each, no second one
    assert all(e.status is OrderStatus.FILLED and e.filled_quantity == 4 for e in finals())
    out = ids(client, names.executions)
    assert len(out) == len(set(out)) == 3 * len(sids)  # route + 2 fills per signal, each once
    positions = {
        k.decode(): msgpack.unpackb(v) for k, v in client.hgetall(names.state("fills", "positions")).items()
    }
    assert {k: float(p["quantity"]) for k, p in positions.items()} == {
        "NQ|nt8|NQH25": 6,
        "NQ|sierra|NQH25": 6,
    }
    venue = {k.decode(): float(v) for k, v in client.hgetall(names.state("fills", "venue_positions")).items()}
    assert venue == {"nt8|NQH25": 6, "sierra|NQH25": 6}
