"""Settings of the MetaTrader 5 adapter (NX_ prefix): one process per terminal and account.

The same image runs once per terminal (`NX_VENUE=mt5-global`, `NX_VENUE=mt5-brazil`), each with its
own account, server, terminal and magic number. The password comes from the environment only
(`NX_MT5_PASSWORD`, e.g. a compose `env_file` that is not under version control) and is a
`SecretStr`: neither `repr(settings)` nor a log line shows it. Units are in the field names.

The rpyc bridge runs a *classic* rpyc server that executes any code a client sends: the adapter
refuses to reach one on a non-loopback address without SSL (`NX_MT5_SSL_CA`), unless told the
network is private (`NX_MT5_INSECURE_BRIDGE=true`, e.g. Docker Desktop's host-only gateway).
"""

from __future__ import annotations

import zlib
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import NoDecode

from nexus_mesh.adapter import AdapterSettings
from nexus_mesh.connection import is_loopback

DEFAULT_BRIDGE_PORT = 18812  # mt5linux's default
COMMENT_MAX_LEN = 31  # the terminal keeps 31 characters of an order comment


class Mt5Settings(AdapterSettings):
    venue: str = "mt5-global"
    mt5_mode: Literal["native", "rpyc"] = "rpyc"  # native: MetaTrader5 in this process (Windows only)
    mt5_login: int | None = None  # None: whatever account the terminal is logged in to
    mt5_password: SecretStr | None = None  # NX_MT5_PASSWORD, from the environment only
    mt5_server: str | None = None  # the broker's trade server, e.g. "Broker-Demo"
    mt5_path: str | None = None  # terminal64.exe of this instance's terminal (native, or the bridge side)
    mt5_host: str = "127.0.0.1"  # rpyc bridge
    mt5_port: int = Field(default=DEFAULT_BRIDGE_PORT, ge=1, le=65_535)
    mt5_ssl_ca: Path | None = None  # set: SSL to the bridge, server checked against this CA
    mt5_ssl_cert: Path | None = None  # client certificate (the bridge requires one when it has a CA)
    mt5_ssl_key: Path | None = None
    mt5_insecure_bridge: bool = False  # allow a non-loopback bridge without SSL (private network only)
    mt5_initialize_timeout_ms: int = Field(default=60_000, ge=1_000)  # terminal start and login
    mt5_request_timeout_s: float = Field(default=10.0, gt=0)  # one call over rpyc; then unknown outcome
    mt5_magic: int | None = Field(default=None, ge=1, le=2**63 - 1)  # None: derived from the venue name
    mt5_deviation_points: int = Field(default=20, ge=0)  # accepted slippage on market orders, in points
    mt5_max_requotes: int = Field(default=3, ge=0)  # re-sends with fresh prices after a requote
    mt5_retry_pause_ms: int = Field(default=100, ge=0)  # before re-sending (requote, too many requests)
    mt5_filling: Literal["auto", "fok", "ioc", "return"] = "auto"  # auto: from the symbol's flags
    mt5_hedging_close: bool = True  # hedging account: an order against our open position closes it
    mt5_reconnect_max_s: float = Field(default=30.0, gt=0)  # backoff between initialize attempts
    mt5_symbols: Annotated[tuple[str, ...], NoDecode] = ()  # market data; empty: the registry's for the venue
    mt5_poll_interval_s: float = Field(default=0.5, gt=0)  # new deals and order states
    mt5_md_interval_s: float = Field(default=0.5, gt=0)  # quotes to nx:md:raw:{venue}
    mt5_md_refresh_s: float = Field(default=5.0, gt=0)  # an unchanged quote is re-sent this often
    mt5_account_interval_s: float = Field(default=5.0, gt=0)  # account_info (the equity for sizing)
    mt5_history_days: int = Field(default=7, ge=1, le=90)  # lookup by comment searches this far back
    mt5_overlap_s: int = Field(default=86_400, ge=0)  # reconcile re-reads deals this far before the marker
    mt5_deal_wait_ms: int = Field(default=500, ge=0)  # after order_send, wait this long for its deals
    mt5_server_utc_offset_s: int = 0  # trade server time minus UTC (deal times -> venue_ts_ns)
    mt5_fault_kill_after_send: bool = False  # chaos tests only: SIGKILL right after order_send returns

    @field_validator("mt5_symbols", mode="before")
    @classmethod
    def _symbols(cls, v: Any) -> Any:
        if isinstance(v, str):  # comma-separated from the environment
            return tuple(s.strip() for s in v.split(",") if s.strip())
        return v

    @model_validator(mode="after")
    def _bridge_is_private(self) -> Mt5Settings:
        if (
            self.mt5_mode == "rpyc"
            and not is_loopback(self.mt5_host)
            and self.mt5_ssl_ca is None
            and not self.mt5_insecure_bridge
        ):
            raise ValueError(
                f"NX_MT5_HOST={self.mt5_host} is not loopback: the classic rpyc bridge runs any code it is "
                "sent; set NX_MT5_SSL_CA (+ NX_MT5_SSL_CERT/KEY), "
                "or NX_MT5_INSECURE_BRIDGE=true on a private network"
            )
        if (self.mt5_ssl_cert is None) != (self.mt5_ssl_key is None):
            raise ValueError("NX_MT5_SSL_CERT and NX_MT5_SSL_KEY go together")
        return self

    @property
    def magic(self) -> int:
        """The instance's magic number: marks its orders and deals at the terminal."""
        if self.mt5_magic is not None:
            return self.mt5_magic
        return 700_000_000 + zlib.crc32(self.venue.encode()) % 100_000_000

    @property
    def password(self) -> str | None:
        return self.mt5_password.get_secret_value() if self.mt5_password is not None else None
