"""Per-account settings of a venue in venues.yaml, as models (read by nexus_mesh.venues); the logic
that uses them is the router's (nexus_gateway.router.sizing, .sessions).

    nt8:
      code: n8
      ...
      sizing: {mode: ratio, ratio: 0.5}          # default {mode: exposure}
      symbol_map: {NQ: MNQ, ES: MES}              # this account trades the micro for a mini signal
      sessions:                                   # default: always
        "*": exchange                             # the root's exchange session (exchange_calendars)
        NQ: {start: "08:30", end: "15:00", timezone: America/Chicago}
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, field_validator

_CFG = ConfigDict(frozen=True, extra="forbid")


class _Mode(BaseModel):
    """What every mode has: a cap in venue units."""

    model_config = _CFG

    max_quantity: float | None = Field(default=None, gt=0)  # venue units


class ExposureSizing(_Mode):
    mode: Literal["exposure"] = "exposure"


class RatioSizing(_Mode):
    mode: Literal["ratio"]
    ratio: float = Field(gt=0)


class FixedSizing(_Mode):
    mode: Literal["fixed"]
    quantity: float = Field(gt=0)


class RiskSizing(_Mode):
    mode: Literal["risk"]
    risk_usd: float = Field(gt=0)


class EquitySizing(_Mode):
    mode: Literal["equity"]
    reference_equity_usd: float = Field(gt=0)
    factor: float = Field(default=1.0, gt=0)


SizingMode = ExposureSizing | RatioSizing | FixedSizing | RiskSizing | EquitySizing
Sizing = Annotated[SizingMode, Field(discriminator="mode")]


DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
Day = Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]


class Window(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    start: dt.time
    end: dt.time
    timezone: str = "UTC"
    days: tuple[Day, ...] = ("mon", "tue", "wed", "thu", "fri")

    @field_validator("timezone")
    @classmethod
    def _zone(cls, v: str) -> str:
        try:
            ZoneInfo(v)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown time zone {v!r}") from None
        return v

    def contains(self, when: dt.datetime) -> bool:
        local = when.astimezone(ZoneInfo(self.timezone))
        t = local.time().replace(tzinfo=None)
        if self.start <= self.end:
            return DAYS[local.weekday()] in self.days and self.start <= t < self.end
        if t >= self.start:  # the evening part: the window opened today
            return DAYS[local.weekday()] in self.days
        yesterday = DAYS[(local.weekday() - 1) % 7]  # the morning part: it opened yesterday
        return yesterday in self.days and t < self.end

    def describe(self) -> str:
        return f"{self.start:%H:%M}-{self.end:%H:%M} {self.timezone} on {', '.join(self.days)}"


SessionRule = Literal["always", "exchange"] | Window


def mapped_contract(code: str | None, root: str, to_root: str) -> str | None:
    """A signal's contract on the account's mapped root: NQM25 -> MNQM25, NQ2! -> MNQ2!."""
    if code is None or not code.startswith(root):
        return code
    return to_root + code[len(root) :]
