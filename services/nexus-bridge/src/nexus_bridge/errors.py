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
        super().__init__(self._message())

    def _message(self) -> str:
        return f"safe mode ({self.status} for {self.since_s:.1f} s): {self.reason}; the signal was NOT sent"


class SendUnknownError(SafeModeError):
    """The link failed *during* the send of `signal_id`: it may or may not have reached the mesh. The
    client is now disconnected (safe mode), so it is a `SafeModeError` too; the signal id stays
    registered, so its execution is delivered if it arrived. Do not resend it as a new signal: look for
    its execution (or its id on the bridge intake) first."""

    def __init__(self, signal_id: str, cause: Exception) -> None:
        self.signal_id = signal_id
        self.cause = cause
        super().__init__("disconnected", f"the connection failed while sending signal {signal_id} ({cause})")

    def _message(self) -> str:
        return (
            f"{self.reason}: it may or may not have reached the mesh; its execution, if any, is still "
            "delivered (do not resend it as a new signal)"
        )


class SignalError(NexusError, ValueError):
    """A signal the client cannot build (bad side, confidence, quantity or MQScore); names the field."""

    def __init__(self, field: str, reason: str, *, value: object = None) -> None:
        self.field = field
        self.reason = reason
        self.value = value
        super().__init__(f"{field}: {reason} (got {value!r})")


class BridgeConnectionError(NexusError, ConnectionError):
    """`connect()` could not reach the mesh's Redis within its timeout."""
