"""Tokens: from NX_INGRESS_TOKENS and a secrets file, checked at start, looked up by digest."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest
from pydantic import SecretStr

from nexus_ingress.config import IngressSettings
from nexus_ingress.sources import GENERATED_SOURCE, load_sources, parse_pairs
from nexus_mesh.settings import load_settings
from nexus_protocol.errors import ConfigError

T1, T2 = "a" * 24, "b" * 40


def settings(tmp_path: Path, **kw: object) -> IngressSettings:
    return load_settings(IngressSettings, data_dir=tmp_path, **kw)


def test_pairs_are_read_with_comments_and_blanks() -> None:
    assert parse_pairs(["# tokens", "", f" tv = {T1} ", f"algo={T2}"], "f") == {"tv": T1, "algo": T2}


@pytest.mark.parametrize(
    ("lines", "why"),
    [
        ([T1], "want source=token"),
        ([f"TV={T1}"], "want source=token"),
        (["tv=short"], "shorter than 24"),
        ([f"tv={T1}", f"tv={T2}"], "given twice"),
    ],
)
def test_a_bad_pair_stops_the_start_naming_the_entry(lines: list[str], why: str) -> None:
    with pytest.raises(ConfigError, match=why):
        parse_pairs(lines, "NX_INGRESS_TOKENS")


def test_tokens_from_the_environment_and_a_file(tmp_path: Path) -> None:
    f = tmp_path / "tokens"
    f.write_text(f"algo={T2}\n")
    s = settings(tmp_path, ingress_tokens=SecretStr(f"tv={T1}"), ingress_tokens_file=f)
    src = load_sources(s)
    assert (src.source_of(T1), src.source_of(T2), src.source_of("x" * 30)) == ("tv", "algo", None)
    assert T1 not in repr(src) and src.names == ["algo", "tv"]
    f.write_text(f"tv={T2}\n")
    with pytest.raises(ConfigError, match="also in NX_INGRESS_TOKENS"):
        load_sources(s)
    f.write_text(f"algo={T1}\n")
    with pytest.raises(ConfigError, match="share a token"):
        load_sources(s)


def test_no_token_stops_the_start_unless_one_may_be_generated(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="no source tokens"):
        load_sources(settings(tmp_path))
    with pytest.raises(ConfigError, match=r"NX_INGRESS_TOKENS_FILE=.*no such file"):
        load_sources(settings(tmp_path, ingress_tokens_file=tmp_path / "missing"))
    src = load_sources(settings(tmp_path, ingress_generate_token=True))
    path = tmp_path / "ingress-tokens"
    name, token = path.read_text().strip().split("=", 1)
    assert name == GENERATED_SOURCE and src.source_of(token) == GENERATED_SOURCE
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert load_sources(settings(tmp_path, ingress_generate_token=True)).source_of(token) == "local"
