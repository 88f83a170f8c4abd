"""The one error a bridge frame can raise, and the closed list of reasons.

Every way a frame can be wrong -- header, length, UTF-8, JSON syntax, message type, field set, field
value, sequence -- surfaces as :class:`BridgeProtocolError` with a :class:`FrameErrorKind`. The kinds are
part of the protocol: ``vectors.json`` pins the kind each invalid frame must produce, and the C#
``BridgeProtocolException`` reports the same strings, so both ends agree on *why* a frame was refused.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any

from nexus_protocol.errors import DecodeError


class FrameErrorKind(StrEnum):
    """Why a frame was refused. Checked in this order; the first failing check names the kind."""

    BAD_MAGIC = "bad_magic"  # the first two bytes are not "NX" (a TLS hello on a plain port, a stray client)
    BAD_VERSION = "bad_version"  # a protocol version this side does not speak
    BAD_FLAGS = "bad_flags"  # the reserved header byte is not 0
    BAD_LENGTH = "bad_length"  # body length below 2 or above the maximum
    TRUNCATED = "truncated"  # decode_frame was given fewer bytes than the header announces
    TRAILING_BYTES = "trailing_bytes"  # decode_frame was given more bytes than one frame
    BAD_JSON = "bad_json"  # not UTF-8, not JSON, duplicate key, NaN, number token too long, nested too deep
    NOT_OBJECT = "not_object"  # the body is JSON but not an object
    UNKNOWN_TYPE = "unknown_type"  # "type" is not a string naming a known message
    MISSING_FIELD = "missing_field"  # a declared field is absent (null must be written explicitly)
    UNKNOWN_FIELD = "unknown_field"  # a field the message does not declare
    BAD_SEQ = "bad_seq"  # seq not a positive int64, or (stream) not previous + 1, or encoding unstamped
    BAD_VALUE = "bad_value"  # wrong JSON type, out of range, not an enum value, broken cross-field rule


class BridgeProtocolError(DecodeError):
    """A bridge frame that cannot be encoded or decoded (a :class:`~nexus_protocol.errors.DecodeError`).

    ``kind`` says which check failed, ``field`` names the offending field when there is one, and
    ``decoded`` holds the messages that a :class:`FrameDecoder` call decoded *before* the bad frame (the
    stream is out of sync after a framing error, so the caller handles those and closes the connection).
    """

    def __init__(self, kind: FrameErrorKind, message: str, *, field: str | None = None) -> None:
        super().__init__(f"{kind}: {message}", field=field)
        self.kind = kind
        self.detail = message
        self.decoded: list[Any] = []  # BridgeMessages; typed loosely so errors need not know messages
