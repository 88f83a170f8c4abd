"""One root exception for the whole mesh, with domain subclasses that carry their data."""

from __future__ import annotations

from typing import Any


class NexusError(Exception):
    """Root of every error the mesh raises on purpose."""


class DecodeError(NexusError):
    """A stream entry, frame or file could not be turned into a valid message.

    `reason` says what was wrong in words; `field` names the offending field when there is one.
    """

    def __init__(self, reason: str, *, field: str | None = None, value: Any = None) -> None:
        self.reason = reason
        self.field = field
        self.value = value
        where = f" (field {field!r})" if field else ""
        super().__init__(f"{reason}{where}")


class ConfigError(NexusError):
    """A configuration file or setting is invalid; the message names the field."""


class RiskRejected(NexusError):
    """A pre-trade check refused an order; carries the check, the limit and the value."""

    def __init__(self, check: str, reason: str, *, limit: Any = None, value: Any = None) -> None:
        self.check = check
        self.reason = reason
        self.limit = limit
        self.value = value
        super().__init__(f"{check}: {reason}")


class VenueError(NexusError):
    """A platform refused a request or answered in a way the adapter cannot use."""

    def __init__(self, reason: str, *, code: str | int | None = None, retryable: bool = False) -> None:
        self.reason = reason
        self.code = code
        self.retryable = retryable
        super().__init__(reason if code is None else f"{reason} (code {code})")
