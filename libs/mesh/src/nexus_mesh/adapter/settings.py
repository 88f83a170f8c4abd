"""Settings every platform adapter shares (NX_ prefix); a platform's own settings subclass these."""

from __future__ import annotations

import re
from typing import Any

from pydantic import Field, field_validator, model_validator

from nexus_mesh.settings import MeshSettings


class AdapterSettings(MeshSettings):
    venue: str = "sim"  # the venue name in venues.yaml and in stream names (nx:orders:{venue})
    # replicas of one service serve one venue each: the first free one of this comma list (adapter.claim)
    venue_pool: str = ""
    tick_interval_s: float = Field(default=0.25, gt=0)  # reconnect, reconcile, kill switch, backlog
    # `nexusctl killswitch on --flatten` closes this venue's positions; false leaves them to the operator
    flatten_on_killswitch: bool = True
    # an order the platform took but has not acknowledged is looked up after this long (and on reconnect)
    ack_timeout_s: float = Field(default=10.0, gt=0)
    # reconcile and compare positions with the gateway's this often (position drift); 0: only on (re)connect
    drift_check_interval_s: float = Field(default=60.0, ge=0)
    # a position difference is an alarm once it has stayed the same this long with no order of its symbol
    # unfinished: fills on their way through the mesh settle first (nexus_mesh.adapter.drift)
    position_grace_s: float = Field(default=30.0, ge=0)
    # such a difference booked as an outside trade and the platform brought back to the gateway's position
    # by an order of the adapter's own (nexus_mesh.adapter.resync); off: only the position_mismatch event
    auto_resync: bool = False
    # at most one resync per venue this often (the rest wait for the window; nexus_mesh.adapter.resync_flow)
    resync_min_interval_s: float = Field(default=300.0, ge=0)

    @model_validator(mode="before")
    @classmethod
    def _service_from_venue(cls, data: Any) -> Any:
        if isinstance(data, dict) and not data.get("service"):
            venue = data.get("venue") or cls.model_fields["venue"].default  # a subclass's own default
            data["service"] = f"adapter-{venue}"
        return data

    @field_validator("venue")
    @classmethod
    def _venue(cls, v: str) -> str:
        if not re.fullmatch(r"[a-z0-9][a-z0-9_-]{0,31}", v):
            raise ValueError("venue must be lowercase letters, digits, '-' or '_'")
        return v
