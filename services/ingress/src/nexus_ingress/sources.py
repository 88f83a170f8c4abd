"""Who may send: one bearer token per source, from the environment or a secrets file.

`NX_INGRESS_TOKENS` holds `source=token` pairs separated by commas; `NX_INGRESS_TOKENS_FILE` holds
one pair a line (`#` comments). Both may be used; a source or token given twice is a setting error,
as is a token shorter than 24 characters. Only SHA-256 digests are kept in memory, and a presented
token is looked up by its digest, so the comparison never walks the secret byte by byte.

With no token anywhere the ingress does not start, unless `NX_INGRESS_GENERATE_TOKEN=true` (dev):
then it writes a fresh token for the source `local` into the tokens file (mode 0600) and says where.
"""

from __future__ import annotations

import hashlib
import logging
import os
import re
import secrets
from dataclasses import dataclass

from nexus_ingress.config import SOURCE_NAME, IngressSettings
from nexus_protocol.errors import ConfigError

log = logging.getLogger(__name__)
MIN_TOKEN_LEN = 24
GENERATED_SOURCE = "local"


def _digest(token: str) -> bytes:
    return hashlib.sha256(token.encode()).digest()


@dataclass(frozen=True, slots=True)
class Sources:
    """token digest -> source name."""

    by_digest: dict[bytes, str]

    def source_of(self, token: str) -> str | None:
        return self.by_digest.get(_digest(token))

    @property
    def names(self) -> list[str]:
        return sorted(self.by_digest.values())

    def __repr__(self) -> str:
        return f"<Sources {', '.join(self.names)}>"


def parse_pairs(lines: list[str], origin: str) -> dict[str, str]:
    """`source=token` entries (blank entries and `#` comments skipped) -> {source: token}."""
    out: dict[str, str] = {}
    for n, raw in enumerate(lines, 1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        name, sep, token = line.partition("=")
        name, token = name.strip(), token.strip()
        where = f"{origin} entry {n}"
        if not sep or not re.fullmatch(SOURCE_NAME, name):
            raise ConfigError(f"{where}: want source=token with a source name of {SOURCE_NAME}")
        if len(token) < MIN_TOKEN_LEN:
            raise ConfigError(f"{where} ({name}): the token is shorter than {MIN_TOKEN_LEN} characters")
        if name in out:
            raise ConfigError(f"{where}: source {name} is given twice")
        out[name] = token
    return out


def new_token() -> str:
    return secrets.token_urlsafe(32)


def load_sources(settings: IngressSettings) -> Sources:
    pairs: dict[str, str] = {}
    if settings.ingress_tokens is not None:
        pairs = parse_pairs(settings.ingress_tokens.get_secret_value().split(","), "NX_INGRESS_TOKENS")
    path = settings.tokens_file
    if not path.exists() and not pairs and settings.ingress_generate_token:
        path.parent.mkdir(parents=True, exist_ok=True)
        with os.fdopen(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600), "w") as f:
            f.write(f"{GENERATED_SOURCE}={new_token()}\n")
        log.warning("no ingress tokens were set: wrote one for source %r to %s", GENERATED_SOURCE, path)
    if path.exists():
        try:
            lines = path.read_text().splitlines()
        except OSError as exc:
            raise ConfigError(f"NX_INGRESS_TOKENS_FILE={path}: cannot read it ({exc.strerror})") from None
        for name, token in parse_pairs(lines, str(path)).items():
            if name in pairs:
                raise ConfigError(f"{path}: source {name} is also in NX_INGRESS_TOKENS")
            pairs[name] = token
    elif settings.ingress_tokens_file is not None:
        raise ConfigError(f"NX_INGRESS_TOKENS_FILE={path}: no such file")
    if not pairs:
        raise ConfigError(
            "no source tokens: set NX_INGRESS_TOKENS or NX_INGRESS_TOKENS_FILE "
            "(or NX_INGRESS_GENERATE_TOKEN=true for a local one)"
        )
    by_digest: dict[bytes, str] = {}
    for name, token in pairs.items():
        d = _digest(token)
        if d in by_digest:
            raise ConfigError(f"sources {by_digest[d]} and {name} share a token")
        by_digest[d] = name
    return Sources(by_digest)
