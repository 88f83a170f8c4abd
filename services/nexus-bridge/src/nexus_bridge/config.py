"""The bridge service's settings (NX_ prefix) and its guard thresholds (deploy/config/bridge.yaml).

Every threshold lives in `BridgeConfig`, read from `bridge.yaml` under NX_CONFIG_DIR (or the file
NX_BRIDGE_CONFIG_FILE names); each one can be overridden by an `NX_BRIDGE_<FIELD>` variable, which
wins over the file. A bad value in either fails the service at start naming the file or variable.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from nexus_mesh.config_files import read_yaml
from nexus_mesh.session import TradingSession
from nexus_mesh.settings import MeshSettings
from nexus_protocol.errors import ConfigError


class LotSize(BaseModel):
    """A root's smallest tradeable step and minimum, in universal units."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    step: float = Field(default=1.0, gt=0)
    min_qty: float | None = Field(default=None, gt=0)

    @property
    def minimum(self) -> float:
        return self.min_qty if self.min_qty is not None else self.step


class BridgeConfig(TradingSession):
    """The guards' thresholds. Defaults are the seed plan's numbers."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    # confidence filter: below `confidence_min` skip; below `confidence_full_size` scale the size
    confidence_min: float = Field(default=0.65, ge=0, le=1)
    confidence_full_size: float = Field(default=0.75, ge=0, le=1)
    reduced_size_factor: float = Field(default=0.5, gt=0, le=1)
    # MQScore quality gate: composite below the minimum skips, noise above the maximum skips
    mqscore_min: float = Field(default=0.5, ge=0)
    noise_max: float = Field(default=0.7, ge=0)
    require_mqscore: bool = False  # true: a signal without an MQScore composite is skipped
    # duplicate prevention: a symbol whose legs never end is released after this long (with an alert)
    duplicate_timeout_s: float = Field(default=300.0, gt=0)
    # circuit breakers
    loss_streak_max: int = Field(default=5, ge=1)
    loss_streak_pause_s: float = Field(default=3600.0, gt=0)
    daily_loss_limit_usd: float = Field(default=1000.0, gt=0)
    daily_loss_pause_s: float = Field(default=86_400.0, gt=0)
    daily_loss_killswitch: bool = True
    venue_guard: bool = True  # pause disconnected venues (signals carry the connected ones)
    # the lot a reduced size is rounded down to, per root (default: from the symbol registry)
    lots: dict[str, LotSize] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _bands(self) -> BridgeConfig:
        if self.confidence_full_size < self.confidence_min:
            raise ValueError("confidence_full_size must not be below confidence_min")
        return self


# The BridgeConfig fields an NX_BRIDGE_<FIELD> variable may override (all but the per-root map).
OVERRIDABLE = tuple(name for name in BridgeConfig.model_fields if name != "lots")


class BridgeSettings(MeshSettings):
    service: str = "nexus-bridge"
    environment: str = "dev"  # which block of venues.yaml gives the venues the venue guard watches
    bridge_config_file: Path | None = None  # default: {NX_CONFIG_DIR}/bridge.yaml
    bridge_tick_interval_s: float = Field(default=0.5, gt=0)  # timeouts, venue watch, status key
    bridge_status_ttl_ms: int = Field(default=3_000, ge=500)  # the status key clients read
    # overrides of bridge.yaml (unset: the file's value)
    bridge_confidence_min: float | None = None
    bridge_confidence_full_size: float | None = None
    bridge_reduced_size_factor: float | None = None
    bridge_mqscore_min: float | None = None
    bridge_noise_max: float | None = None
    bridge_require_mqscore: bool | None = None
    bridge_duplicate_timeout_s: float | None = None
    bridge_loss_streak_max: int | None = None
    bridge_loss_streak_pause_s: float | None = None
    bridge_daily_loss_limit_usd: float | None = None
    bridge_daily_loss_pause_s: float | None = None
    bridge_daily_loss_killswitch: bool | None = None
    bridge_venue_guard: bool | None = None
    bridge_session_timezone: str | None = None
    bridge_session_reset_at: str | None = None

    @property
    def config_file(self) -> Path:
        return self.bridge_config_file or Path(self.config_dir) / "bridge.yaml"

    def overrides(self) -> dict[str, Any]:
        return {f: v for f in OVERRIDABLE if (v := getattr(self, f"bridge_{f}")) is not None}


def load_config(settings: BridgeSettings) -> BridgeConfig:
    """bridge.yaml with the NX_BRIDGE_* overrides applied, or a ConfigError naming the culprit."""
    path = settings.config_file
    raw = read_yaml(path) or {}
    if not isinstance(raw, dict):
        raise ConfigError(f"{path}: want a map of settings at the top")
    overrides = settings.overrides()
    try:
        return BridgeConfig.model_validate({**raw, **overrides})
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "(file)"
        head = where.split(".", 1)[0]
        origin = f"NX_BRIDGE_{head.upper()}" if head in overrides else f"{path}: {where}"
        raise ConfigError(f"{origin}: {first['msg']} (got {first.get('input')!r})") from None
