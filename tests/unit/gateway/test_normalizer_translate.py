"""The normalizer's translation of a leg: a well-formed leg that cannot be traded at its venue is
refused (Refused: the leg is rejected with the reason), a leg naming what the registry does not know
is malformed (DecodeError); neither is a crash."""

from __future__ import annotations

import datetime as dt

import pytest

from nexus_gateway.normalizer.translate import Translator
from nexus_mesh.config_files import load_symbols
from nexus_protocol.enums import Side
from nexus_protocol.errors import DecodeError, NexusError, Refused
from nexus_protocol.messages import Order
from nexus_testing import REPO_ROOT

SID = "01J0000000000000000000000A"
TR = Translator(load_symbols(REPO_ROOT / "deploy" / "config"))


def leg(venue: str = "sierra", symbol: str = "NQ", quantity: float = 1) -> Order:
    return Order(
        client_order_id=f"{SID}.sc0",
        signal_id=SID,
        venue=venue,
        symbol=symbol,
        side=Side.BUY,
        quantity=quantity,
    )


def test_a_dated_leg_takes_the_active_contract() -> None:
    vo = TR.to_venue(leg(), {"NQ": "NQZ26"}, None)
    assert (vo.venue_symbol, vo.contract, vo.venue_quantity) == ("NQZ26", "NQZ26", 1)


def test_no_active_contract_is_a_refusal_not_malformed_data() -> None:
    with pytest.raises(Refused, match="no active contract for NQ") as err:
        TR.to_venue(leg(), {}, None)
    assert err.value.field == "contract" and not isinstance(err.value, DecodeError)


def test_a_contract_of_another_root_is_refused() -> None:
    with pytest.raises(Refused, match="not a NQ contract"):
        TR.to_venue(leg(), {"NQ": "ESZ26"}, None)


def test_below_the_venue_minimum_is_refused() -> None:
    with pytest.raises(Refused, match="below its minimum"):
        TR.to_venue(leg(quantity=0.5), {"NQ": "NQZ26"}, None)


def test_a_symbol_the_registry_does_not_know_is_malformed() -> None:
    with pytest.raises(DecodeError, match="unknown symbol"):
        TR.to_venue(leg(symbol="XYZ"), {}, None)
    assert issubclass(Refused, NexusError) and issubclass(DecodeError, NexusError)


def test_a_continuous_contract_is_resolved_against_the_active_one() -> None:
    day = dt.date(2025, 3, 10)
    nxt = TR.to_venue(leg().replace(contract="NQ2!"), {"NQ": "NQH25"}, None, day)
    assert (nxt.contract, nxt.venue_symbol) == ("NQM25", "NQM25")
    front = TR.to_venue(leg(venue="nt8").replace(contract="NQ1!"), {}, None, day)
    assert (front.contract, front.venue_symbol) == ("NQH25", "NQ 03-25")  # no hash: the calendar's
    cfd = TR.to_venue(leg(venue="mt5-global").replace(contract="NQ2!"), {}, None, day)
    assert (cfd.contract, cfd.venue_symbol) == (None, "NAS100")  # a CFD has no contracts
    with pytest.raises(Refused, match="not a NQ contract"):
        TR.to_venue(leg().replace(contract="NQ2!"), {"NQ": "ESM25"}, None, day)
