"""The storm's history checker on histories built by hand: a clean one passes with every count zero,
and each way a storm can go wrong is counted under its own name with an example."""

from __future__ import annotations

from collections import Counter

import pytest

from nexus_protocol import OrderStatus, Side, VenueOrder
from nexus_testing.storm.checker import check, distribution
from nexus_testing.storm.history import FinalSeen, MeshHistory, PlatformHistory, SentSignal
from nexus_testing.storm.nemesis import Tally
from nexus_testing.storm.report import build, table

pytestmark = pytest.mark.unit

SID = [f"01JQ{i:022d}" for i in range(4)]


def coid(i: int) -> str:
    return f"{SID[i]}.sc0"


def order(i: int, qty: float = 1.0) -> VenueOrder:
    return VenueOrder(
        client_order_id=coid(i), signal_id=SID[i], venue="sierra", symbol="NQ", side=Side.BUY,
        quantity=qty, venue_symbol="NQH6", venue_quantity=qty,
    )  # fmt: skip


def clean() -> tuple[list[SentSignal], MeshHistory, dict[str, PlatformHistory]]:
    """Three signals bought 1 NQ at sierra each, sent at t=0 and final 1.5 s later."""
    sent = [SentSignal(SID[i], "NQ", "buy", 1.0, 1_000_000_000, "sent") for i in range(3)]
    mesh = MeshHistory(arrived={SID[0], SID[1], SID[2]})
    for i in range(3):
        mesh.finals[SID[i]].append(FinalSeen(2_500, "filled", (("sierra", coid(i), "filled", 1.0),)))
        mesh.orders["sierra"][coid(i)] = order(i)
        mesh.order_copies[("sierra", coid(i))] = 1
    mesh.venue_positions["sierra"] = {"NQH6": 3.0}
    facts = [{"kind": "order", "client_order_id": coid(i)} for i in range(3)] + [
        {"kind": "fill", "client_order_id": coid(i), "qty": 1.0, "side": "buy", "symbol": "NQH6"}
        for i in range(3)
    ]
    return sent, mesh, {"sierra": PlatformHistory.from_facts("sierra", iter(facts))}


def test_a_clean_history_passes_with_every_count_zero() -> None:
    got = check(*clean(), bound_s=60)
    assert got.ok, got.failures
    assert got.statuses == {"filled": 3}
    assert got.venues["sierra"] == {
        "routed": 3, "received": 3, "fills": 3, "platform_duplicates": 0, "bus_duplicates": 0,
        "unexpected_platform_orders": 0, "lost_orders": 0, "platform_fills_not_in_execution": 0,
        "execution_fills_not_at_platform": 0, "position_differences": 0, "resent_after_refusal": 0,
    }  # fmt: skip
    assert got.time_to_final_s["p50"] == 1.5
    report = build({"seed": 7, "symbols": ["NQ"]}, Tally(), [], got)
    assert report["ok"] and "PASS" in table(report)


def test_finals_missing_doubled_or_for_a_signal_that_never_left_the_client() -> None:
    sent, mesh, platforms = clean()
    mesh.finals[SID[0]].clear()
    mesh.finals[SID[1]].append(mesh.finals[SID[1]][0])
    sent.append(SentSignal(SID[3], "NQ", "buy", 1.0, 0, "refused"))
    mesh.finals[SID[3]].append(FinalSeen(1, "rejected", ()))
    got = check(sent, mesh, platforms, bound_s=60)
    assert got.examples["no_final"] == [SID[0]]
    assert got.examples["several_finals"] == [SID[1]]
    assert got.examples["final_for_unsent"] == [SID[3]]


def test_an_unknown_outcome_counts_only_if_it_reached_the_intake() -> None:
    sent, mesh, platforms = clean()
    sent += [SentSignal(SID[3], "NQ", "buy", 1.0, 0, "unknown")]
    assert check(sent, mesh, platforms, bound_s=60).ok  # never arrived: no final expected
    mesh.arrived.add(SID[3])
    got = check(sent, mesh, platforms, bound_s=60)
    assert got.examples["no_final"] == [SID[3]]
    assert got.counts["signals_unknown_arrived"] == 1


def test_platform_orders_twice_unrouted_or_lost() -> None:
    sent, mesh, platforms = clean()
    p = platforms["sierra"]
    p.received[coid(0)] += 1
    p.duplicates[coid(0)] += 1
    p.received["01JQZZZZZZZZZZZZZZZZZZZZZZ.sc0"] = 1
    del p.received[coid(2)]
    p.filled.pop(coid(2))
    p.positions["NQH6"] = 2.0
    mesh.order_copies[("sierra", coid(1))] = 2
    got = check(sent, mesh, platforms, bound_s=60)
    assert got.examples["platform_duplicates"] == [f"{coid(0)} x2"]
    assert got.examples["bus_duplicates"] == [f"{coid(1)} x2"]
    assert got.examples["unexpected_platform_orders"] == ["01JQZZZZZZZZZZZZZZZZZZZZZZ.sc0"]
    assert got.examples["lost_orders"] == [coid(2)]
    assert got.examples["execution_fills_not_at_platform"] == [f"{coid(2)}: execution 1, platform 0"]
    assert got.examples["position_differences"] == ["sierra NQH6: platform 2, mesh 3"]


def test_fills_at_the_platform_beyond_the_execution() -> None:
    sent, mesh, platforms = clean()
    platforms["sierra"].filled[coid(1)] += 1.0
    platforms["sierra"].positions["NQH6"] += 1.0
    got = check(sent, mesh, platforms, bound_s=60)
    assert got.examples["platform_fills_not_in_execution"] == [f"{coid(1)}: platform 2, execution 1"]
    assert got.failures == ["platform_fills_not_in_execution", "position_differences"]


def test_what_must_be_empty_after_the_storm_settles() -> None:
    sent, mesh, platforms = clean()
    mesh.pending = {"nx:{fills} fills": 2}
    mesh.dead_letters = ["nx:{signals} 1-0: bad"]
    mesh.alarms = Counter({"position_mismatch": 1})
    mesh.held = {"NQ": SID[0]}
    mesh.status_problems = ["group router on nx:{signals}: 3000 entries behind (limit 1000)"]
    got = check(sent, mesh, platforms, bound_s=1.0)
    assert got.failures == [
        "pending_entries", "dead_letters", "alarms", "held_symbols", "status_problems", "late_finals"
    ]  # fmt: skip
    assert got.counts["pending_entries"] == 2 and got.counts["late_finals"] == 3
    assert "FAIL: pending_entries" in table(build({}, Tally(), [], got))


def test_distribution() -> None:
    assert distribution([]) == {"count": 0}
    d = distribution([float(x) for x in range(1, 101)])
    assert (d["count"], d["p50"], d["p99"], d["max"]) == (100, 51.0, 100.0, 100.0)


def test_statuses_are_the_last_final_of_each_signal() -> None:
    sent, mesh, platforms = clean()
    mesh.finals[SID[0]] = [FinalSeen(2_000, OrderStatus.REJECTED.value, ())]
    got = check(sent, mesh, platforms, bound_s=60)
    assert got.statuses == {"rejected": 1, "filled": 2}


def test_a_copy_the_platform_refused_on_arrival_sent_again_is_no_duplicate() -> None:
    """MT5 re-sends a requoted request under the same comment: the first copy never worked."""
    order_fact = {"kind": "order", "client_order_id": coid(0)}
    facts = [order_fact, {"kind": "rejected", "client_order_id": coid(0)}, order_fact, order_fact]
    p = PlatformHistory.from_facts("mt5-global", iter(facts))
    assert (p.received[coid(0)], p.duplicates[coid(0)]) == (3, 1)  # the third came while the second worked
