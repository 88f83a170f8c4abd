"""Settings of a simulated venue (NX_ prefix) and its market file (deploy/config/sim.yaml)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from nexus_mesh.adapter import AdapterSettings


class SimMarketConfig(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    seed: int = 7
    fill_parts: int = Field(default=1, ge=1)
    spread_ticks: int = Field(default=1, ge=0)
    step_ticks: int = Field(default=1, ge=0)
    start_prices: dict[str, float] = Field(default_factory=dict)


class SimVenueSettings(AdapterSettings):
    sim_latency_ms: float = Field(default=0.0, ge=0)  # delay before each order reaches the engine
    sim_md_interval_s: float = Field(default=0.5, gt=0)  # how often it moves prices and emits ticks
    sim_fill_parts: int | None = Field(default=None, ge=1)  # overrides sim.yaml
    sim_equity_usd: float | None = Field(default=None, gt=0)  # the account's equity it reports (sizing)
