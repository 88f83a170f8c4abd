"""Settings shared by every service: environment variables with the NX_ prefix.

A service's own settings subclass `MeshSettings` (with its own fields) so one object carries both.
A bad value fails at start with a message naming the variable (`settings_error`).
"""

from __future__ import annotations

import os
import re
import socket
from pathlib import Path
from typing import Any, Literal, TypeVar

from pydantic import Field, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from nexus_mesh.connection import parse_url
from nexus_protocol.errors import ConfigError
from nexus_protocol.streams import DEFAULT_NAMESPACE, Names, key

S = TypeVar("S", bound="MeshSettings")
DAY_MS = 86_400_000
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")


_CONTAINER = re.compile(r"/containers/([0-9a-f]{64})/hostname ")


def container_id(mountinfo: str | None = None) -> str | None:
    """This process's Docker container id (the source of its /etc/hostname), or None outside one."""
    if mountinfo is None:
        try:
            mountinfo = Path("/proc/self/mountinfo").read_text()
        except OSError:
            return None
    m = _CONTAINER.search(mountinfo)
    return m[1] if m else None


def _default_consumer() -> str:
    """hostname-pid; in a container, its id instead of the host name: containers on the host's network
    share the host's name and each runs its service as pid 1, and replicas must still differ."""
    cid = container_id()
    return f"{cid[:12] if cid else socket.gethostname()}-{os.getpid()}"


class MeshSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="NX_", frozen=True, extra="ignore")

    redis_url: str | None = None  # unset: start an embedded redis-server (AOF on) under data_dir
    namespace: str = DEFAULT_NAMESPACE
    service: str = "service"
    consumer: str = Field(default_factory=_default_consumer)
    batch_size: int = Field(default=100, ge=1, le=10_000)
    block_ms: int = Field(default=1_000, ge=1, le=60_000)
    claim_idle_ms: int = Field(default=30_000, ge=100)
    max_deliveries: int = Field(default=5, ge=1)
    retention_days: float = Field(default=7.0, gt=0)
    metrics_port: int | None = Field(default=None, ge=0, le=65_535)
    metrics_host: str = "0.0.0.0"  # the address /metrics binds: a loopback address on a shared host network
    heartbeat_ttl_ms: int = Field(default=10_000, ge=500)
    # Replicated before acknowledged: each commit waits (WAIT) for this many replicas, at most
    # wait_timeout_ms, then goes on (counted in nx_replication_short); 0: no wait (docs/scaling.md).
    wait_replicas: int = Field(default=0, ge=0, le=16)
    wait_timeout_ms: int = Field(default=100, ge=1, le=60_000)
    md_maxlen: int = Field(default=100_000, ge=100)
    # An entry larger than this (field names and values) is dead-lettered by reference, not decoded.
    max_entry_bytes: int = Field(default=65_536, ge=16_384, le=64 * 1024 * 1024)
    data_dir: Path = Path("var")
    config_dir: Path = Path("deploy/config")
    # Fault injection for crash tests: SIGKILL this process at a point of the Nth batch read:
    # after_read, after_handle (nothing committed), after_commit (committed, not acknowledged;
    # after_publish is its older name), mid_commit (Redis Cluster: the state's slot committed, the
    # other slots not).
    fault_kill_at: Literal[
        "", "after_read", "after_handle", "mid_commit", "after_commit", "after_publish"
    ] = ""
    fault_kill_batch: int = Field(default=1, ge=1)
    log_level: str = "INFO"  # one of LOG_LEVELS, any case
    log_json: bool = False

    @field_validator("namespace")
    @classmethod
    def _namespace(cls, v: str) -> str:
        key(v, "check")  # raises ConfigError with the rule
        return v

    @field_validator("log_level")
    @classmethod
    def _log_level(cls, v: str) -> str:
        if v.upper() not in LOG_LEVELS:
            raise ValueError(f"must be one of {', '.join(LOG_LEVELS)}")
        return v.upper()

    @field_validator("redis_url")
    @classmethod
    def _url(cls, v: str | None) -> str | None:
        if v:
            parse_url(v)  # raises ValueError saying what is wrong
        return v or None

    @property
    def names(self) -> Names:
        return Names(self.namespace)

    @property
    def retention_ms(self) -> int:
        return int(self.retention_days * DAY_MS)

    @property
    def dedupe_ttl_ms(self) -> int:
        """Dedupe keys outlive the retention window, so a replay of retained entries still dedupes."""
        return self.retention_ms + DAY_MS


def load_settings(cls: type[S], **overrides: Any) -> S:
    """Settings from the environment, or a ConfigError that names the NX_ variable and the problem."""
    try:
        return cls(**overrides)
    except ValidationError as exc:
        raise ConfigError(settings_error(exc)) from None
    except ConfigError as exc:
        raise ConfigError(f"NX_NAMESPACE: {exc}") from None


_SECRET = ("password", "token", "secret", "url", "key")


def settings_error(exc: ValidationError) -> str:
    """One line naming each bad NX_ variable and why; values of secret-looking fields are redacted.

    A model-level validator reports the whole settings dict as its input: that is never printed."""
    lines = []
    for err in exc.errors():
        field = ".".join(str(p) for p in err["loc"])
        value = err.get("input")
        if not field:
            lines.append(err["msg"])
            continue
        shown = (
            "<redacted>"
            if any(w in field.lower() for w in _SECRET) or isinstance(value, dict)
            else repr(value)
        )
        lines.append(f"NX_{field.upper()}={shown}: {err['msg'].removeprefix('Value error, ')}")
    return "invalid settings: " + "; ".join(lines)
