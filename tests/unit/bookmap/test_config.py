"""Bookmap adapter settings: defaults, the token redacted, TLS and loopback rules."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import SecretStr

from nexus_bookmap.config import DEFAULT_PORT, BookmapSettings
from nexus_protocol.errors import ConfigError


def test_defaults_and_a_redacted_token(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NX_BOOKMAP_TOKEN", "s3cret-token")
    s = BookmapSettings()
    assert (s.venue, s.service, s.bookmap_port, DEFAULT_PORT) == ("bookmap", "adapter-bookmap", 9003, 9003)
    assert s.token == "s3cret-token"
    assert "s3cret" not in repr(s)
    assert "s3cret" not in str(s.model_dump())
    s.check()  # loopback: fine


def test_beyond_loopback_needs_a_token_and_tls() -> None:
    with pytest.raises(ConfigError, match="NX_BOOKMAP_TOKEN"):
        BookmapSettings(bookmap_host="0.0.0.0").check()
    with pytest.raises(ConfigError, match="TLS"):
        BookmapSettings(bookmap_host="0.0.0.0", bookmap_token=SecretStr("t")).check()
    with pytest.raises(ValueError, match="go together"):
        BookmapSettings(bookmap_tls_cert=Path("cert.pem"))
    assert BookmapSettings(bookmap_host="localhost").loopback
