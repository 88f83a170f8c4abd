"""Settings: TLS files go together, no plaintext beyond loopback unless said; ingress.yaml's policies."""

from __future__ import annotations

from pathlib import Path

import pytest

from nexus_ingress.config import IngressConfig, IngressSettings, load_config
from nexus_mesh.settings import load_settings
from nexus_protocol.errors import ConfigError

ROOT = Path(__file__).resolve().parents[3]


def settings(**kw: object) -> IngressSettings:
    return load_settings(IngressSettings, **kw)


def test_listening_beyond_loopback_needs_tls_or_an_explicit_plaintext(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"NX_INGRESS_HOST=0\.0\.0\.0: listening beyond loopback needs TLS"):
        settings(ingress_host="0.0.0.0")
    assert not settings(ingress_host="0.0.0.0", ingress_allow_plaintext=True).tls
    cert, key = tmp_path / "c.pem", tmp_path / "k.pem"
    with pytest.raises(ConfigError, match="go together"):
        settings(ingress_tls_cert_file=cert)
    with pytest.raises(ConfigError, match=r"NX_INGRESS_TLS_CERT_FILE=.*no such file"):
        settings(ingress_tls_cert_file=cert, ingress_tls_key_file=key)
    cert.write_text("x")
    key.write_text("x")
    assert settings(ingress_host="::", ingress_tls_cert_file=cert, ingress_tls_key_file=key).tls


def test_the_tokens_file_defaults_to_the_data_dir_and_the_policy_file_to_the_config_dir() -> None:
    s = settings(data_dir=Path("/d"), config_dir=ROOT / "deploy" / "config")
    assert s.tokens_file == Path("/d/ingress-tokens")
    cfg = load_config(s)
    assert cfg.policy("tradingview").default_confidence == 1.0
    assert cfg.policy("tradingview").rate_per_s == cfg.defaults.rate_per_s
    assert cfg.policy("unknown") == cfg.defaults
    with pytest.raises(ConfigError, match="NX_INGRESS_PORT"):
        settings(ingress_port=70_000)


@pytest.mark.parametrize(
    ("raw", "why"),
    [
        ({"sources": {"Bad Name": {}}}, "a source name is"),
        ({"sources": {"tv": {"rate_per_s": 0}}}, "sources.tv.rate_per_s"),
        ({"sources": {"tv": {"colour": 1}}}, "sources.tv.colour"),
        ({"defaults": {"burst": 0}}, "burst"),
    ],
)
def test_a_bad_policy_is_refused_naming_it(tmp_path: Path, raw: object, why: str) -> None:
    import yaml

    (tmp_path / "ingress.yaml").write_text(yaml.safe_dump(raw))
    with pytest.raises(ConfigError, match=why):
        load_config(settings(config_dir=tmp_path))
    assert IngressConfig().policy("x").burst == 10
