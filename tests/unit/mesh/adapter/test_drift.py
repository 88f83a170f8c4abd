"""Position differences: one rule for every comparison. A difference is due once it has kept the
same figures for the grace window with no order of its symbol unfinished; it is due once."""

from __future__ import annotations

from nexus_mesh.adapter.drift import RECHECK_S, Drift, DriftWatch, Persisting, differences


def test_differences_name_each_symbol_with_both_figures() -> None:
    got = differences({"NQH25": 2.0, "ESH25": 1.0}, {"NQH25": 1.0, "MNQH25": -3.0, "ESH25": 1.0})
    assert got == {"MNQH25": Drift("MNQH25", 0.0, -3.0), "NQH25": Drift("NQH25", 2.0, 1.0)}
    assert got["NQH25"].difference == -1.0 and got["MNQH25"].difference == -3.0


def test_a_fill_in_flight_is_not_due_a_lasting_difference_is_once() -> None:
    watch = DriftWatch(grace_s=10)
    assert watch.observe({}, {"NQH25": 2.0}, now=0) == []  # first sight: maybe a fill on its way
    assert watch.observe({"NQH25": 2.0}, {"NQH25": 2.0}, now=1) == []  # it arrived: nothing waits
    assert watch.next_check(1) is None
    assert watch.observe({"NQH25": 2.0}, {"NQH25": 1.0}, now=2) == []
    assert watch.next_check(2) == 12
    assert watch.observe({"NQH25": 2.0}, {"NQH25": 1.0}, now=11) == []  # not yet 10 s
    assert watch.observe({"NQH25": 2.0}, {"NQH25": 1.0}, now=12) == [Persisting(Drift("NQH25", 2.0, 1.0), 10)]
    assert watch.observe({"NQH25": 2.0}, {"NQH25": 1.0}, now=50) == []  # reported once
    assert watch.next_check(50) is None
    assert watch.observe({"NQH25": 2.0}, {"NQH25": 0.0}, now=51) == []  # new figures: a new clock
    assert watch.observe({"NQH25": 2.0}, {"NQH25": 0.0}, now=61) == [Persisting(Drift("NQH25", 2.0, 0.0), 10)]


def test_a_fill_reaching_either_side_restarts_the_clock() -> None:
    watch = DriftWatch(grace_s=10)
    watch.observe({"NQH25": 0.0}, {"NQH25": 1.0}, now=0)
    watch.observe({"NQH25": 0.0}, {"NQH25": 2.0}, now=8)  # the platform filled more
    assert watch.observe({"NQH25": 1.0}, {"NQH25": 2.0}, now=16) == []  # and the mesh caught up a bit
    assert watch.observe({"NQH25": 2.0}, {"NQH25": 2.0}, now=17) == []  # then all of it
    assert watch.seen == {}


def test_a_symbol_with_an_unfinished_order_waits_and_is_looked_at_again_soon() -> None:
    watch = DriftWatch(grace_s=10)
    watch.observe({}, {"NQH25": 1.0}, now=0)
    assert watch.observe({}, {"NQH25": 1.0}, now=10, busy={"NQH25"}) == []
    assert watch.next_check(10) == 10 + RECHECK_S  # due already: soon, not at once in a loop
    assert watch.observe({}, {"NQH25": 1.0}, now=11) == []  # the order finished: its fills may be on the way
    assert watch.observe({}, {"NQH25": 1.0}, now=20) == [Persisting(Drift("NQH25", 0.0, 1.0), 10)]


def test_no_grace_reports_at_the_first_quiet_sight() -> None:
    watch = DriftWatch(grace_s=0)
    assert watch.observe({}, {"ESH25": -1.0}, now=5) == [Persisting(Drift("ESH25", 0.0, -1.0), 0)]
