"""The rollover service's decisions without Redis: changes, ids, never backwards, positions, clock."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from zoneinfo import ZoneInfo

import msgpack
import pytest

from nexus_gateway.rollover.calendar import DEFAULT_RULES, preload
from nexus_gateway.rollover.logic import (
    Ahead,
    Change,
    RollPosition,
    ahead_event,
    decide,
    open_positions,
    parse_quantity,
    position_events,
    roll_outputs,
)
from nexus_gateway.rollover.service import RollClock, exchange_zone, rules_from_registry
from nexus_mesh.config_files import load_symbols
from nexus_protocol import ContractRoll, Event, Names
from nexus_protocol.symbols import Contract
from nexus_testing import REPO_ROOT

D = dt.date.fromisoformat
NQ = DEFAULT_RULES["NQ"]
NAMES = Names("nx")
preload(DEFAULT_RULES.values())


def test_first_value_is_a_change_from_nothing() -> None:
    change = decide(NQ, D("2025-03-01"), None)
    assert change == Change("NQ", Contract.parse("NQH25"), None, D("2024-12-12"), D("2025-03-21"))


def test_same_contract_is_no_change() -> None:
    assert decide(NQ, D("2025-03-12"), "NQH25") is None


def test_roll_date_switches_to_the_next_contract() -> None:
    change = decide(NQ, D("2025-03-13"), "NQH25")
    assert change == Change("NQ", Contract.parse("NQM25"), "NQH25", D("2025-03-13"), D("2025-06-20"))


def test_down_over_several_rolls_jumps_straight_to_the_active_contract() -> None:
    change = decide(NQ, D("2025-09-20"), "NQH25")
    assert isinstance(change, Change)
    assert (change.contract.code, change.previous, change.roll_date) == ("NQZ25", "NQH25", D("2025-09-11"))


def test_never_rolls_backwards() -> None:
    ahead = Ahead("NQ", Contract.parse("NQM25"), Contract.parse("NQH25"))
    assert decide(NQ, D("2025-03-01"), "NQM25") == ahead


def test_garbage_in_the_hash_is_overwritten() -> None:
    for junk in ("", "hello", "ESH25"):
        change = decide(NQ, D("2025-03-01"), junk)
        assert isinstance(change, Change)
        assert change.contract.code == "NQH25"
        assert change.previous == junk


def test_roll_outputs_ids_come_from_root_and_contract() -> None:
    change = decide(NQ, D("2025-03-13"), "NQH25")
    assert isinstance(change, Change)
    history, event = roll_outputs(change, NAMES, "rollover")
    assert history.stream == NAMES.contract_history
    assert history.envelope.id == "NQ:NQM25"
    assert history.envelope.body == ContractRoll(
        root="NQ", contract="NQM25", previous="NQH25", roll_date="2025-03-13", expiry="2025-06-20"
    )
    assert event.stream == NAMES.events
    assert event.envelope.id == "contract_roll:NQ:NQM25"
    body = event.envelope.body
    assert isinstance(body, Event)
    assert (body.kind, body.symbol, body.data["previous"]) == ("contract_roll", "NQ", "NQH25")
    again = roll_outputs(change, NAMES, "rollover")
    assert [o.envelope.id for o in again] == [history.envelope.id, event.envelope.id]


def test_ahead_event_is_a_warning_with_a_stable_id() -> None:
    out = ahead_event(Ahead("NQ", Contract.parse("NQM25"), Contract.parse("NQH25")), NAMES, "rollover")
    assert out.envelope.id == "contract_ahead:NQ:NQM25:NQH25"
    assert isinstance(out.envelope.body, Event)
    assert out.envelope.body.severity == "warning"


def test_every_dated_root_of_the_registry_gets_its_configured_rule() -> None:
    rules = rules_from_registry(load_symbols(REPO_ROOT / "deploy" / "config"))
    assert set(rules) == {"NQ", "MNQ", "ES", "MES", "WIN", "WDO"}
    assert rules["WIN"].roll_business_days_before == 3
    assert rules["WIN"].exchange_calendar == "BVMF"
    assert exchange_zone("CMES") == ZoneInfo("America/Chicago")
    assert exchange_zone("BVMF") == ZoneInfo("America/Sao_Paulo")


@pytest.mark.parametrize(
    ("raw", "qty"),
    [
        (b"2", 2.0),
        (b"-1.5", -1.5),
        (json.dumps({"qty": -3}).encode(), -3.0),
        (json.dumps({"quantity": 1, "avg_price": 2}).encode(), 1.0),
        (msgpack.packb({"qty": 4.0}), 4.0),
        (msgpack.packb(-2), -2.0),
        (b"\xc1", None),
        (json.dumps({"avg": 1}).encode(), None),
        (b"true", None),
    ],
)
def test_parse_quantity(raw: bytes, qty: float | None) -> None:
    assert parse_quantity(raw) == qty


def test_open_positions_in_the_old_contract_on_dated_venues_only() -> None:
    raw = {
        b"NQ|sim": b"2",
        b"NQ|nt8": b'{"qty": 0}',
        b"NQH25|sierra": b"-1",
        b"NQ|mt5-global": b"3",
        b"ES|sim": b"5",
        b"NQM25|sim": b"1",
        b"NQ|bookmap": b"\xc1",
        b"nonsense": b"1",
    }
    found = open_positions(raw, "NQ", "NQH25", {"sim", "nt8", "sierra", "bookmap"})
    assert found == [
        RollPosition("NQ", "bookmap", None),
        RollPosition("NQH25", "sierra", -1.0),
        RollPosition("NQ", "sim", 2.0),
    ]
    assert open_positions({}, "NQ", "NQH25", {"sim"}) == []


def test_position_events_one_per_position_with_derived_ids() -> None:
    change = decide(NQ, D("2025-03-13"), "NQH25")
    assert isinstance(change, Change)
    outs = position_events(change, [RollPosition("NQ", "sim", 2.0)], NAMES, "rollover")
    assert [o.envelope.id for o in outs] == ["position_roll:NQ:NQH25>NQM25:sim"]
    body = outs[0].envelope.body
    assert isinstance(body, Event)
    assert (body.kind, body.venue, body.data["quantity"]) == ("position_roll_required", "sim", 2.0)


def test_clock_pinned_file_and_system(tmp_path: Path) -> None:
    utc = ZoneInfo("UTC")
    assert RollClock().today(utc) == dt.datetime.now(utc).date()
    assert RollClock().mode == "system"
    assert RollClock(D("2025-03-01")).today(utc) == D("2025-03-01")
    path = tmp_path / "today"
    clock = RollClock(D("2025-03-01"), path)
    assert clock.mode == "file"
    assert clock.today(utc) == D("2025-03-01")  # no file yet: the pinned date
    path.write_text("2025-03-14\n")
    assert clock.today(utc) == D("2025-03-14")
    path.write_text("not a date")
    assert clock.today(utc) == D("2025-03-01")
