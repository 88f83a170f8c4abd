"""The venues of one environment (deploy/config/venues.yaml), shared by the router and normalizer."""

from __future__ import annotations

import re
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, field_validator

from nexus_mesh.config_files import load_model
from nexus_protocol.enums import OrderType
from nexus_protocol.errors import ConfigError

ADAPTERS = ("sim", "mt5", "nt8", "quantower", "sierra", "bookmap")


class VenueConfig(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    code: str
    adapter: str
    symbols: tuple[str, ...]
    order_types: tuple[OrderType, ...] = (OrderType.MARKET,)
    enabled: bool = True
    can_trade: bool = True

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


def load_venues(config_dir: Path, environment: str) -> dict[str, VenueConfig]:
    path = Path(config_dir) / "venues.yaml"
    venues_file = load_model(path, VenuesFile)
    if environment not in venues_file.environments:
        known = ", ".join(sorted(venues_file.environments))
        raise ConfigError(f"NX_ENVIRONMENT={environment!r}: not in {path} (known: {known})")
    venues = venues_file.environments[environment]
    codes = [v.code for v in venues.values()]
    if len(set(codes)) != len(codes):
        raise ConfigError(f"{path}: environments.{environment}: two venues share a code")
    return venues
