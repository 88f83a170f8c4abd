"""The bridge's errors: each a `NexusError`, with its data on the instance."""

from __future__ import annotations

from nexus_protocol.errors import NexusError


class SafeModeError(NexusError):
    """The client refuses new signals: it has no link to the mesh's Redis, or no bridge service runs.

    `status` is the client's status when it refused ("disconnected" or "safe_mode"); `since_s` how long
    it has been so, in seconds.
    """

    def __init__(self, status: str, reason: str, *, since_s: float = 0.0) -> None:
        self.status = status
        self.reason = reason
        self.since_s = since_s
        super().__init__(f"safe mode ({status} for {since_s:.1f} s): {reason}; the signal was NOT sent")


class SignalError(NexusError, ValueError):
    """A signal the client cannot build (bad side, confidence, quantity or MQScore); names the field."""

    def __init__(self, field: str, reason: str, *, value: object = None) -> None:
        self.field = field
        self.reason = reason
        self.value = value
        super().__init__(f"{field}: {reason} (got {value!r})")


class BridgeConnectionError(NexusError, ConnectionError):
    """`connect()` could not reach the mesh's Redis within its timeout."""
