"""ATI file formats (pure): order instruction lines, state and position files."""

from __future__ import annotations

import pytest

from nexus_nt8.ati_client import (
    PlaceCommand,
    cancel_line,
    parse_line,
    parse_position,
    parse_position_name,
    parse_state,
    place_from_fields,
    place_line,
    position_name,
    price_text,
    state_text,
)
from nexus_protocol.enums import OrderStatus

COID = "01JGZ8Y5E3V7Q2M4N6P8R0S2T4.n80"


def test_place_line_has_the_13_documented_fields_in_order() -> None:
    cmd = PlaceCommand(
        account="Sim101",
        instrument="NQ 03-25",
        action="BUY",
        quantity=1,
        order_type="MARKET",
        limit_price=None,
        stop_price=None,
        tif="DAY",
        order_id=COID,
    )
    line = place_line(cmd)
    assert line == f"PLACE;Sim101;NQ 03-25;BUY;1;MARKET;;;DAY;;{COID};;"
    assert len(line.split(";")) == 13
    command, fields = parse_line(line)
    assert command == "PLACE"
    assert place_from_fields(fields) == cmd


def test_limit_and_stop_prices_are_plain_decimals_with_a_dot() -> None:
    cmd = PlaceCommand(
        account="Sim101",
        instrument="ES 03-25",
        action="SELL",
        quantity=2,
        order_type="LIMIT",
        limit_price=6001.25,
        stop_price=None,
        tif="GTC",
        order_id=COID,
    )
    assert place_line(cmd).split(";")[5:9] == ["LIMIT", "6001.25", "", "GTC"]
    assert [price_text(x) for x in (21000.0, 0.1, 1e-7, 1234567.5, None)] == [
        "21000",
        "0.1",
        "0.0000001",
        "1234567.5",
        "",
    ]


def test_cancel_line() -> None:
    assert cancel_line(COID) == f"CANCEL;;;;;;;;;;{COID};;"
    command, fields = parse_line(cancel_line(COID))
    assert (command, fields[10]) == ("CANCEL", COID)


@pytest.mark.parametrize("bad", ["", ";;;", "A;" * 13 + "B"])
def test_a_line_that_is_not_an_oif_command_is_refused(bad: str) -> None:
    with pytest.raises(ValueError, match="not an OIF line"):
        parse_line(bad)


@pytest.mark.parametrize(
    ("text", "status", "filled", "avg"),
    [
        ("FILLED;2;21000.25", OrderStatus.FILLED, 2, 21000.25),
        ("Working;0;0", OrderStatus.ACCEPTED, 0, 0.0),
        ("PartFilled;1;20999.5\r\n", OrderStatus.PARTIALLY_FILLED, 1, 20999.5),
        ("CANCELLED;1;21000", OrderStatus.CANCELLED, 1, 21000.0),
        ("Rejected;0;0", OrderStatus.REJECTED, 0, 0.0),
        ("Submitted;0;", OrderStatus.PENDING, 0, 0.0),
    ],
)
def test_order_state_files(text: str, status: OrderStatus, filled: int, avg: float) -> None:
    state = parse_state(text)
    assert state is not None
    assert (state.status, state.filled, state.avg_price) == (status, filled, avg)


@pytest.mark.parametrize(
    "text", ["", "FILLED;2", "FILL", "FILLED;x;1", "Unknown;0;0", "FILLED;2;21000;extra"]
)
def test_a_half_written_or_unknown_state_file_is_no_news(text: str) -> None:
    assert parse_state(text) is None


def test_state_text_round_trips() -> None:
    assert state_text("FILLED", 2, 21000.25) == "FILLED;2;21000.25"
    assert state_text("WORKING", 0, 0.0) == "WORKING;0;0"


def test_position_files() -> None:
    assert position_name("NQ 03-25", "Sim101") == "NQ 03-25 Globex_Sim101_Position.txt"
    assert parse_position_name("NQ 03-25 Globex_Sim101_Position.txt") == ("NQ 03-25", "Sim101")
    assert parse_position_name("ES 03-25 Sim101_Position.txt") == (
        "ES 03-25",
        "Sim101",
    )  # without the exchange
    assert parse_position_name("oif1.txt") is None
    assert [parse_position(t) for t in ("LONG;2;21000", "SHORT;3;1", "FLAT;0;0", "SIDEWAYS;1;1", "LONG")] == [
        2.0,
        -3.0,
        0.0,
        None,
        None,
    ]
