"""The rollover service as a process: the active contract hash, its history, a roll when the clock
moves, and no duplicate roll across a restart or two instances."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import redis

from nexus_gateway.rollover.calendar import active_contract
from nexus_gateway.rollover.service import rules_from_registry
from nexus_mesh.config_files import load_symbols
from nexus_protocol import ContractRoll, Event, Heartbeat, Names
from nexus_protocol.codec import unpack
from nexus_testing import REPO_ROOT, Services, read_stream, wait_for

FAST = {"NX_ROLLOVER_TICK_INTERVAL_S": "0.1", "NX_HEARTBEAT_TTL_MS": "600"}


def contracts(client: redis.Redis, names: Names) -> dict[str, str]:
    raw: dict[bytes, bytes] = client.hgetall(names.contracts)  # type: ignore[assignment]
    return {k.decode(): v.decode() for k, v in raw.items()}


def history(client: redis.Redis, names: Names, root: str | None = None) -> list[ContractRoll]:
    rolls = [e.body for e in read_stream(client, names.contract_history) if isinstance(e.body, ContractRoll)]
    return [r for r in rolls if root is None or r.root == root]


def roll_events(client: redis.Redis, names: Names) -> list[Event]:
    return [
        e.body
        for e in read_stream(client, names.events)
        if isinstance(e.body, Event) and e.body.kind == "contract_roll"
    ]


def ticks(client: redis.Redis, names: Names, instance: str) -> int:
    raw = client.get(names.health("rollover", instance))
    hb: Any = unpack(raw) if raw is not None else None  # type: ignore[arg-type]
    return int(hb.detail.get("ticks", 0)) if isinstance(hb, Heartbeat) else 0


def set_today(path: Path, day: str) -> None:
    tmp = path.with_suffix(".tmp")
    tmp.write_text(day)
    tmp.replace(path)  # atomic: the service never reads half a date


def test_active_contracts_then_a_roll_when_the_date_moves(
    client: redis.Redis, names: Names, services: Services, tmp_path: Path
) -> None:
    clock = tmp_path / "today"
    services.start(
        "nexus_gateway.rollover", NX_ROLLOVER_TODAY="2025-03-01", NX_ROLLOVER_CLOCK_FILE=str(clock), **FAST
    )
    rules = rules_from_registry(load_symbols(REPO_ROOT / "deploy" / "config"))
    expected = {root: active_contract(rule, dt.date(2025, 3, 1)).code for root, rule in rules.items()}
    wait_for(lambda: contracts(client, names) == expected, timeout_s=30, what="every dated root's contract")
    assert expected["NQ"] == "NQH25"
    assert "NAS100" not in expected
    assert "BTCUSD" not in contracts(client, names)
    assert [(r.contract, r.previous) for r in history(client, names, "NQ")] == [("NQH25", None)]

    set_today(clock, "2025-03-13")  # NQH25's roll date
    wait_for(lambda: contracts(client, names)["NQ"] == "NQM25", what="NQ to roll")
    wait_for(lambda: len(history(client, names, "NQ")) == 2, what="the roll in the history")
    first, roll = history(client, names, "NQ")
    assert first.contract == "NQH25"
    assert roll == ContractRoll(
        root="NQ", contract="NQM25", previous="NQH25", roll_date="2025-03-13", expiry="2025-06-20"
    )
    wait_for(
        lambda: any(e.data.get("contract") == "NQM25" for e in roll_events(client, names)),
        what="the roll event",
    )
    event = next(e for e in roll_events(client, names) if e.data.get("contract") == "NQM25")
    assert (event.symbol, event.source, event.data["previous"]) == ("NQ", "rollover", "NQH25")
    ids = [e.id for e in read_stream(client, names.contract_history) if e.body.root == "NQ"]  # type: ignore[attr-defined]
    assert ids == ["NQ:NQH25", "NQ:NQM25"]


def test_restart_and_a_second_instance_do_not_duplicate_a_roll(
    client: redis.Redis, names: Names, services: Services
) -> None:
    first = services.start("nexus_gateway.rollover", NX_ROLLOVER_TODAY="2025-03-14", **FAST)
    wait_for(lambda: contracts(client, names).get("NQ") == "NQM25", timeout_s=30, what="NQM25")
    wait_for(lambda: ticks(client, names, first.name) >= 3, what="a few ticks")
    before = history(client, names)
    events_before = roll_events(client, names)
    assert first.terminate() == 0
    second = services.start("nexus_gateway.rollover", NX_ROLLOVER_TODAY="2025-03-14", **FAST)
    third = services.start("nexus_gateway.rollover", NX_ROLLOVER_TODAY="2025-03-14", **FAST)
    wait_for(
        lambda: ticks(client, names, second.name) >= 3 and ticks(client, names, third.name) >= 3,
        timeout_s=40,  # two processes loading the exchange calendars at once, on a loaded machine
        what="both instances to tick",
    )
    assert history(client, names) == before
    assert roll_events(client, names) == events_before
    assert len(history(client, names, "NQ")) == 1


def test_a_roll_missed_while_down_is_published_by_the_restarted_service(
    client: redis.Redis, names: Names, services: Services
) -> None:
    first = services.start("nexus_gateway.rollover", NX_ROLLOVER_TODAY="2025-03-01", **FAST)
    wait_for(lambda: contracts(client, names).get("NQ") == "NQH25", timeout_s=30, what="NQH25")
    first.sigkill()
    services.start("nexus_gateway.rollover", NX_ROLLOVER_TODAY="2025-09-20", **FAST)
    wait_for(lambda: contracts(client, names).get("NQ") == "NQZ25", timeout_s=30, what="NQZ25")
    wait_for(lambda: len(history(client, names, "NQ")) == 2, what="history")
    assert [(r.contract, r.previous, r.roll_date) for r in history(client, names, "NQ")] == [
        ("NQH25", None, "2024-12-12"),
        ("NQZ25", "NQH25", "2025-09-11"),
    ]


def test_an_early_roll_is_kept_and_open_positions_are_reported(
    client: redis.Redis, names: Names, services: Services
) -> None:
    client.hset(names.contracts, "ES", "ESU25")  # an operator rolled ES early (or a clock was set back)
    client.hset(names.contracts, "NQ", "NQH25")
    client.hset(
        names.state("fills", "positions"),
        mapping={"NQ|sim": '{"qty": 2}', "NQ|mt5-global": "3", "ES|sim": "1"},
    )
    services.start("nexus_gateway.rollover", NX_ROLLOVER_TODAY="2025-03-13", **FAST)  # warn, do not roll
    wait_for(lambda: contracts(client, names).get("NQ") == "NQM25", timeout_s=30, what="NQ roll")

    def kinds() -> dict[str, list[Event]]:
        out: dict[str, list[Event]] = {}
        for e in read_stream(client, names.events):
            if isinstance(e.body, Event):
                out.setdefault(e.body.kind, []).append(e.body)
        return out

    wait_for(lambda: "position_roll_required" in kinds(), what="the position event")
    [position] = kinds()["position_roll_required"]  # NAS100 on mt5-global does not roll
    assert (position.venue, position.data["quantity"], position.data["from"], position.data["to"]) == (
        "sim",
        2.0,
        "NQH25",
        "NQM25",
    )
    wait_for(lambda: "contract_ahead" in kinds(), what="the contract_ahead warning")
    [ahead] = kinds()["contract_ahead"]
    assert (ahead.symbol, ahead.data["contract"], ahead.data["calendar"]) == ("ES", "ESU25", "ESM25")
    assert contracts(client, names)["ES"] == "ESU25"  # never rolled back
    assert history(client, names, "ES") == []
