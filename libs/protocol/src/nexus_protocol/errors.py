"""One root exception for the whole mesh, with domain subclasses that carry their data.

NexusError
├── DecodeError      malformed data: dead-lettered at once, never retried
├── ConfigError      a bad setting or configuration file: the service stops at start
├── Refused          a well-formed request the mesh will not carry out: answered with the reason
├── VenueError       a platform refused a request (definitive)
└── UnknownOutcome   a platform call may or may not have taken effect: look the order up
"""

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


class Refused(NexusError):
    """A well-formed request the mesh will not carry out (no active contract, below the venue's
    minimum...): the caller answers it with the reason (a rejected leg or execution), never with a
    dead letter. `field` names what it turned on, `value` what it was."""

    def __init__(self, reason: str, *, field: str | None = None, value: Any = None) -> None:
        self.reason = reason
        self.field = field
        self.value = value
        super().__init__(reason)


class VenueError(NexusError):
    """A platform refused a request or answered in a way the adapter cannot use."""

    def __init__(self, reason: str, *, code: str | int | None = None, retryable: bool = False) -> None:
        self.reason = reason
        self.code = code
        self.retryable = retryable
        super().__init__(reason if code is None else f"{reason} (code {code})")


class UnknownOutcome(NexusError):
    """A platform call may or may not have taken effect (a timeout, a dropped link): never a failure;
    the adapter looks the order up by its client order id before anything else."""
