"""The ingress's settings (NX_ prefix) and its per-source policy (deploy/config/ingress.yaml).

Settings say where it listens and how: `NX_INGRESS_HOST`/`NX_INGRESS_PORT`, TLS from
`NX_INGRESS_TLS_CERT_FILE` + `NX_INGRESS_TLS_KEY_FILE`. Listening beyond loopback without TLS is a
setting error unless `NX_INGRESS_ALLOW_PLAINTEXT=true` says a TLS proxy stands in front.

Sources and their tokens are secrets: `NX_INGRESS_TOKENS` (`source=token,...`) or the file
`NX_INGRESS_TOKENS_FILE` (one `source=token` a line), never a versioned file (see `sources.py`).
What a source may do is not secret and lives in ingress.yaml: its rate limit, the confidence that
stands in when its payloads carry none, its strategy tag, the roots it may trade.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError, model_validator

from nexus_mesh.config_files import read_yaml, validate
from nexus_mesh.connection import is_loopback
from nexus_mesh.settings import MeshSettings

SOURCE_NAME = r"[a-z0-9][a-z0-9_-]{0,31}"


class SourcePolicy(BaseModel):
    """What one source may send and how fast. Unset fields take `defaults` from the file."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    rate_per_s: float = Field(default=5.0, gt=0)  # new signals per second, sustained
    burst: int = Field(default=10, ge=1)  # new signals at once before the rate applies
    # stands in for a payload without confidence (TradingView has none); None: the bridge's
    # confidence filter refuses such a signal ("the signal carries no confidence")
    default_confidence: float | None = Field(default=None, ge=0, le=1)
    strategy: str | None = Field(default=None, max_length=64)  # default: the source's name
    symbols: tuple[str, ...] = ()  # roots it may trade; empty: every root of the registry


class IngressConfig(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    defaults: SourcePolicy = SourcePolicy()
    sources: dict[str, dict[str, Any]] = Field(default_factory=dict)

    def policy(self, source: str) -> SourcePolicy:
        return self.defaults.model_copy(update=self.sources.get(source, {}))

    @model_validator(mode="after")
    def _check_sources(self) -> IngressConfig:
        for name, fields in self.sources.items():
            if not re.fullmatch(SOURCE_NAME, name):
                raise ValueError(f"sources.{name}: a source name is {SOURCE_NAME}")
            try:
                SourcePolicy.model_validate({**self.defaults.model_dump(), **fields})
            except ValidationError as exc:
                err = exc.errors()[0]
                where = ".".join(str(p) for p in err["loc"])
                raise ValueError(f"sources.{name}.{where}: {err['msg']}") from None
        return self


class IngressSettings(MeshSettings):
    service: str = "ingress"
    ingress_host: str = "127.0.0.1"
    ingress_port: int = Field(default=8480, ge=0, le=65_535)  # 0: any free port (logged)
    ingress_tls_cert_file: Path | None = None
    ingress_tls_key_file: Path | None = None
    ingress_allow_plaintext: bool = False  # beyond loopback without TLS: only behind a TLS proxy
    ingress_tokens: SecretStr | None = None  # source=token,source=token
    ingress_tokens_file: Path | None = None  # default: {NX_DATA_DIR}/ingress-tokens
    ingress_generate_token: bool = False  # no tokens anywhere: write one for source `local` (dev)
    ingress_config_file: Path | None = None  # default: {NX_CONFIG_DIR}/ingress.yaml
    ingress_max_body_bytes: int = Field(default=65_536, ge=1_024, le=1_048_576)
    ingress_require_idempotency_key: bool = False
    ingress_workers: int = Field(default=16, ge=1, le=256)  # threads that talk to Redis

    @model_validator(mode="after")
    def _transport(self) -> IngressSettings:
        cert, key = self.ingress_tls_cert_file, self.ingress_tls_key_file
        if (cert is None) != (key is None):
            raise ValueError("NX_INGRESS_TLS_CERT_FILE and NX_INGRESS_TLS_KEY_FILE go together")
        for name, path in (("CERT", cert), ("KEY", key)):
            if path is not None and not path.is_file():
                raise ValueError(f"NX_INGRESS_TLS_{name}_FILE={path}: no such file")
        if cert is None and not self.ingress_allow_plaintext and not is_loopback(self.ingress_host):
            raise ValueError(
                f"NX_INGRESS_HOST={self.ingress_host}: listening beyond loopback needs TLS "
                "(NX_INGRESS_TLS_CERT_FILE, NX_INGRESS_TLS_KEY_FILE) or NX_INGRESS_ALLOW_PLAINTEXT=true "
                "behind a TLS proxy"
            )
        return self

    @property
    def tls(self) -> bool:
        return self.ingress_tls_cert_file is not None

    @property
    def tokens_file(self) -> Path:
        return self.ingress_tokens_file or Path(self.data_dir) / "ingress-tokens"

    @property
    def config_file(self) -> Path:
        return self.ingress_config_file or Path(self.config_dir) / "ingress.yaml"


def load_config(settings: IngressSettings) -> IngressConfig:
    """ingress.yaml, or a ConfigError naming the file and the field."""
    path = settings.config_file
    return validate(read_yaml(path) or {}, IngressConfig, path)
