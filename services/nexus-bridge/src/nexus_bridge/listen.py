"""The client's reading logic, without I/O: which streams to read from which id, and what an entry means.

Market data is fan-out: plain XREAD on `nx:{md:SYMBOL}`, starting at the stream's end when the
client subscribes (the end is looked up once, then the reader follows explicit ids, so nothing
between two reads is skipped). After a lost connection market data restarts at the end again: stale
ticks are worth nothing. Executions are read from where the client connected and, after a lost
connection, from the last one seen: no execution is lost to an outage.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

from nexus_bridge.wire import (
    CONNECTED,
    DISCONNECTED,
    SAFE_MODE,
    SentSignals,
    execution_data,
    md_symbol,
    tick_data,
)
from nexus_mesh.connection import as_str
from nexus_protocol.codec import decode
from nexus_protocol.errors import DecodeError
from nexus_protocol.streams import Names

log = logging.getLogger(__name__)
MD = "market_data"
EXECUTION = "execution"
_START = "0-0"


def status_of(link_up: bool, bridge_alive: bool, require_bridge: bool) -> str:
    if not link_up:
        return DISCONNECTED
    return CONNECTED if bridge_alive or not require_bridge else SAFE_MODE


def last_id(reply: Any) -> str:
    """The id of an XREVRANGE COUNT 1 reply, or the start for an empty or missing stream."""
    if not reply:
        return _START
    return as_str(reply[0][0])


@dataclass
class ReaderCore:
    names: Names
    all_executions: bool = False
    sent: SentSignals = field(default_factory=SentSignals)
    symbols: set[str] = field(default_factory=set)
    md_cursors: dict[str, str] = field(default_factory=dict)  # stream -> last id read
    exec_cursor: str | None = None  # None: not resolved yet (look up the stream's end)

    @property
    def executions(self) -> str:
        return self.names.executions

    def subscribe(self, *symbols: str) -> None:
        self.symbols.update(s.strip().upper() for s in symbols if s.strip())

    def discovered(self, keys: list[Any]) -> None:
        """Add the symbols of md stream keys found by SCAN (when no symbols were given)."""
        for k in keys:
            sym = md_symbol(as_str(k), self.names)
            if sym:
                self.symbols.add(sym)

    def unresolved(self) -> list[str]:
        """Streams whose starting id must be looked up (XREVRANGE + - COUNT 1) before reading."""
        out = [self.names.md(s) for s in sorted(self.symbols) if self.names.md(s) not in self.md_cursors]
        if self.exec_cursor is None:
            out.append(self.executions)
        return out

    def resolved(self, stream: str, entry_id: str) -> None:
        if stream == self.executions:
            self.exec_cursor = entry_id
        else:
            self.md_cursors[stream] = entry_id

    def reconnected(self) -> None:
        """After an outage: market data from the end again, executions from the last one seen."""
        self.md_cursors.clear()

    def streams(self, *, with_executions: bool, with_md: bool = True) -> dict[str, str]:
        out = dict(self.md_cursors) if with_md else {}
        if with_executions and self.exec_cursor is not None:
            out[self.executions] = self.exec_cursor
        return out

    def route(self, raw_stream: Any, raw_id: Any, fields: Any) -> tuple[str, dict[str, Any]] | None:
        """Advance the stream's cursor; the (kind, data) for a callback, or None to skip the entry."""
        stream, entry_id = as_str(raw_stream), as_str(raw_id)
        self.resolved(stream, entry_id)
        try:
            env = decode(fields)
        except DecodeError as exc:
            log.warning("skipping an undecodable entry %s on %s: %s", entry_id, stream, exc)
            return None
        if stream == self.executions:
            data = execution_data(env)
            if data is None or not (self.all_executions or data["signal_id"] in self.sent):
                return None
            return EXECUTION, data
        tick = tick_data(env)
        return (MD, tick) if tick is not None else None
