"""rollover settings (NX_ prefix).

The clock is the system date in each root's exchange time zone. Tests pin it: `NX_ROLLOVER_TODAY`
(an ISO date) fixes it for the process's life, and `NX_ROLLOVER_CLOCK_FILE` names a file holding an
ISO date, read every tick, that moves it while the process runs (it wins over `NX_ROLLOVER_TODAY`
while it holds a date). Both are unset in production. The file, not a Redis key, because a key
could be set by any client of the bus; a file needs the host.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from pydantic import Field

from nexus_mesh.settings import MeshSettings


class RolloverSettings(MeshSettings):
    service: str = "rollover"
    rollover_today: dt.date | None = None  # tests: pins the date
    rollover_clock_file: Path | None = None  # tests: a file with an ISO date, read every tick
    rollover_tick_interval_s: float = Field(default=1.0, gt=0)
    rollover_roll_positions: bool = (
        False  # on a roll: close old, open new (false: a warning per open position)
    )
