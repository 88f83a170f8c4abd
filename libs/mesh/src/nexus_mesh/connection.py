"""The Redis connection every service uses: redis-py with the hiredis parser, from a URL."""

from __future__ import annotations

import ipaddress
from urllib.parse import urlsplit, urlunsplit

import redis
from redis.backoff import ExponentialBackoff
from redis.retry import Retry


def connect(
    url: str, *, client_name: str | None = None, retries: int = 0, socket_timeout_s: float = 30.0
) -> redis.Redis:
    """A client for `url` (redis://, rediss://, unix://).

    No silent retries by default: a stream consumer must *know* a call failed, because a lost
    XREADGROUP reply leaves entries pending that only a re-read of its own pending list recovers.
    Callers whose calls are idempotent (the publish script, reads) may ask for `retries`.
    `socket_timeout_s` must exceed the longest BLOCK used on the connection.
    """
    client: redis.Redis = redis.Redis.from_url(
        url,
        socket_timeout=socket_timeout_s,
        socket_connect_timeout=5.0,
        health_check_interval=30,
        retry=Retry(ExponentialBackoff(cap=1.0, base=0.05), retries=retries),
        client_name=client_name,
    )
    return client


def as_bytes(value: bytes | str) -> bytes:
    """redis-py types replies as bytes | str; this client never decodes, so they are bytes."""
    return value if isinstance(value, bytes) else value.encode()


def as_str(value: object) -> str:
    """A Redis reply (bytes, or str on a decoding client) as text; any other value as its str()."""
    return value.decode() if isinstance(value, bytes) else str(value)


def redacted(url: str) -> str:
    """The URL with its password replaced, for logs: `redis://router:***@redis:6379/0`."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    host = parts.netloc.rsplit("@", 1)[1]
    user = parts.username or ""
    return urlunsplit(parts._replace(netloc=f"{user}:***@{host}"))


def is_loopback(host: str) -> bool:
    """True for localhost and loopback addresses: links that may go without TLS or a token."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
