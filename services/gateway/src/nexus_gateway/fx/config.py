"""fx settings (NX_ prefix) and its optional table of other currencies (deploy/config/fx.yaml).

`NX_FX_SOURCE=wdo` (default) takes USDBRL from the WDO ticks on nx:md:WDO; `fixed` takes it from
`NX_FX_FIXED_USDBRL` (BRL per USD, e.g. 5.49) for tests and installs without WDO data. A market rate
older than `NX_FX_MAX_AGE_S` is stale: BRL fills wait in the hold until a fresh one arrives.
"""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator

from nexus_gateway.fx.money import USD, wire_rate
from nexus_gateway.fx.rates import BRL
from nexus_mesh.config_files import load_model
from nexus_mesh.settings import MeshSettings

FX_FILE = "fx.yaml"


class FxSettings(MeshSettings):
    service: str = "fx"
    fx_source: Literal["wdo", "fixed"] = "wdo"  # declared before fx_fixed_usdbrl: its validator reads it
    # BRL per USD (5.49), used when fx_source is "fixed"
    fx_fixed_usdbrl: Decimal | None = Field(default=None, gt=0, allow_inf_nan=False, validate_default=True)
    fx_max_age_s: float = Field(default=120.0, gt=0)
    fx_wdo_symbol: str = "WDO"  # the universal root whose ticks (nx:md:{root}) give USDBRL
    fx_tick_interval_s: float = Field(default=1.0, gt=0)  # how often held fills are retried

    # A field validator, not a model one: its error names NX_FX_FIXED_USDBRL alone, while a model-level
    # error is reported by nexus_mesh.settings with every setting's value (the Redis URL among them).
    @field_validator("fx_fixed_usdbrl")
    @classmethod
    def _fixed_needs_rate(cls, v: Decimal | None, info: ValidationInfo) -> Decimal | None:
        if v is None and info.data.get("fx_source") == "fixed":
            raise ValueError("NX_FX_SOURCE=fixed needs NX_FX_FIXED_USDBRL (BRL per USD, e.g. 5.49)")
        return v


class FxTable(BaseModel):
    """Configured rates for currencies with no market feed: USD per one unit. They never go stale,
    so keep them for currencies whose moves do not matter at the precision of fees and P&L reports."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    usd_rates: dict[str, Decimal] = Field(default_factory=dict)

    @field_validator("usd_rates")
    @classmethod
    def _rates(cls, v: dict[str, Decimal]) -> dict[str, Decimal]:
        out: dict[str, Decimal] = {}
        for cur, rate in v.items():
            code = cur.upper()
            if code in (USD, BRL):
                raise ValueError(f"{code} is not configured here (USD is 1; BRL comes from NX_FX_SOURCE)")
            if not rate.is_finite() or rate <= 0:
                raise ValueError(f"{code}: a rate must be a positive number of USD per unit")
            out[code] = wire_rate(rate)
        return out


def load_table(config_dir: Path) -> FxTable:
    """fx.yaml under NX_CONFIG_DIR; an absent file means no other currencies."""
    path = Path(config_dir) / FX_FILE
    if not path.exists():
        return FxTable()
    return load_model(path, FxTable)
