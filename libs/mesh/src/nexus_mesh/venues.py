"""The venues of each environment (deploy/config/venues.yaml): one reader for every service.

Checked at start, against symbols.yaml too: a venue must trade only roots the registry knows and spells
for it, two venues of an environment never share a client-order-id code, and an adapter's NX_VENUE must
be a venue of the file. Each problem is a ConfigError naming the file, the place and the value.
"""

from __future__ import annotations

import re
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, field_validator

from nexus_mesh.accounts import ExposureSizing, SessionRule, Sizing
from nexus_mesh.config_files import check_roots, load_model
from nexus_protocol.enums import OrderType
from nexus_protocol.errors import ConfigError
from nexus_protocol.symbols import SymbolRegistry

ADAPTERS = ("sim", "mt5", "nt8", "quantower", "sierra", "bookmap")


class VenueConfig(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    code: str
    adapter: str
    symbols: tuple[str, ...]
    order_types: tuple[OrderType, ...] = (OrderType.MARKET,)
    enabled: bool = True
    can_trade: bool = True
    # per account (nexus_mesh.accounts): how much of a signal it trades, and when
    sizing: Sizing = ExposureSizing()
    symbol_map: dict[str, str] = Field(default_factory=dict)  # NQ: MNQ - this account trades the micro
    sessions: dict[str, SessionRule] = Field(default_factory=dict)  # root (or "*") -> rule

    @field_validator("code")
    @classmethod
    def _code(cls, v: str) -> str:
        if not re.fullmatch(r"[a-z0-9]{2}", v):
            raise ValueError("code must be 2 lowercase letters or digits")
        return v

    @field_validator("adapter")
    @classmethod
    def _adapter(cls, v: str) -> str:
        if v not in ADAPTERS:
            raise ValueError(f"adapter must be one of {', '.join(ADAPTERS)}")
        return v


class VenuesFile(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    environments: dict[str, dict[str, VenueConfig]] = Field(default_factory=dict)


def venues_path(config_dir: Path) -> Path:
    return Path(config_dir) / "venues.yaml"


def load_venues_file(config_dir: Path) -> VenuesFile:
    return load_model(venues_path(config_dir), VenuesFile)


def load_venues(
    config_dir: Path, environment: str, symbols: SymbolRegistry | None = None
) -> dict[str, VenueConfig]:
    """The venues of `environment`; with `symbols`, every root they trade is checked against it."""
    path = venues_path(config_dir)
    venues_file = load_venues_file(config_dir)
    if environment not in venues_file.environments:
        known = ", ".join(sorted(venues_file.environments))
        raise ConfigError(f"NX_ENVIRONMENT={environment!r}: not in {path} (known: {known})")
    venues = venues_file.environments[environment]
    codes = [v.code for v in venues.values()]
    if len(set(codes)) != len(codes):
        raise ConfigError(f"{path}: environments.{environment}: two venues share a code")
    if symbols is not None:
        check_venue_roots(venues, symbols, f"{path}: environments.{environment}")
    return venues


def check_venue_roots(venues: dict[str, VenueConfig], symbols: SymbolRegistry, where: str) -> None:
    """Every root a venue trades is in the symbol registry, with a spelling for that venue."""
    for name, venue in venues.items():
        check_roots(venue.symbols, symbols, f"{where}.{name}.symbols")
        for root in venue.symbols:
            if name not in symbols.symbols[root].venues:
                raise ConfigError(
                    f"{where}.{name}.symbols: {root} has no spelling for venue {name!r} in symbols.yaml"
                )
        for root, mapped in venue.symbol_map.items():
            for r in (root, mapped):
                if r not in venue.symbols:
                    raise ConfigError(
                        f"{where}.{name}.symbol_map: {r} must be among the symbols {name} trades"
                    )
        for root in venue.sessions:
            if root != "*" and root not in venue.symbols:
                raise ConfigError(f"{where}.{name}.sessions: {name} does not trade {root}")


def check_venue(config_dir: Path, venue: str) -> None:
    """An adapter's NX_VENUE names a venue of venues.yaml (in some environment)."""
    environments = load_venues_file(config_dir).environments
    known = sorted({name for venues in environments.values() for name in venues})
    if venue not in known:
        raise ConfigError(
            f"NX_VENUE={venue!r}: not a venue of {venues_path(config_dir)} (venues: {', '.join(known)})"
        )
