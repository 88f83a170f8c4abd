"""Position drift: a difference is drift once two checks in a row see it with the same figures."""

from __future__ import annotations

from nexus_mesh.adapter.drift import Drift, DriftWatch, differences


def test_differences_name_each_symbol_with_both_figures() -> None:
    got = differences({"NQH25": 2.0, "ESH25": 1.0}, {"NQH25": 1.0, "MNQH25": -3.0, "ESH25": 1.0})
    assert got == {"MNQH25": Drift("MNQH25", 0.0, -3.0), "NQH25": Drift("NQH25", 2.0, 1.0)}
    assert got["NQH25"].difference == -1.0 and got["MNQH25"].difference == -3.0


def test_a_fill_in_flight_is_not_drift_a_lasting_difference_is() -> None:
    watch = DriftWatch()
    assert watch.observe({}, {"NQH25": 2.0}) == []  # first sight: maybe a fill on its way
    assert watch.observe({"NQH25": 2.0}, {"NQH25": 2.0}) == []  # it arrived: no drift
    assert watch.observe({"NQH25": 2.0}, {"NQH25": 1.0}) == []
    assert watch.observe({"NQH25": 2.0}, {"NQH25": 1.0}) == [Drift("NQH25", 2.0, 1.0)]  # still there
    assert watch.observe({"NQH25": 2.0}, {"NQH25": 0.0}) == []  # new figures: wait for a second look
    assert watch.observe({"NQH25": 2.0}, {"NQH25": 0.0}) == [Drift("NQH25", 2.0, 0.0)]
