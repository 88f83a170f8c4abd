"""Settings of the NinjaTrader 8 / Quantower adapter (NX_ prefix) and the per-platform profile.

One package serves two instance kinds: `NX_VENUE=nt8` (NinjaTrader 8, through the NinjaScript AddOn
or, degraded, NinjaTrader's ATI) and `NX_VENUE=quantower` (Quantower, through its plugin). Everything
they share is code; everything that differs is a `PlatformProfile`, plain data picked by the venue
name (or `NX_NT8_PLATFORM` for a second instance such as `NX_VENUE=nt8-apex`).

Secrets: `NX_NT8_AUTH_TOKEN` is a `SecretStr` (its repr is `'**********'`); it comes from the
environment or a secrets file, never from a file under version control. The adapter refuses to start
in bridge mode without one.
"""

from __future__ import annotations

import ssl
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path

from pydantic import Field, SecretStr, model_validator

from nexus_mesh.adapter import AdapterSettings
from nexus_protocol.bridge import Platform
from nexus_protocol.enums import TimeInForce
from nexus_protocol.errors import ConfigError

DEFAULT_PORT = 9001


class Nt8Mode(StrEnum):
    """How the adapter reaches the platform."""

    BRIDGE = "bridge"  # the TCP bridge protocol: NinjaScript AddOn / Quantower plugin (full fidelity)
    OIF = "oif"  # NinjaTrader ATI order instruction files, any host with the folder mounted (degraded)
    DLL = "dll"  # NinjaTrader ATI through NinjaTrader.Client.dll via pythonnet, Windows only (degraded)


@dataclass(frozen=True, kw_only=True, slots=True)
class PlatformProfile:
    """What differs between the platforms behind this package: data, not code paths."""

    platform: Platform
    title: str  # for logs and documents
    venue: str  # its venue name in venues.yaml / symbols.yaml (the instrument naming comes from there)
    default_account: str  # the platform's simulation account
    instrument_example: str  # how the platform names NQ March 2025
    time_in_force: frozenset[TimeInForce]  # what the platform can express; others are refused up front
    order_id_field: str  # where our client order id rides on the platform's order
    max_order_id_chars: int  # that field's length limit
    ati: bool  # NinjaTrader's ATI (OIF / NinjaTrader.Client.dll) fallback exists
    platform_version: str  # what the simulator says in hello
    execution_prefix: str  # the simulator's execution ids, so the two platforms' ids never look alike


NT8 = PlatformProfile(
    platform=Platform.NT8, title="NinjaTrader 8", venue="nt8", default_account="Sim101",
    instrument_example="NQ 03-25",
    time_in_force=frozenset({TimeInForce.DAY, TimeInForce.GTC, TimeInForce.IOC}),
    order_id_field="Order.Name", max_order_id_chars=50, ati=True, platform_version="8.1.4.1",
    execution_prefix="NT",
)  # fmt: skip
QUANTOWER = PlatformProfile(
    platform=Platform.QUANTOWER, title="Quantower", venue="quantower", default_account="Simulator",
    instrument_example="NQH25",
    time_in_force=frozenset({TimeInForce.DAY, TimeInForce.GTC, TimeInForce.IOC, TimeInForce.FOK}),
    order_id_field="Order.Comment", max_order_id_chars=50, ati=False, platform_version="1.142.20",
    execution_prefix="QT",
)  # fmt: skip
PROFILES: dict[Platform, PlatformProfile] = {p.platform: p for p in (NT8, QUANTOWER)}


def profile_for(venue: str, platform: Platform | None = None) -> PlatformProfile:
    """The profile named by `platform`, else the one whose venue name prefixes `venue`."""
    if platform is not None:
        return PROFILES[platform]
    for profile in PROFILES.values():
        if venue == profile.venue or venue.startswith(f"{profile.venue}-"):
            return profile
    raise ConfigError(f"NX_VENUE={venue!r}: set NX_NT8_PLATFORM to nt8 or quantower for this venue")


class Nt8Settings(AdapterSettings):
    """The adapter's settings; `NX_NT8_*` for both instance kinds (the package is nexus_nt8)."""

    venue: str = "nt8"
    nt8_mode: Nt8Mode = Nt8Mode.BRIDGE
    nt8_platform: Platform | None = None  # default: from NX_VENUE
    nt8_account: str | None = None  # the platform account orders go to; default: the profile's sim account
    # bridge mode: the TCP (TLS) server the AddOn / plugin connects to
    nt8_host: str = "127.0.0.1"  # loopback unless TLS is on: the token travels in hello
    nt8_port: int = Field(default=DEFAULT_PORT, ge=0, le=65_535)
    nt8_auth_token: SecretStr | None = None
    nt8_tls_cert: Path | None = None  # PEM certificate chain; with nt8_tls_key, the server speaks TLS
    nt8_tls_key: Path | None = None
    nt8_heartbeat_interval_ms: int = Field(default=5_000, ge=50, le=600_000)
    nt8_handshake_timeout_s: float = Field(default=10.0, gt=0)
    nt8_submit_timeout_s: float = Field(default=5.0, gt=0)  # order_submit -> first order_update
    nt8_query_timeout_s: float = Field(default=10.0, gt=0)  # open_orders_query -> snapshot
    nt8_connect_wait_s: float = Field(default=3.0, ge=0)  # at start, wait this long for the platform
    nt8_md_instruments: tuple[str, ...] = ()  # platform naming; empty: the registry's active contracts
    # oif / dll modes: NinjaTrader's ATI
    nt8_ati_dir: Path = Path.home() / "Documents" / "NinjaTrader 8"  # holds incoming/ and outgoing/
    nt8_ati_dll: Path = Path(r"C:\Program Files\NinjaTrader 8\bin\NinjaTrader.Client.dll")
    nt8_ati_grace_s: float = Field(default=2.0, ge=0)  # how long a lookup waits for a state file

    @model_validator(mode="after")
    def _tls_pair(self) -> Nt8Settings:
        if (self.nt8_tls_cert is None) != (self.nt8_tls_key is None):
            raise ValueError("NX_NT8_TLS_CERT and NX_NT8_TLS_KEY go together")
        return self

    @property
    def profile(self) -> PlatformProfile:
        return profile_for(self.venue, self.nt8_platform)

    @property
    def account(self) -> str:
        return self.nt8_account or self.profile.default_account

    def check(self) -> None:
        """Cross-setting rules that need the profile; ConfigError (exit 2) when broken."""
        profile = self.profile
        if self.nt8_mode is Nt8Mode.BRIDGE and not (
            self.nt8_auth_token and self.nt8_auth_token.get_secret_value()
        ):
            raise ConfigError("NX_NT8_AUTH_TOKEN must be set in bridge mode (the AddOn/plugin sends it)")
        if self.nt8_mode is not Nt8Mode.BRIDGE and not profile.ati:
            raise ConfigError(f"NX_NT8_MODE={self.nt8_mode.value}: {profile.title} has no ATI; use bridge")

    def ssl_context(self) -> ssl.SSLContext | None:
        if self.nt8_tls_cert is None or self.nt8_tls_key is None:
            return None
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.minimum_version = ssl.TLSVersion.TLSv1_2
        try:
            ctx.load_cert_chain(self.nt8_tls_cert, self.nt8_tls_key)
        except (OSError, ssl.SSLError) as exc:
            raise ConfigError(f"NX_NT8_TLS_CERT/NX_NT8_TLS_KEY: cannot load ({exc})") from None
        return ctx
