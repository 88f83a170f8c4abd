"""The simulated Bookmap's wire format against the real `bookmap` package (0.1.2): what the host sends
parses with the package's own parser into the values intended, and what the package sends parses with
ours into what the package meant."""

from __future__ import annotations

import math
import queue
from typing import Any

import bookmap as bm
import pytest
from bookmap import bookmap as bm_impl

from nexus_bookmap.simulator import wire
from nexus_bookmap.simulator.wire import SEP, T


def package_parse(text: str) -> tuple[Any, ...]:
    """What the package hands to a handler for this line (after `addon`)."""
    type_token = text.split(SEP, maxsplit=1)[0]
    return tuple(bm_impl._get_parameters_from_msg(type_token, text))


def package_sends(call: Any, *args: Any) -> str:
    """The line a package function puts on the add-on's queue (what goes to Bookmap)."""
    addon: dict[str, Any] = {"event_queue": queue.Queue()}
    call(addon, *args)
    return str(addon["event_queue"].get_nowait())


def test_type_codes_match_the_package() -> None:
    for name in ("CLIENT_INIT", "SERVER_INIT", "INSTRUMENT_INFO", "REQ_DATA", "RESP_DATA", "TRADE", "DEPTH"):
        assert str(int(T[name])) == getattr(bm_impl, name)
    for name in ("SEND_ORDER", "EXECUTE_ORDER", "UPDATE_ORDER", "ORDER_INFO", "CANCEL_ORDER"):
        assert str(int(T[name])) == getattr(bm_impl, name)
    assert str(int(T.INITIALIZATION_FINISHED)) == bm_impl.FINISHED_INITIALIZATION
    assert str(int(T.BALANCE_UPDATE)) == bm_impl.BALANCE_UPDATE
    assert str(int(T.POSITION_UPDATE)) == bm_impl.POSITION_UPDATE
    assert SEP == bm_impl.FIELD_SEPARATOR


def test_instrument_info_parses_as_the_package_expects() -> None:
    text = wire.instrument_info(
        alias="NQZ5",
        full_name="NQ Dec 25",
        is_crypto=False,
        pips=0.25,
        size_multiplier=1.0,
        instrument_multiplier=20.0,
        features=wire.supported_features(trading=False),
    )
    alias, full_name, is_crypto, pips, mult, inst_mult, features = package_parse(text)
    assert (alias, full_name, is_crypto, pips, mult, inst_mult) == (
        "NQZ5",
        "NQ Dec 25",
        False,
        0.25,
        1.0,
        20.0,
    )
    assert features["trading"] is False
    assert features["depth"] is True


def test_market_data_parses_as_the_package_expects() -> None:
    assert package_parse(wire.depth("NQZ5", True, 84001, 12)) == ("NQZ5", True, 84001, 12)
    assert package_parse(wire.depth("NQZ5", False, 84002, 0)) == ("NQZ5", False, 84002, 0)
    parsed = package_parse(wire.trade("NQZ5", 84001.0, 3, is_bid_aggressor=True))
    assert parsed == ("NQZ5", 84001.0, 3, False, True, True, True, "", "")
    assert package_parse(wire.resp_data(17)) == (17,)
    assert package_parse(wire.instrument_detached("NQZ5")) == ("NQZ5",)
    assert package_parse(wire.server_init()) == ()


def test_order_events_parse_as_the_package_expects() -> None:
    info = wire.order_info_update(
        alias="NQZ5",
        order_id="3",
        is_buy=True,
        order_type="LMT",
        client_id="01JD3ZK6Q9X8V7W5T4S3R2P1N0.bm0",
        filled=1,
        unfilled=1,
        average_fill_price=21000.25,
        duration="GTC",
        status="WORKING",
        limit_price=21000.25,
        stop_price=math.nan,
        stop_triggered=False,
        time_ms=1_700_000_000_000,
        changed=("filled", "unfilled"),
    )
    (parsed,) = package_parse(wire.update_order(info))
    assert parsed["clientId"] == "01JD3ZK6Q9X8V7W5T4S3R2P1N0.bm0"
    assert parsed["orderId"] == "3"
    assert parsed["filledChanged"] is True
    assert parsed["statusChanged"] is False
    assert math.isnan(parsed["stopPrice"])  # gson writes NaN; the package's json.loads reads it
    assert list(parsed)[:9] == [f"{n}Changed" for n in wire._CHANGED]  # gson: subclass fields first
    execution = wire.execution_info(order_id="3", size=1, price=21000.25, execution_id="9", time_ms=5)
    assert package_parse(wire.execute_order("NQZ5", execution)) == ("NQZ5", execution)
    status = wire.status_info(
        alias="NQZ5",
        unrealized_pnl=1.0,
        realized_pnl=0.0,
        currency="USD",
        position=2,
        average_price=21000.0,
        volume=2,
        working_buys=0,
        working_sells=0,
    )
    assert package_parse(wire.position_update(status)) == (status,)
    balance = wire.balance_info(currency="USD", balance=10.0, realized_pnl=0.0, unrealized_pnl=1.0)
    (parsed_balance,) = package_parse(wire.balance_update(balance))
    assert parsed_balance["balancesInCurrency"][0]["netLiquidityValue"] == 11.0


def test_what_the_package_sends_parses_as_bookmap_reads_it() -> None:
    req = wire.parse(package_sends(bm.subscribe_to_order_info, "NQZ5", 7))
    assert req == wire.ReqDataLine("NQZ5", 7, int(T.ORDER_INFO), ())
    params = bm.OrderSendParameters("NQZ5", False, 3)
    params.limit_price = 21010.25
    params.client_id = "01JD3ZK6Q9X8V7W5T4S3R2P1N0.bm0"
    params.duration = "DAY"
    order = wire.parse(package_sends(bm.send_order, params))
    assert order == wire.SendOrderLine(
        "NQZ5", False, 3, 21010.25, None, "DAY", "01JD3ZK6Q9X8V7W5T4S3R2P1N0.bm0"
    )
    market = wire.parse(package_sends(bm.send_order, bm.OrderSendParameters("NQZ5", True, 1)))
    assert market == wire.SendOrderLine("NQZ5", True, 1, None, None, None, None)
    cancel = wire.parse(package_sends(bm.cancel_order, "NQZ5", "3"))
    assert cancel == wire.CancelOrderLine("NQZ5", "3", True, None)
    batch = wire.parse(package_sends(bm.cancel_order, "NQZ5", "4", False, 12))
    assert batch == wire.CancelOrderLine("NQZ5", "4", False, 12)
    assert wire.parse(bm_impl.CLIENT_INIT) == wire.OtherLine(int(T.CLIENT_INIT), ())


@pytest.mark.parametrize(
    "text", ["x", f"19{SEP}not json", f"3{SEP}NQZ5", f"23{SEP}NQZ5{SEP}1{SEP}True{SEP}abc"]
)
def test_malformed_lines_raise_wire_error(text: str) -> None:
    with pytest.raises(wire.WireError):
        wire.parse(text)
