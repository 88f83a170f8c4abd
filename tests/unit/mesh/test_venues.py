"""venues.yaml read once for every service, checked against symbols.yaml: unknown roots, roots a venue
has no spelling for, shared codes, unknown environments and unknown NX_VENUE stop a service at start."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from nexus_mesh.config_files import load_symbols
from nexus_mesh.venues import check_venue, load_venues
from nexus_protocol.errors import ConfigError
from nexus_testing import edited_config

CONFIG = Path(__file__).resolve().parents[3] / "deploy" / "config"


def test_every_environment_of_the_shipped_files_is_consistent() -> None:
    symbols = load_symbols(CONFIG)
    for environment in yaml.safe_load((CONFIG / "venues.yaml").read_text())["environments"]:
        assert load_venues(CONFIG, environment, symbols)


def test_an_unknown_root_is_named_with_where_it_is(tmp_path: Path) -> None:
    cfg = edited_config(tmp_path, "venues.yaml", {"environments.dev.nt8.symbols": ["NQ", "FOO"]})
    load_venues(cfg, "dev")  # without the registry only the file's own shape is checked
    with pytest.raises(ConfigError, match=r"venues.yaml: environments.dev.nt8.symbols: unknown root 'FOO'"):
        load_venues(cfg, "dev", load_symbols(cfg))


def test_a_root_the_venue_cannot_spell_is_named(tmp_path: Path) -> None:
    cfg = edited_config(tmp_path, "venues.yaml", {"environments.dev.nt8.symbols": ["NQ", "WIN"]})
    with pytest.raises(
        ConfigError, match=r"environments.dev.nt8.symbols: WIN has no spelling for venue 'nt8'"
    ):
        load_venues(cfg, "dev", load_symbols(cfg))


def test_two_venues_with_one_code_and_an_unknown_environment(tmp_path: Path) -> None:
    cfg = edited_config(tmp_path, "venues.yaml", {"environments.dev.nt8.code": "sc"})
    with pytest.raises(ConfigError, match="two venues share a code"):
        load_venues(cfg, "dev")
    with pytest.raises(ConfigError, match=r"NX_ENVIRONMENT='nope': not in .*venues.yaml \(known: dev, "):
        load_venues(CONFIG, "nope")


def test_an_adapter_venue_must_be_in_the_file() -> None:
    check_venue(CONFIG, "sim")  # the single environment's
    check_venue(CONFIG, "mt5-brazil")
    with pytest.raises(
        ConfigError, match=r"NX_VENUE='nope': not a venue of .*venues.yaml \(venues: bookmap, "
    ):
        check_venue(CONFIG, "nope")
