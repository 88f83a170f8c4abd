"""Sierra Chart's DTC protocol, binary encoding: pure encode/decode and a streaming frame reader.

This module is the adapter's wire format; it does no I/O. Every message on a binary DTC stream is
a fixed C struct from DTCProtocol.h that begins with `uint16 Size` (the whole message, header
included) and `uint16 Type`, little-endian. See `dtc_fields` for the layout rules and
docs/sierra-dtc-codec.md for the sources each layout was checked against.

Guarantees:
- `encode_binary` yields the bytes a C compiler yields for the header's struct.
- `decode_binary` accepts a frame whose Size is smaller than the current struct (older protocol
  revision: missing fields take the header constructor's default, i.e. "unset") or larger (newer
  revision: extra bytes are ignored). A type without a layout here decodes to `UnknownMessage`.
- Bytes that cannot be a frame (Size < 4, above the reader's limit, or fewer bytes than Size)
  raise `DtcDecodeError`, and nothing else. `FrameReader` never loses a decoded message and never
  loops without consuming input. Binary DTC has no resynchronisation marker, so after a framing
  error the reader stays failed: drop the connection.
"""

from __future__ import annotations

import struct

from nexus_sierra.dtc import enums as dtc_enums
from nexus_sierra.dtc import fields as dtc_fields
from nexus_sierra.dtc import messages, messages_market, messages_trading
from nexus_sierra.dtc.enums import *  # noqa: F403  (re-exported: enums and constants)
from nexus_sierra.dtc.fields import (
    HEADER,
    DtcDecodeError,
    DtcEncodeError,
    DtcMessage,
    FieldSpec,
    Layout,
    Message,
    UnknownMessage,
    layout_of,
    message_class,
    message_classes,
)
from nexus_sierra.dtc.json_codec import JsonFrameReader, decode_json, encode_json, read_all
from nexus_sierra.dtc.messages import *  # noqa: F403  (re-exported: message classes)
from nexus_sierra.dtc.messages_market import *  # noqa: F403
from nexus_sierra.dtc.messages_trading import *  # noqa: F403

MAX_FRAME_BYTES = 0xFFFF
"""Size is a uint16, so no binary DTC frame exceeds 65535 bytes; a reader may set a lower cap."""

ByteLike = bytes | bytearray | memoryview
_SIZE = struct.Struct("<H")

__all__ = [
    "MAX_FRAME_BYTES",
    "DtcDecodeError",
    "DtcEncodeError",
    "DtcMessage",
    "FieldSpec",
    "FrameReader",
    "JsonFrameReader",
    "Layout",
    "Message",
    "UnknownMessage",
    "decode_binary",
    "decode_json",
    "encode_binary",
    "encode_json",
    "layout_of",
    "message_class",
    "message_classes",
]
__all__ += dtc_enums.__all__
__all__ += messages.__all__
__all__ += messages_market.__all__
__all__ += messages_trading.__all__


def encode_binary(msg: Message) -> bytes:
    """One binary frame for `msg`. Raises DtcEncodeError if a field value does not fit."""
    if isinstance(msg, UnknownMessage):
        size = HEADER.size + len(msg.payload)
        if size > MAX_FRAME_BYTES or not 0 <= msg.type <= 0xFFFF:
            raise DtcEncodeError("unknown message does not fit a frame", value=msg.type)
        return HEADER.pack(size, msg.type) + msg.payload
    return dtc_fields.pack(msg)


def _check_size(size: int, max_frame_bytes: int) -> None:
    if size < HEADER.size:
        raise DtcDecodeError(f"Size {size} is smaller than the 4-byte header", field="Size", value=size)
    if size > max_frame_bytes:
        raise DtcDecodeError(
            f"Size {size} exceeds the limit of {max_frame_bytes} bytes", field="Size", value=size
        )


def decode_binary(frame: ByteLike, *, max_frame_bytes: int = MAX_FRAME_BYTES) -> Message:
    """Decode exactly one binary frame (its length must equal its Size field)."""
    if len(frame) < HEADER.size:
        raise DtcDecodeError(f"{len(frame)} bytes is shorter than the 4-byte header")
    size, type_id = HEADER.unpack_from(frame, 0)
    _check_size(size, max_frame_bytes)
    if len(frame) != size:
        what = "truncated" if len(frame) < size else "has trailing bytes"
        raise DtcDecodeError(
            f"frame {what}: Size says {size} bytes, got {len(frame)}",
            field="Size",
            value=size,
            message_type=type_id,
        )
    cls = message_class(type_id)
    if cls is None:
        return UnknownMessage(type_id, bytes(frame[HEADER.size :]))
    return dtc_fields.unpack(cls, frame, size)


class FrameReader:
    """Turns arbitrary chunks of a binary DTC byte stream into messages.

    `feed(chunk)` returns every message completed by the chunk; a partial frame waits in the
    buffer. `next_message()` returns at most one, so a client can stop right after the
    ENCODING_RESPONSE and `detach()` the rest of the buffer to hand it to a `JsonFrameReader`.
    """

    def __init__(self, *, max_frame_bytes: int = MAX_FRAME_BYTES) -> None:
        if not HEADER.size <= max_frame_bytes <= MAX_FRAME_BYTES:
            raise ValueError(f"max_frame_bytes must be within 4..{MAX_FRAME_BYTES}")
        self._max = max_frame_bytes
        self._buf = bytearray()
        self._pos = 0
        self._error: DtcDecodeError | None = None
        self._pending: DtcDecodeError | None = None
        self.frames_decoded = 0

    def __repr__(self) -> str:
        state = "failed" if self._error else "ok"
        return f"<FrameReader {state} frames={self.frames_decoded} buffered={self.buffered_bytes}>"

    @property
    def buffered_bytes(self) -> int:
        return len(self._buf) - self._pos

    @property
    def failed(self) -> bool:
        return self._error is not None

    def append(self, data: ByteLike) -> None:
        self._raise_if_failed()
        self._buf += data

    def feed(self, data: ByteLike) -> list[Message]:
        self.append(data)
        out, self._pending = read_all(self.next_message)  # an error after some messages: the next call raises
        return out

    def next_message(self) -> Message | None:
        self._raise_if_failed()
        if self.buffered_bytes < 2:
            self._compact()
            return None
        (size,) = _SIZE.unpack_from(self._buf, self._pos)
        try:
            _check_size(size, self._max)
        except DtcDecodeError as exc:
            self._error = exc
            raise
        if self.buffered_bytes < size:
            return None
        frame = bytes(self._buf[self._pos : self._pos + size])
        self._pos += size
        self._compact()
        self.frames_decoded += 1
        return decode_binary(frame, max_frame_bytes=self._max)

    def detach(self) -> bytes:
        """Remove and return the bytes not yet decoded (e.g. to switch to the JSON encoding)."""
        rest = bytes(self._buf[self._pos :])
        self._buf.clear()
        self._pos = 0
        return rest

    def _raise_if_failed(self) -> None:
        if self._pending is not None:
            exc, self._pending = self._pending, None
            raise exc
        if self._error is not None:
            raise DtcDecodeError(f"stream unusable after an earlier error: {self._error.reason}")

    def _compact(self) -> None:
        if self._pos and (self._pos >= len(self._buf) or self._pos >= 65_536):
            del self._buf[: self._pos]
            self._pos = 0
