"""Settings of the Sierra Chart adapter (NX_ prefix), and the client configuration derived from them.

Secrets (the DTC password) come from the environment only (`NX_SIERRA_PASSWORD`) and are
`SecretStr`, so neither `repr(settings)` nor a log line shows them. Units are in the names.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import IntEnum
from typing import Annotated, Any

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import NoDecode

from nexus_mesh.adapter import AdapterSettings

DEFAULT_PORT = 11099  # Sierra Chart's default DTC server listening port (check SC Server Settings)


class TradeMode(IntEnum):
    """LOGON_REQUEST TradeMode of headers before 2022 (the slot is `Unused1` since; sent anyway)."""

    UNSET = 0
    DEMO = 1
    SIMULATED = 2
    LIVE = 3


class SierraSettings(AdapterSettings):
    venue: str = "sierra"
    sierra_host: str = "127.0.0.1"
    sierra_port: int = Field(default=DEFAULT_PORT, ge=1, le=65_535)
    sierra_username: str = ""
    sierra_password: SecretStr | None = None  # NX_SIERRA_PASSWORD; only if "Require Authentication" is on
    sierra_trade_account: str = ""  # empty: the only account the server offers (several: refused)
    sierra_trade_mode: TradeMode = TradeMode.UNSET
    sierra_heartbeat_interval_s: int = Field(default=10, ge=1, le=300)  # DTC counts whole seconds
    sierra_missed_heartbeats: float = Field(default=3.0, ge=1.5)  # server dead after this many intervals
    sierra_connect_timeout_s: float = Field(default=5.0, gt=0)  # TCP connect, and the wait at start
    sierra_response_timeout_s: float = Field(default=5.0, gt=0)  # logon, requests, first ORDER_UPDATE
    sierra_reconnect_initial_s: float = Field(default=0.5, gt=0)
    sierra_reconnect_max_s: float = Field(default=30.0, gt=0)
    sierra_fill_lookback_days: int = Field(default=2, ge=1, le=60)  # HISTORICAL_ORDER_FILLS window
    sierra_symbols: Annotated[tuple[str, ...], NoDecode] = ()  # venue symbols to subscribe: "NQH25,ESH25"
    sierra_exchange: str = ""  # DTC Exchange field, if the data service wants one (e.g. "CME")
    sierra_symbol_suffix: str = ""  # appended to venue symbols on the wire (e.g. "-CME"), removed back

    @field_validator("sierra_symbols", mode="before")
    @classmethod
    def _symbols(cls, v: Any) -> Any:
        if isinstance(v, str):  # a comma-separated list from the environment
            return tuple(s.strip() for s in v.split(",") if s.strip())
        return v

    def client_config(self) -> ClientConfig:
        return ClientConfig(
            host=self.sierra_host,
            port=self.sierra_port,
            username=self.sierra_username,
            password=self.sierra_password.get_secret_value() if self.sierra_password else "",
            trade_account=self.sierra_trade_account,
            trade_mode=int(self.sierra_trade_mode),
            heartbeat_interval_s=self.sierra_heartbeat_interval_s,
            missed_heartbeats=self.sierra_missed_heartbeats,
            connect_timeout_s=self.sierra_connect_timeout_s,
            response_timeout_s=self.sierra_response_timeout_s,
            reconnect_initial_s=self.sierra_reconnect_initial_s,
            reconnect_max_s=self.sierra_reconnect_max_s,
            fill_lookback_days=self.sierra_fill_lookback_days,
            symbols=self.sierra_symbols,
            exchange=self.sierra_exchange,
            symbol_suffix=self.sierra_symbol_suffix,
            venue=self.venue,
        )


@dataclass(frozen=True, kw_only=True)
class ClientConfig:
    """What `DtcClient` needs; frozen, keyword-only; `repr` leaves the password out."""

    host: str = "127.0.0.1"
    port: int = DEFAULT_PORT
    username: str = ""
    password: str = field(default="", repr=False)
    trade_account: str = ""
    trade_mode: int = 0
    heartbeat_interval_s: int = 10
    missed_heartbeats: float = 3.0
    connect_timeout_s: float = 5.0
    response_timeout_s: float = 5.0
    reconnect_initial_s: float = 0.5
    reconnect_max_s: float = 30.0
    fill_lookback_days: int = 2
    symbols: tuple[str, ...] = ()
    exchange: str = ""
    symbol_suffix: str = ""
    venue: str = "sierra"
    client_name: str = "NEXUS mesh"

    @property
    def dead_after_s(self) -> float:
        """No HEARTBEAT from the server for this long: the server is considered dead."""
        return self.heartbeat_interval_s * self.missed_heartbeats

    def wire_symbol(self, venue_symbol: str) -> str:
        return venue_symbol + self.symbol_suffix

    def venue_symbol(self, wire_symbol: str) -> str:
        s = self.symbol_suffix
        return wire_symbol[: -len(s)] if s and wire_symbol.endswith(s) else wire_symbol
