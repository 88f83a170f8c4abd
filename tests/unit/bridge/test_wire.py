"""What the client builds and hands to callbacks; the settings and config merge; strategy outputs."""

from __future__ import annotations

from pathlib import Path

import pytest

from nexus_bridge.config import BridgeSettings, load_config
from nexus_bridge.dispatch import Dispatcher
from nexus_bridge.errors import SignalError
from nexus_bridge.host import StrategyError, StrategySignal, as_signals, load_strategy
from nexus_bridge.listen import ReaderCore, status_of
from nexus_bridge.wire import build_signal, md_symbol, parse_mqscore, parse_side
from nexus_protocol import Names, OrderType, Side
from nexus_protocol.errors import ConfigError
from nexus_protocol.ids import is_signal_id, new_signal_id

ROOT = Path(__file__).resolve().parents[3]


def test_side_is_case_insensitive_or_a_number() -> None:
    assert parse_side("buy") is Side.BUY and parse_side("SELL") is Side.SELL and parse_side(-1.0) is Side.SELL
    for bad in ("hold", 0, True):
        with pytest.raises(SignalError):
            parse_side(bad)  # type: ignore[arg-type]


def test_mqscore_float_dict_or_object() -> None:
    class Result:
        composite_score = 0.6
        noise_level = 0.3

    assert parse_mqscore(0.7) == (0.7, None)
    assert parse_mqscore({"composite": 0.8, "noise_level": 0.1}) == (0.8, 0.1)
    assert parse_mqscore(Result()) == (0.6, 0.3)
    with pytest.raises(SignalError):
        parse_mqscore({"other": 1})


def test_build_signal_gives_a_ulid_and_validates() -> None:
    env = build_signal(
        "nq", "Buy", 0.8, 2, {"composite": 0.9, "noise_level": 0.2}, order_type="limit", limit_price=20990.0
    )
    s = env.body
    assert is_signal_id(s.signal_id) and env.id == s.signal_id
    assert (s.symbol, s.side, s.quantity, s.mqscore, s.noise, s.order_type) == (
        "NQ",
        Side.BUY,
        2,
        0.9,
        0.2,
        OrderType.LIMIT,
    )
    for kwargs in (
        {"confidence": 1.5},
        {"quantity": 0},
        {"quantity": float("nan")},
        {"confidence": float("nan")},
    ):
        args = {"confidence": 0.8, "quantity": 1.0, **kwargs}
        with pytest.raises(SignalError):
            build_signal("NQ", "buy", args["confidence"], args["quantity"])
    with pytest.raises(SignalError, match="limit_price"):
        build_signal("NQ", "buy", 0.8, 1, order_type="limit")


def test_md_stream_names() -> None:
    n = Names("nx")
    assert md_symbol(n.md("NQ"), n) == "NQ"
    assert md_symbol(n.md_raw("sim"), n) is None and md_symbol(n.signals, n) is None


def test_reader_core_routes_only_our_executions_and_restarts_md_at_the_end() -> None:
    core = ReaderCore(Names("nx"))
    core.subscribe("nq")
    assert core.unresolved() == ["nx:{md:NQ}", "nx:{executions}"]
    core.resolved("nx:{md:NQ}", "5-0")
    core.resolved("nx:{executions}", "7-0")
    assert core.streams(with_executions=True) == {"nx:{md:NQ}": "5-0", "nx:{executions}": "7-0"}
    core.reconnected()
    assert core.unresolved() == ["nx:{md:NQ}"] and core.exec_cursor == "7-0"
    assert status_of(False, True, True) == "disconnected"
    assert status_of(True, False, True) == "safe_mode" and status_of(True, False, False) == "connected"


def test_market_data_queue_drops_the_oldest_and_counts() -> None:
    d = Dispatcher("md", lambda _x: None, maxsize=2, drop_oldest=True)
    for i in range(5):
        assert d.put(i)
    assert list(d.items) == [3, 4] and d.dropped == 3
    ex = Dispatcher("ex", lambda _x: None, maxsize=1, drop_oldest=False)
    assert ex.put(1) and not ex.put(2) and ex.dropped == 0


def test_strategy_outputs_and_loading() -> None:
    got = as_signals({"symbol": "NQ", "signal": "BUY", "qty": 1, "confidence": 0.8})
    assert got == [StrategySignal(symbol="NQ", side="BUY", quantity=1, confidence=0.8)]
    assert as_signals(None) == [] and len(as_signals([got[0], got[0]])) == 2
    with pytest.raises(StrategyError):
        as_signals({"symbol": "NQ", "colour": "red"})
    with pytest.raises(StrategyError):
        as_signals(42)
    strat = load_strategy(
        "nexus_bridge.examples.momentum:Momentum", {"threshold_points": "2", "lookback": "3"}
    )
    assert strat.threshold_points == 2.0 and strat.lookback == 3
    assert strat({"symbol": "NQ", "price": 100.0}) == []
    [s] = strat({"symbol": "NQ", "price": 102.5})
    assert (s.side, s.reference_price) == ("BUY", 102.5)
    assert strat({"symbol": "NQ", "price": 103.0}) == []  # the window started again after the signal
    with pytest.raises(StrategyError):
        load_strategy("nexus_bridge.examples.momentum")


def test_config_file_with_overrides_and_errors_naming_the_source(tmp_path: Path) -> None:
    cfg_dir = ROOT / "deploy" / "config"
    cfg = load_config(BridgeSettings(config_dir=cfg_dir, bridge_confidence_min=0.7))
    assert cfg.confidence_min == 0.7 and cfg.confidence_full_size == 0.75 and cfg.loss_streak_max == 5
    with pytest.raises(ConfigError, match="NX_BRIDGE_CONFIDENCE_MIN"):
        load_config(BridgeSettings(config_dir=cfg_dir, bridge_confidence_min=1.5))
    bad = tmp_path / "bridge.yaml"
    bad.write_text("noise_max: -1\n")
    with pytest.raises(ConfigError, match="noise_max"):
        load_config(BridgeSettings(config_dir=tmp_path))


def test_a_callers_own_signal_id_must_be_a_ulid_and_reduce_only_is_passed_on() -> None:
    sid = new_signal_id()
    env = build_signal("NQ", "SELL", 0.9, 1, signal_id=sid, reduce_only=True)
    assert env.id == env.body.signal_id == sid and env.body.reduce_only
    for bad, why in ((sid[:-1] + "L", "holds 'L'"), (sid[:-1], "has 25 characters"), (sid.lower(), "holds")):
        with pytest.raises(SignalError, match=why) as err:
            build_signal("NQ", "BUY", 0.9, 1, signal_id=bad)
        assert err.value.field == "signal_id"
    with pytest.raises(SignalError, match="reduce_only"):
        build_signal("NQ", "BUY", 0.9, 1, reduce_only="yes")  # type: ignore[arg-type]
