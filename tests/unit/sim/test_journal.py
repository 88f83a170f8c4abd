"""The platform's record for a history checker: every order that reached the venue (duplicates too),
every fill, one JSON line each; a request a fault ate before the venue saw it is not there."""

from __future__ import annotations

from pathlib import Path

import pytest

from nexus_sim import FaultConfig, Market, MatchingConfig, MatchingEngine, Side, SimOrder
from nexus_sim.faults import DisconnectRule
from nexus_sim.journal import ENV, Journal, attach_from_env, read_journal

pytestmark = pytest.mark.unit


def order(coid: str, side: Side = Side.BUY, qty: float = 2) -> SimOrder:
    return SimOrder(client_order_id=coid, symbol="NQZ5", side=side, quantity=qty)


def test_orders_duplicates_and_fills_are_journaled(market: Market, tmp_path: Path) -> None:
    engine = MatchingEngine(market, config=MatchingConfig(fill_parts=2))
    journal = Journal(tmp_path / "j.jsonl")
    engine.observers.append(journal)
    engine.submit(order("a.n80"))
    engine.process()
    engine.submit(order("a.n80"))  # the same client order id again: refused, and recorded
    engine.submit(order("b.n80", Side.SELL, 1))
    journal.close()
    facts = list(read_journal(tmp_path / "j.jsonl"))
    got = [(f["kind"], f["client_order_id"], f.get("duplicate"), f.get("qty")) for f in facts]
    assert got == [
        ("order", "a.n80", False, None),
        ("fill", "a.n80", None, 1.0),
        ("fill", "a.n80", None, 1.0),
        ("order", "a.n80", True, None),
        ("rejected", "a.n80", None, None),
        ("order", "b.n80", False, None),
        ("fill", "b.n80", None, 1.0),
    ]
    fill = facts[1]
    assert (fill["symbol"], fill["side"], fill["exec_id"]) == ("NQZ5", "buy", engine.fills_since()[0].exec_id)


def test_a_request_lost_before_the_venue_is_not_journaled(market: Market, tmp_path: Path) -> None:
    faults = FaultConfig(disconnects=(DisconnectRule(event="before_submit"),))
    engine = MatchingEngine(market, faults=faults)
    engine.observers.append(Journal(tmp_path / "j.jsonl"))
    assert engine.submit(order("lost.n80")) == []
    engine.submit(order("kept.n80"))
    assert [f["client_order_id"] for f in read_journal(tmp_path / "j.jsonl")] == ["kept.n80", "kept.n80"]


def test_names_come_from_the_platform_and_the_file_from_the_environment(
    market: Market, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    engine = MatchingEngine(market)
    assert attach_from_env(engine) is None and engine.observers == []
    monkeypatch.setenv(ENV, str(tmp_path / "sub" / "j.jsonl"))
    journal = attach_from_env(engine, name_of=lambda cid: f"comment-of-{cid}")
    assert journal is not None and engine.observers == [journal]
    engine.submit(order("mt5-1"))
    assert {f["client_order_id"] for f in read_journal(journal.path)} == {"comment-of-mt5-1"}


def test_a_line_cut_short_by_a_kill_is_skipped(tmp_path: Path) -> None:
    path = tmp_path / "j.jsonl"
    path.write_text('{"kind": "order", "client_order_id": "x"}\n{"kind": "fi')
    assert [f["client_order_id"] for f in read_journal(path)] == ["x"]
    assert list(read_journal(tmp_path / "none.jsonl")) == []
