"""The fills stage as a plain function: (message, state) -> (execution, state writes), no Redis."""

from __future__ import annotations

import pytest

from nexus_gateway.fills.checks import ImpossibleFill, refused_fill
from nexus_gateway.fills.config import FillsSettings
from nexus_gateway.fills.service import FillsStage
from nexus_mesh.context import Context, stage_context
from nexus_mesh.deadletter import Rejected
from nexus_mesh.state import Result, StateView
from nexus_protocol import Envelope, Execution, Fill, OrderStatus, Route, RouteLeg, Side
from nexus_protocol.ids import client_order_id, new_signal_id

SETTINGS = FillsSettings(namespace="t")
STAGE = FillsStage(SETTINGS.names)
SID = new_signal_id()
LEGS = [client_order_id(SID, c) for c in ("n8", "sc")]


def route() -> Envelope[Route]:
    legs = tuple(
        RouteLeg(venue=v, client_order_id=c, status=OrderStatus.PENDING)
        for v, c in zip(("nt8", "sierra"), LEGS, strict=True)
    )
    body = Route(signal_id=SID, symbol="NQ", side=Side.BUY, quantity=1, reference_price=100.0, legs=legs)
    return Envelope.new(body, id=f"route:{SID}", trace=SID)


def fill(coid: str, venue: str) -> Envelope[Fill]:
    body = Fill(
        fill_id=f"{coid}:x:1", client_order_id=coid, signal_id=SID, venue=venue, status=OrderStatus.FILLED,
        venue_symbol="NQH25", side=Side.BUY, last_qty=1, last_price=101.0, cum_qty=1, avg_price=101.0,
        symbol="NQ", contract="NQH25", qty_factor=1.0, point_value=20.0, usd_rate=1.0,
    )  # fmt: skip
    return Envelope.new(body, id=body.fill_id, trace=SID)


def run(ctx: Context, *envs: Envelope[Route] | Envelope[Fill]) -> list[Result]:
    """Handle envelopes in order, each seeing the writes of those before (as the processor does)."""
    out = []
    for e in envs:
        r = STAGE.handle(e, ctx)  # type: ignore[arg-type]
        ctx.view.batch.apply(r.writes)
        out.append(r)
    return out


def executions(results: list[Result]) -> list[Execution]:
    return [o.envelope.body for r in results for o in r.outputs]


def test_route_and_two_fills_make_one_final_execution_with_their_writes() -> None:
    ctx = stage_context(SETTINGS, StateView.of())
    results = run(ctx, route(), fill(LEGS[0], "nt8"), fill(LEGS[1], "sierra"))
    finals = [e for e in executions(results) if e.final]
    assert len(finals) == 1
    assert finals[0].status is OrderStatus.FILLED
    assert finals[0].filled_quantity == 2
    assert finals[0].avg_price == 101.0  # reference 100 + 1 point of slippage on each leg
    keys = {op[1] for r in results for op in r.writes}
    assert keys == {STAGE.k_signals, STAGE.k_positions, STAGE.k_venue_positions, STAGE.k_finished}


def test_an_input_already_applied_changes_nothing_and_publishes_nothing() -> None:
    ctx = stage_context(SETTINGS, StateView.of())
    run(ctx, route(), fill(LEGS[0], "nt8"), fill(LEGS[1], "sierra"))
    again = run(ctx, route(), fill(LEGS[0], "nt8"), fill(LEGS[1], "sierra"))  # redelivered after the commit
    assert all(not r.outputs and not r.writes for r in again)


def test_a_late_report_after_the_final_execution_publishes_no_second_one() -> None:
    """The storm saw a leg's `accepted` arrive after its fill: the final execution stands, once."""
    ctx = stage_context(SETTINGS, StateView.of())
    accepted = fill(LEGS[1], "sierra")
    late = accepted.body.replace(fill_id=f"{LEGS[1]}:accepted", status=OrderStatus.ACCEPTED, last_qty=0.0)
    results = run(ctx, route(), fill(LEGS[0], "nt8"), fill(LEGS[1], "sierra"),
                  Envelope.new(late, id=late.fill_id, trace=SID))  # fmt: skip
    assert len([e for e in executions(results) if e.final]) == 1
    assert results[-1].writes  # the report is recorded as applied all the same


def test_output_ids_derive_from_the_input() -> None:
    ctx = stage_context(SETTINGS, StateView.of())
    results = run(ctx, route(), fill(LEGS[0], "nt8"))
    assert [o.envelope.id for r in results for o in r.outputs] == [f"{SID}:route", f"{SID}:{LEGS[0]}:x:1"]


def test_only_signals_that_reached_a_venue_count_in_the_latency_metric() -> None:
    from nexus_gateway.fills.service import observe_final
    from nexus_mesh import metrics
    from nexus_protocol import Leg

    def count() -> float:
        return next(
            s.value for s in metrics.END_TO_END_SECONDS.collect()[0].samples if s.name.endswith("_count")
        )

    refused = Execution(signal_id=SID, symbol="NQ", side=Side.BUY, quantity=1, status=OrderStatus.REJECTED,
                        final=True, reason="stale_signal: signal is 3600.0 s old")  # fmt: skip
    before = count()
    observe_final(refused, origin_ns=0, now_ns=3_600 * 10**9)  # an hour old: never a latency sample
    assert count() == before
    leg = Leg(venue="nt8", client_order_id=LEGS[0], status=OrderStatus.FILLED, venue_symbol="NQH25")
    observe_final(refused.replace(status=OrderStatus.FILLED, legs=(leg,)), origin_ns=0, now_ns=10**6)
    assert count() == before + 1


def test_an_impossible_fill_raises_and_moves_nothing_and_its_dead_letter_raises_an_event() -> None:
    ctx = stage_context(SETTINGS, StateView.of())
    run(ctx, route())
    good = fill(LEGS[0], "nt8")
    overfill = Envelope.new(good.body.replace(last_qty=5.0, cum_qty=5.0), id="o", trace=SID)
    with pytest.raises(ImpossibleFill, match="more than the order's 1"):
        STAGE.handle(overfill, ctx)  # type: ignore[arg-type]
    stranger = fill("hello", "nt8")
    with pytest.raises(ImpossibleFill, match="unknown client order id 'hello'"):
        STAGE.handle(stranger, ctx)  # type: ignore[arg-type]
    assert ctx.hget(STAGE.k_positions, "NQ|nt8|NQH25") is None  # raised: no writes to commit
    rejected = Rejected(SETTINGS.names.fills, "1-0", {}, "handler refused it: ImpossibleFill: x", overfill)
    (event,) = refused_fill(rejected, ctx)
    assert event.stream == SETTINGS.names.events
    assert event.envelope.body.kind == "fill_refused" and event.envelope.body.client_order_id == LEGS[0]


def test_a_fill_before_its_route_is_held_then_counted_by_the_route() -> None:
    """Several consumers of nx:{fills}: the route can still be with another one when its fills are read."""
    ctx = stage_context(SETTINGS, StateView.of())
    early = run(ctx, fill(LEGS[0], "nt8"), fill(LEGS[0], "nt8"))  # redelivered while held: held once
    assert [o.envelope.body.kind for r in early for o in r.outputs] == ["fill_held", "fill_held"]
    assert ctx.hget(STAGE.k_positions, "NQ|nt8|NQH25") is None  # nothing counted without its leg
    results = run(ctx, route(), fill(LEGS[1], "sierra"))
    finals = [e for e in executions(results) if e.final]
    assert len(finals) == 1 and finals[0].filled_quantity == 2  # the held fill counted once, by the route
    assert ctx.hget(STAGE.k_positions, "NQ|nt8|NQH25") is not None


def test_a_held_fill_its_route_shows_impossible_is_dead_lettered_with_its_event() -> None:
    ctx = stage_context(SETTINGS, StateView.of())
    run(ctx, fill(LEGS[0], "sierra"))  # the leg went to nt8
    [result] = run(ctx, route())
    letter, event, ex = (o.envelope.body for o in result.outputs)
    assert "was routed to nt8, not sierra" in letter.reason and letter.fields["data"]
    assert event.kind == "fill_refused" and event.client_order_id == LEGS[0]
    assert ex.filled_quantity == 0 and ctx.hget(STAGE.k_positions, "NQ|sierra|NQH25") is None


def test_a_fill_of_no_signal_of_ours_is_refused_at_once() -> None:
    ctx = stage_context(SETTINGS, StateView.of())
    with pytest.raises(ImpossibleFill, match="unknown client order id 'hello'"):
        STAGE.handle(fill("hello", "nt8"), ctx)  # type: ignore[arg-type]
