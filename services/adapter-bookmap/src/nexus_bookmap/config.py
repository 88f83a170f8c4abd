"""Settings of the Bookmap adapter (NX_ prefix): the WebSocket server the add-on dials, and its timeouts.

The add-on (`addon/nexus_bookmap_addon.py`) connects to `ws://NX_BOOKMAP_HOST:NX_BOOKMAP_PORT/...` (any
path); set the add-on's `NX_BOOKMAP_URL` to match. Both sides read the shared token from
`NX_BOOKMAP_TOKEN`. It is a `SecretStr`: `repr(settings)` and log lines show `'**********'`, never the
value, and it comes from the environment or a secrets file, never from a file under version control.

Rules checked at start (a ConfigError, exit code 2):
- Listening beyond the loopback interface needs a token and TLS (`NX_BOOKMAP_TLS_CERT` +
  `NX_BOOKMAP_TLS_KEY`): the token travels in the add-on's hello, and orders travel on this link.
  `NX_BOOKMAP_INSECURE=true` waives TLS (never the token) on a private network only, such as the dev
  environment's compose network, where the add-on runs in a simulated Bookmap beside the adapter.
- On loopback without a token the adapter accepts an add-on whose token is empty (a one-machine setup),
  and says so in its log.
"""

from __future__ import annotations

import ssl
from pathlib import Path

from pydantic import Field, SecretStr, model_validator

from nexus_mesh.adapter import AdapterSettings
from nexus_mesh.connection import is_loopback
from nexus_protocol.errors import ConfigError

DEFAULT_PORT = 9003


class BookmapSettings(AdapterSettings):
    venue: str = "bookmap"
    bookmap_host: str = "127.0.0.1"  # loopback unless TLS is on: the token travels in hello
    bookmap_port: int = Field(default=DEFAULT_PORT, ge=0, le=65_535)
    bookmap_token: SecretStr | None = None  # NX_BOOKMAP_TOKEN, the same variable the add-on reads
    bookmap_tls_cert: Path | None = None  # PEM certificate chain; with bookmap_tls_key the server is wss://
    bookmap_tls_key: Path | None = None
    bookmap_insecure: bool = False  # beyond loopback without TLS: a private network only (dev's compose)
    bookmap_handshake_timeout_s: float = Field(default=10.0, gt=0)  # connection open -> hello
    bookmap_heartbeat_s: float = Field(default=5.0, gt=0)  # our heartbeat and WebSocket ping interval
    bookmap_dead_after_s: float = Field(default=20.0, gt=0)  # no pong for this long: the add-on is gone
    bookmap_submit_timeout_s: float = Field(default=5.0, gt=0)  # order_submit -> first order_update
    bookmap_query_timeout_s: float = Field(default=10.0, gt=0)  # open_orders_query -> a complete snapshot
    bookmap_connect_wait_s: float = Field(default=3.0, ge=0)  # at start, wait this long for the add-on
    # a gap in the add-on's market data: wait this long for the snapshot it promises, then reconnect it
    bookmap_resnapshot_grace_s: float = Field(default=2.0, gt=0)
    bookmap_md_batch_ms: float = Field(default=50.0, gt=0)  # depth changes coalesced into one update

    @model_validator(mode="after")
    def _tls_pair(self) -> BookmapSettings:
        if (self.bookmap_tls_cert is None) != (self.bookmap_tls_key is None):
            raise ValueError("NX_BOOKMAP_TLS_CERT and NX_BOOKMAP_TLS_KEY go together")
        return self

    @property
    def token(self) -> str:
        return self.bookmap_token.get_secret_value() if self.bookmap_token is not None else ""

    @property
    def loopback(self) -> bool:
        return is_loopback(self.bookmap_host)

    def check(self) -> None:
        """Cross-setting rules; ConfigError (exit 2) when broken."""
        if self.loopback:
            return
        if not self.token:
            raise ConfigError(
                f"NX_BOOKMAP_HOST={self.bookmap_host}: beyond loopback NX_BOOKMAP_TOKEN is required"
            )
        if self.bookmap_tls_cert is None and not self.bookmap_insecure:
            raise ConfigError(
                f"NX_BOOKMAP_HOST={self.bookmap_host}: beyond loopback TLS is required "
                "(NX_BOOKMAP_TLS_CERT and NX_BOOKMAP_TLS_KEY; NX_BOOKMAP_INSECURE=true on a private network)"
            )

    def ssl_context(self) -> ssl.SSLContext | None:
        if self.bookmap_tls_cert is None or self.bookmap_tls_key is None:
            return None
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.minimum_version = ssl.TLSVersion.TLSv1_2
        try:
            ctx.load_cert_chain(self.bookmap_tls_cert, self.bookmap_tls_key)
        except (OSError, ssl.SSLError) as exc:
            raise ConfigError(f"NX_BOOKMAP_TLS_CERT/NX_BOOKMAP_TLS_KEY: cannot load ({exc})") from None
        return ctx
