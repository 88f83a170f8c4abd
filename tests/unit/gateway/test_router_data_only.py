"""The router refuses a leg to a venue whose adapter heartbeat says the platform cannot trade (the live
flag the Bookmap adapter publishes), with check venue_data_only and a 'market data only' reason."""

from __future__ import annotations

from pathlib import Path

from nexus_gateway.router.checks import decide
from nexus_gateway.router.limits import load_limits
from nexus_gateway.router.state import Snapshot
from nexus_mesh.config_files import load_symbols
from nexus_mesh.venues import VenueConfig
from nexus_protocol import OrderStatus, Side, Signal
from nexus_protocol.enums import OrderType
from nexus_protocol.ids import new_signal_id

CONFIG = Path(__file__).resolve().parents[3] / "deploy" / "config"
VENUES = {"bookmap": VenueConfig(code="bm", adapter="bookmap", symbols=("NQ",),
                                 order_types=(OrderType.MARKET,), can_trade=True)}  # fmt: skip


def route(can_trade: bool | None) -> tuple[list[str], OrderStatus, str | None]:
    snap = Snapshot(venue_connected={"bookmap": True}, last_prices={"NQ": 21000.0})
    if can_trade is not None:
        snap.venue_can_trade["bookmap"] = can_trade
    signal = Signal(signal_id=new_signal_id(), symbol="NQ", side=Side.BUY, quantity=1)
    d = decide(signal, snap, load_limits(CONFIG, "dev"), VENUES, load_symbols(CONFIG), throttled=False)
    (leg,) = d.route.legs
    return [r.check for r in d.refusals], leg.status, leg.reason


def test_the_live_flag_refuses_the_leg_with_its_reason() -> None:
    checks, status, reason = route(False)
    assert (checks, status) == (["venue_data_only"], OrderStatus.REJECTED)
    assert reason is not None
    assert "market data only" in reason


def test_a_venue_that_can_trade_or_says_nothing_is_routed() -> None:
    assert route(True)[:2] == ([], OrderStatus.PENDING)
    assert route(None)[:2] == ([], OrderStatus.PENDING)
