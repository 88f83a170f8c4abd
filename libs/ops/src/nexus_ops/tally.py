"""Today's trading, read incrementally: the dashboard's numbers from the signals and executions (the
archive, with the streams for what it has not received yet; the streams alone without an archive).

The session day starts at risk.yaml's `session_reset_at` in `session_timezone` (the router's day, so
the dashboard's trade count matches the router's limit). Each `update` reads only the entries added
since the last one, so a refresh every second stays cheap all day.
"""

from __future__ import annotations

import datetime as dt
import statistics
from dataclasses import dataclass, field
from pathlib import Path

from nexus_mesh.config_files import read_yaml
from nexus_mesh.session import TradingSession
from nexus_ops.records import END_OF_TIME_MS, History, StreamEntry, Window, entry_order, percentile
from nexus_ops.trading import Metrics, day_of, metrics
from nexus_protocol.messages import Execution, Signal
from nexus_protocol.streams import Names

_LATENCY_WINDOW = 1_000  # the newest finals the latency figures cover


def trading_session(config_dir: Path | None, environment: str | None) -> TradingSession:
    """risk.yaml's session rule for the environment (the router's day), else the router's defaults."""
    if config_dir is not None:
        try:
            risk = read_yaml(Path(config_dir) / "risk.yaml") or {}
            merged = {
                **(risk.get("default") or {}),
                **((risk.get("environments") or {}).get(environment or "") or {}),
            }
            return TradingSession.model_validate(
                {k: merged[k] for k in TradingSession.model_fields if k in merged}
            )
        except Exception:  # the defaults are the router's defaults
            pass
    return TradingSession()


def session_start(config_dir: Path | None, environment: str | None, now: dt.datetime) -> dt.datetime:
    """When the current session day began (the router's reset time, default 17:00 New York)."""
    return trading_session(config_dir, environment).session_start(now)


@dataclass
class Tally:
    names: Names
    start_ms: int
    session: TradingSession = field(default_factory=TradingSession)
    origins: dict[str, float] = field(default_factory=dict)  # signal id -> origin ms
    latest: dict[str, Execution] = field(default_factory=dict)
    final_ms: dict[str, int] = field(default_factory=dict)
    latencies: list[float] = field(default_factory=list)
    _last: dict[str, tuple[int, int]] = field(default_factory=dict)  # stream -> last entry read

    def _read(self, history: History, stream: str) -> list[StreamEntry]:
        """Entries added since the last call (the window starts at the last one read, kept out)."""
        last = self._last.get(stream)
        window = Window(last[0] if last else self.start_ms, END_OF_TIME_MS)
        out = [e for e in history.entries(stream, window) if last is None or entry_order(e.entry_id) > last]
        if out:
            self._last[stream] = entry_order(out[-1].entry_id)
        return out

    def update(self, history: History) -> None:
        for e in self._read(history, "signals"):
            if isinstance(e.env.body, Signal):
                self.origins[e.env.body.signal_id or e.env.id] = e.origin_ms
        for e in self._read(history, "executions"):
            ex = e.env.body
            if not isinstance(ex, Execution):
                continue
            if ex.signal_id in self.final_ms:
                continue  # after its first final, an execution only repeats itself
            self.latest[ex.signal_id] = ex
            if ex.final:
                self.final_ms[ex.signal_id] = e.ms
                origin = self.origins.get(ex.signal_id)
                if origin is not None:
                    self.latencies.append(e.ms - origin)
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

    def trading(self) -> Metrics:
        """The plan's trading metrics of today's final executions: in total, per platform, per symbol."""
        finals = [
            (dt.datetime.fromtimestamp(self.final_ms[sid] / 1000, dt.UTC), self.latest[sid])
            for sid in self.final_ms
        ]
        return metrics(finals, day_of(self.session))

    def rejected(self) -> int:
        return sum(1 for ex in self.finals if ex.status.value == "rejected")
