"""Risk limits (deploy/config/risk.yaml): defaults, per-environment overrides, per-symbol overrides."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from nexus_mesh.config_files import read_yaml, validate
from nexus_mesh.session import TradingSession


class SymbolLimits(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    max_position_per_symbol: float | None = Field(default=None, gt=0)
    max_position_value_usd: float | None = Field(default=None, gt=0)
    max_order_qty: float | None = Field(default=None, gt=0)
    max_net_exposure_usd_per_symbol: float | None = Field(default=None, gt=0)


class Limits(TradingSession):
    model_config = ConfigDict(frozen=True, extra="forbid")

    max_order_qty: float = Field(default=10, gt=0)
    max_position_per_symbol: float = Field(default=5, gt=0)
    max_total_position: float = Field(default=50, gt=0)
    max_daily_trades: int = Field(default=100, ge=0)
    max_daily_loss_usd: float = Field(default=1000, gt=0)
    max_position_value_usd: float = Field(default=50_000, gt=0)
    price_collar_pct: float = Field(default=2.0, gt=0)
    throttle_per_second: int = Field(default=20, ge=1)
    max_signal_age_s: float = Field(default=10.0, gt=0)
    require_venue_connected: bool = True
    # net exposure across every venue and account (positions + working orders), USD; None: no cap
    max_net_exposure_usd: float | None = Field(default=None, gt=0)  # the sum over roots of |net|
    max_net_exposure_usd_per_symbol: float | None = Field(default=None, gt=0)  # |net| of one root
    per_symbol: dict[str, SymbolLimits] = Field(default_factory=dict)
    usd_per_unit_fallback: dict[str, float] = Field(default_factory=dict)

    def for_symbol(self, symbol: str, name: str) -> Any:
        override = self.per_symbol.get(symbol)
        value = getattr(override, name, None) if override else None
        return value if value is not None else getattr(self, name)


def load_limits(config_dir: Path, environment: str) -> Limits:
    path = Path(config_dir) / "risk.yaml"
    raw = read_yaml(path) or {}
    merged = dict(raw.get("default") or {})
    merged.update((raw.get("environments") or {}).get(environment) or {})
    return validate(merged, Limits, path)
