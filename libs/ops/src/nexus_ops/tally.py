"""Today's trading, read incrementally: the dashboard's numbers from the signal and execution streams.

The session day starts at risk.yaml's `session_reset_at` in `session_timezone` (the router's day, so
the dashboard's trade count matches the router's limit). Each `update` reads only the entries added
since the last one, so a refresh every second stays cheap all day.
"""

from __future__ import annotations

import datetime as dt
import statistics
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import redis

from nexus_mesh.config_files import read_yaml
from nexus_mesh.connection import as_str
from nexus_mesh.session import TradingSession
from nexus_ops.records import entry_ms, percentile
from nexus_protocol.codec import decode
from nexus_protocol.errors import DecodeError
from nexus_protocol.messages import Execution, Signal
from nexus_protocol.streams import Names

_CHUNK = 5_000
_LATENCY_WINDOW = 1_000  # the newest finals the latency figures cover


def session_start(config_dir: Path | None, environment: str | None, now: dt.datetime) -> dt.datetime:
    """When the current session day began (the router's reset time, default 17:00 New York)."""
    session = TradingSession()
    if config_dir is not None:
        try:
            risk = read_yaml(Path(config_dir) / "risk.yaml") or {}
            merged = {
                **(risk.get("default") or {}),
                **((risk.get("environments") or {}).get(environment or "") or {}),
            }
            fields = {k: merged[k] for k in TradingSession.model_fields if k in merged}
            session = TradingSession.model_validate(fields)
        except Exception:  # the defaults are the router's defaults
            pass
    return session.session_start(now)


@dataclass
class Tally:
    names: Names
    start_ms: int
    origins: dict[str, float] = field(default_factory=dict)  # signal id -> origin ms
    latest: dict[str, Execution] = field(default_factory=dict)
    final_ms: dict[str, int] = field(default_factory=dict)
    latencies: list[float] = field(default_factory=list)
    _cursors: dict[str, str] = field(default_factory=dict)

    def _read(self, client: redis.Redis, key: str) -> list[tuple[str, Any]]:
        out: list[tuple[str, Any]] = []
        while True:
            cursor = self._cursors.get(key)
            start = f"({cursor}" if cursor else f"{self.start_ms}-0"  # exclusive after the last one read
            rows: Any = client.xrange(key, min=start, max="+", count=_CHUNK)
            out += [(as_str(i), f) for i, f in rows or ()]
            if rows:
                self._cursors[key] = as_str(rows[-1][0])
            if not rows or len(rows) < _CHUNK:
                return out

    def update(self, client: redis.Redis) -> None:
        for _id, f in self._read(client, self.names.signals):
            try:
                env = decode(f)
            except DecodeError:
                continue
            if isinstance(env.body, Signal):
                self.origins[env.body.signal_id or env.id] = env.ts / 1e6
        for entry_id, f in self._read(client, self.names.executions):
            try:
                ex = decode(f).body
            except DecodeError:
                continue
            if not isinstance(ex, Execution):
                continue
            if ex.signal_id in self.final_ms:
                continue  # after its first final, an execution only repeats itself
            self.latest[ex.signal_id] = ex
            if ex.final:
                self.final_ms[ex.signal_id] = entry_ms(entry_id)
                origin = self.origins.get(ex.signal_id)
                if origin is not None:
                    self.latencies.append(entry_ms(entry_id) - origin)
                    del self.latencies[:-_LATENCY_WINDOW]

    # ---- figures ---------------------------------------------------------------------------------

    @property
    def finals(self) -> list[Execution]:
        return [self.latest[s] for s in self.final_ms]

    def latency(self) -> tuple[float | None, float | None]:
        if not self.latencies:
            return None, None
        return statistics.fmean(self.latencies), percentile(self.latencies, 99)

    def fill_rate(self) -> float | None:
        legs = [leg for ex in self.finals for leg in ex.legs if leg.venue_symbol is not None]
        return sum(1 for leg in legs if leg.status.value == "filled") / len(legs) if legs else None

    def active_orders(self) -> int:
        return sum(
            1
            for sid, ex in self.latest.items()
            if sid not in self.final_ms
            for leg in ex.legs
            if not leg.status.terminal
        )

    def trading(self) -> dict[str, float | int | None]:
        done = [ex for ex in self.latest.values() if ex.filled_quantity > 0]
        wins = [ex.realized_pnl_usd for ex in done if ex.realized_pnl_usd > 0]
        losses = [ex.realized_pnl_usd for ex in done if ex.realized_pnl_usd < 0]
        return {
            "trades": len(done),
            "winners": len(wins),
            "losers": len(losses),
            "win_rate": len(wins) / (len(wins) + len(losses)) if wins or losses else None,
            "avg_win": statistics.fmean(wins) if wins else None,
            "avg_loss": statistics.fmean(losses) if losses else None,
            "net_pnl": sum(ex.realized_pnl_usd for ex in self.latest.values()),
            "profit_factor": sum(wins) / -sum(losses) if losses else None,
            "signals": len(self.origins),
            "rejected": sum(1 for ex in self.finals if ex.status.value == "rejected"),
        }
