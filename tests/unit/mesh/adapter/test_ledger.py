"""The execution ledger's arithmetic: cumulative figures per execution, amendments, synthesized fills."""

from __future__ import annotations

import pytest

from nexus_mesh.adapter import VenueExecution
from nexus_mesh.adapter.ledger import LedgerEntry, count, missing_fill, report
from nexus_protocol.enums import OrderStatus

COID = "01JD3ZK6Q9X8V7W5T4S3R2P1N0.bm0"


def counted(*executions: VenueExecution) -> list[LedgerEntry]:
    entries: list[LedgerEntry] = []
    for x in executions:
        entry, _ = count(entries, x)
        if entry not in entries:
            entries.append(entry)
    return entries


def test_reports_carry_cumulative_figures_as_of_each_execution() -> None:
    first, second = counted(
        VenueExecution(COID, "e1", 1.0, 100.0), VenueExecution(COID, "e2", 2.0, 101.0, fee=1.5)
    )
    r1, r2 = report(first, COID, 3.0), report(second, COID, 3.0)
    assert (r1.status, r1.cum_qty, r1.leaves_qty, r1.avg_price) == (
        OrderStatus.PARTIALLY_FILLED,
        1.0,
        2.0,
        100.0,
    )
    assert (r2.status, r2.cum_qty, r2.leaves_qty, r2.fee) == (OrderStatus.FILLED, 3.0, 0.0, 1.5)
    assert r2.avg_price == pytest.approx(302.0 / 3)
    assert r2.fill_id == f"{COID}:x:e2"  # keyed by the platform's execution id: re-reports dedupe


def test_an_execution_seen_again_is_the_entry_already_counted_and_an_amendment_is_flagged() -> None:
    entries = counted(VenueExecution(COID, "e1", 1.0, 100.0))
    assert count(entries, VenueExecution(COID, "e1", 1.0, 100.0)) == (entries[0], False)
    assert count(entries, VenueExecution(COID, "e1", 2.0, 100.0)) == (entries[0], True)  # the first stands


def test_the_platform_can_say_an_execution_completes_the_order() -> None:
    (entry,) = counted(
        VenueExecution(COID, "e1", 1.3, 100.0).completed()
    )  # 1.37 asked, 1.3 after lot rounding
    assert report(entry, COID, 1.37).status is OrderStatus.FILLED


def test_a_fill_the_platform_counts_and_the_ledger_does_not_is_synthesized_deterministically() -> None:
    entries = counted(VenueExecution(COID, "e1", 1.0, 100.0))
    syn = missing_fill(entries, COID, 3.0, 101.0, exec_id="syn-17-3")
    assert syn is not None
    assert (syn.exec_id, syn.qty, syn.synthetic) == ("syn-17-3", 2.0, True)
    assert syn.price == pytest.approx(101.5)  # so that the order's average is the platform's 101
    assert missing_fill(entries, COID, 3.0, 101.0, exec_id="syn-17-3") == syn  # the same state: the same fill
    entries = counted(VenueExecution(COID, "e1", 1.0, 100.0), syn)
    assert missing_fill(entries, COID, 3.0, 101.0, exec_id="syn-17-3") is None
    assert entries[-1].avg_price == pytest.approx(101.0)


def test_nothing_is_synthesized_without_a_price_or_a_gap() -> None:
    assert missing_fill([], COID, 0.0, None, exec_id="s") is None
    assert missing_fill([], COID, 3.0, None, exec_id="s") is None
    priced = missing_fill([], COID, 3.0, None, exec_id="s", fallback_price=99.0)
    assert priced is not None
    assert priced.price == 99.0


def test_an_entry_round_trips_and_reads_the_older_five_field_rows() -> None:
    (entry,) = counted(
        VenueExecution(COID, "e1", 1.0, 100.0, fee=0.5, ts_ns=7, venue_order_id="o", synthetic=True)
    )
    assert LedgerEntry.of(entry.row()) == entry
    assert LedgerEntry.of(["e1", 1.0, 100.0, 1.0, 100.0]) == LedgerEntry("e1", 1.0, 100.0, 1.0, 100.0)
