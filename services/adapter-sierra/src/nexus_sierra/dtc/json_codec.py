"""DTC JSON encoding (EncodingEnum.JSON): one JSON object per message, each followed by a NUL byte.

The object carries `"Type"` (the message type number, written first) and the struct's fields by
their DTC names, e.g. `{"Type":1,"ProtocolVersion":8,"Username":"u",...}`. Strings have no fixed
length here. The encoding is agreed with a binary ENCODING_REQUEST/RESPONSE first (see
`codec.FrameReader.detach`). JSON Compact ("F": [...] positional values) is not supported.

Guarantees: decoding a known type validates every field's type and range (as for the binary
encoding, a missing or null field takes its default and an unknown key is ignored); anything malformed
raises `DtcDecodeError`, nothing else. The NUL delimiter lets `JsonFrameReader` skip one bad
message and carry on, unlike the binary reader.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from nexus_sierra.dtc import messages, messages_market, messages_trading  # noqa: F401  (registers the message classes)
from nexus_sierra.dtc.fields import (
    DtcDecodeError,
    DtcEncodeError,
    Message,
    UnknownMessage,
    check_value,
    from_wire,
    layout_of,
    message_class,
)

MAX_JSON_MESSAGE_BYTES = 65_536
_NUL = b"\0"


def encode_json(msg: Message) -> bytes:
    """The JSON object for `msg` followed by its NUL terminator."""
    if isinstance(msg, UnknownMessage):
        raise DtcEncodeError("an UnknownMessage has no JSON form", value=msg.type)
    obj: dict[str, Any] = {"Type": int(msg.TYPE)}
    for spec in layout_of(type(msg)).fields:
        obj[spec.wire] = check_value(spec, getattr(msg, spec.name))
    try:
        text = json.dumps(obj, separators=(",", ":"), ensure_ascii=False, allow_nan=False)
        return text.encode("utf-8") + _NUL
    except (ValueError, UnicodeEncodeError) as exc:
        raise DtcEncodeError(f"not representable in JSON: {exc}") from None


def decode_json(data: bytes | bytearray | memoryview) -> Message:
    """Decode one JSON message; a single trailing NUL terminator is allowed."""
    raw = bytes(data)
    if raw.endswith(_NUL):
        raw = raw[:-1]
    if _NUL in raw:
        raise DtcDecodeError("NUL byte inside a JSON message")
    try:
        obj = json.loads(raw.decode("utf-8"))
    except UnicodeDecodeError as exc:
        raise DtcDecodeError(f"JSON message is not UTF-8: {exc.reason}") from None
    except (ValueError, RecursionError) as exc:
        raise DtcDecodeError(f"invalid JSON: {exc}") from None
    if not isinstance(obj, dict):
        raise DtcDecodeError(f"JSON message is a {type(obj).__name__}, not an object")
    type_id = obj.get("Type")
    if isinstance(type_id, bool) or not isinstance(type_id, int) or not 0 <= type_id <= 0xFFFF:
        raise DtcDecodeError("missing or invalid Type", field="Type", value=type_id)
    if "F" in obj:
        raise DtcDecodeError("JSON Compact encoding is not supported", message_type=type_id)
    cls = message_class(type_id)
    if cls is None:
        return UnknownMessage(type_id, raw)
    kwargs: dict[str, Any] = {}
    for spec in layout_of(cls).fields:
        value = obj.get(spec.wire)
        if value is None:
            continue  # absent (or null): the default, as for a short binary frame
        try:
            kwargs[spec.name] = from_wire(spec, check_value(spec, value))
        except DtcEncodeError as exc:
            raise DtcDecodeError(exc.reason, field=spec.wire, value=value, message_type=type_id) from None
    return cls(**kwargs)


def read_all(next_message: Callable[[], Message | None]) -> tuple[list[Message], DtcDecodeError | None]:
    """Every message a reader completes. An error after some messages is returned, not raised: the
    caller hands over what decoded and raises the error on its next call, so no good message is lost."""
    out: list[Message] = []
    while True:
        try:
            msg = next_message()
        except DtcDecodeError as exc:
            if not out:
                raise
            return out, exc
        if msg is None:
            return out, None
        out.append(msg)


class JsonFrameReader:
    """Splits a JSON-encoded DTC byte stream on NUL bytes and decodes each message.

    A malformed message raises DtcDecodeError once and is dropped; the reader stays usable.
    Messages decoded before the bad one in the same `feed` are returned and the error is raised
    by the next call, so no good message is lost.
    """

    def __init__(self, *, max_message_bytes: int = MAX_JSON_MESSAGE_BYTES) -> None:
        if max_message_bytes < 2:
            raise ValueError("max_message_bytes must be at least 2")
        self._max = max_message_bytes
        self._buf = bytearray()
        self._pending: DtcDecodeError | None = None
        self._skipping = False  # inside an oversized message: drop bytes up to its NUL
        self.messages_decoded = 0

    def __repr__(self) -> str:
        return f"<JsonFrameReader messages={self.messages_decoded} buffered={len(self._buf)}>"

    @property
    def buffered_bytes(self) -> int:
        return len(self._buf)

    def append(self, data: bytes | bytearray | memoryview) -> None:
        self._buf += data

    def feed(self, data: bytes | bytearray | memoryview) -> list[Message]:
        self.append(data)
        out, self._pending = read_all(self.next_message)
        return out

    def next_message(self) -> Message | None:
        if self._pending is not None:
            exc, self._pending = self._pending, None
            raise exc
        while True:
            end = self._buf.find(_NUL)
            if end < 0:
                if len(self._buf) > self._max:
                    self._buf.clear()
                    if not self._skipping:
                        self._skipping = True
                        raise DtcDecodeError(f"JSON message longer than {self._max} bytes without a NUL")
                return None
            segment = bytes(self._buf[:end])
            del self._buf[: end + 1]
            if self._skipping:
                self._skipping = False
                continue
            if len(segment) > self._max:
                raise DtcDecodeError(f"JSON message of {len(segment)} bytes exceeds {self._max}")
            if not segment.strip():
                continue
            msg = decode_json(segment)
            self.messages_decoded += 1
            return msg

    def detach(self) -> bytes:
        rest = bytes(self._buf)
        self._buf.clear()
        return rest
