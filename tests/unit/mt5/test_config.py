"""Adapter settings: one instance per terminal, secrets redacted, a classic bridge only where private."""

from __future__ import annotations

import pytest

from nexus_mesh.settings import load_settings
from nexus_mt5.config import Mt5Settings
from nexus_protocol.errors import ConfigError


def test_instance_from_the_environment_with_the_password_redacted(monkeypatch: pytest.MonkeyPatch) -> None:
    for key, value in {
        "NX_VENUE": "mt5-brazil",
        "NX_MT5_LOGIN": "5100201",
        "NX_MT5_PASSWORD": "hunter2",
        "NX_MT5_SERVER": "Broker-B3",
        "NX_MT5_PORT": "18813",
        "NX_MT5_FILLING": "return",
        "NX_MT5_SYMBOLS": "WINZ25, WDOF26",
        "NX_MT5_MAGIC": "4242",
    }.items():
        monkeypatch.setenv(key, value)
    s = load_settings(Mt5Settings)
    assert (s.venue, s.service, s.mt5_login, s.mt5_port, s.magic) == (
        "mt5-brazil",
        "adapter-mt5-brazil",
        5_100_201,
        18_813,
        4242,
    )
    assert s.mt5_symbols == ("WINZ25", "WDOF26")
    assert s.password == "hunter2"
    assert "hunter2" not in repr(s) and "hunter2" not in str(s.model_dump())


def test_defaults_and_a_magic_number_per_instance() -> None:
    g, b = Mt5Settings(), Mt5Settings(venue="mt5-brazil")
    assert (g.venue, g.service, g.mt5_mode, g.mt5_host, g.mt5_port) == (
        "mt5-global",
        "adapter-mt5-global",
        "rpyc",
        "127.0.0.1",
        18812,
    )
    assert g.magic != b.magic and g.magic == Mt5Settings().magic  # derived, stable
    assert g.password is None


def test_a_classic_bridge_off_loopback_needs_ssl_or_an_explicit_private_network() -> None:
    with pytest.raises(ConfigError, match="not loopback"):
        load_settings(Mt5Settings, mt5_host="10.0.0.5")
    assert load_settings(Mt5Settings, mt5_host="10.0.0.5", mt5_ssl_ca="/certs/ca.pem").mt5_host == "10.0.0.5"
    assert load_settings(
        Mt5Settings, mt5_host="host.docker.internal", mt5_insecure_bridge=True
    ).mt5_insecure_bridge
    assert load_settings(Mt5Settings, mt5_host="10.0.0.5", mt5_mode="native").mt5_mode == "native"
    with pytest.raises(ConfigError, match="go together"):
        load_settings(Mt5Settings, mt5_ssl_ca="/ca.pem", mt5_ssl_cert="/c.pem", mt5_host="localhost")


def test_bad_values_name_their_variable() -> None:
    with pytest.raises(ConfigError, match="NX_MT5_MODE"):
        load_settings(Mt5Settings, mt5_mode="wine")
    with pytest.raises(ConfigError, match="NX_MT5_PASSWORD=<redacted>"):
        load_settings(Mt5Settings, mt5_password=["not", "a", "string"])
