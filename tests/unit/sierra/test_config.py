"""Sierra adapter settings: venue and service defaults, secrets redacted, symbols from the environment."""

from __future__ import annotations

import pytest

from nexus_sierra.config import DEFAULT_PORT, SierraSettings, TradeMode


def test_defaults_name_the_sierra_venue_and_port(monkeypatch: pytest.MonkeyPatch) -> None:
    for k in ("NX_VENUE", "NX_SERVICE", "NX_SIERRA_PORT"):
        monkeypatch.delenv(k, raising=False)
    s = SierraSettings()
    assert (s.venue, s.service, s.sierra_port) == ("sierra", "adapter-sierra", DEFAULT_PORT)


def test_the_password_never_shows(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NX_SIERRA_PASSWORD", "hunter2")
    monkeypatch.setenv("NX_SIERRA_USERNAME", "trader")
    s = SierraSettings()
    cfg = s.client_config()
    assert cfg.password == "hunter2"
    assert "hunter2" not in repr(s)
    assert "hunter2" not in repr(cfg)
    assert "hunter2" not in str(s.model_dump())


def test_symbols_trade_mode_and_heartbeat_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NX_SIERRA_SYMBOLS", "NQH25, ESH25")
    monkeypatch.setenv("NX_SIERRA_TRADE_MODE", "2")
    monkeypatch.setenv("NX_SIERRA_HEARTBEAT_INTERVAL_S", "3")
    monkeypatch.setenv("NX_SIERRA_SYMBOL_SUFFIX", "-CME")
    cfg = SierraSettings().client_config()
    assert cfg.symbols == ("NQH25", "ESH25")
    assert cfg.trade_mode == TradeMode.SIMULATED
    assert cfg.dead_after_s == 9.0
    assert (cfg.wire_symbol("NQH25"), cfg.venue_symbol("NQH25-CME"), cfg.venue_symbol("X")) == (
        "NQH25-CME",
        "NQH25",
        "X",
    )
