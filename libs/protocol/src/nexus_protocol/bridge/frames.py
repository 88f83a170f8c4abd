"""Framing: the bytes on the TCP stream, and the only entry points that produce or consume them.

A frame is an 8-byte header followed by a UTF-8 JSON body::

    offset 0  2 bytes  magic  "NX" (0x4E 0x58)
    offset 2  1 byte   protocol version (1)
    offset 3  1 byte   flags, reserved, 0
    offset 4  4 bytes  body length, unsigned big-endian, 2 .. 1 MiB
    offset 8  body     canonical JSON object: {"type": ..., "seq": ..., declared fields ...}

Guarantees:

* :func:`encode_frame` is deterministic: the same message gives the same bytes in Python and in C#
  (``vectors.json`` pins them), because keys follow the declared order and every scalar has one text.
* :func:`decode_frame` and :class:`FrameDecoder` accept any valid JSON spelling of a message and raise
  only :class:`BridgeProtocolError` for anything else -- including arbitrary bytes. A bad length is
  refused as soon as the header is complete, so a peer cannot make us buffer more than one maximum
  frame. After an error the decoder stays failed: the byte stream is out of sync.
* :class:`FrameDecoder` checks that ``seq`` runs 1, 2, 3 ... per connection, so a lost, repeated or
  reordered frame (a bug on either side) is detected rather than silently acted on.

Pure: no sockets here; the adapter and the C# BridgeCore do the I/O.
"""

from __future__ import annotations

import struct
from typing import Any

from pydantic import ValidationError

from nexus_protocol.bridge.canonical import parse_json
from nexus_protocol.bridge.errors import BridgeProtocolError, FrameErrorKind
from nexus_protocol.bridge.messages import MESSAGE_TYPES, PROTOCOL_VERSION, BridgeMessage
from nexus_protocol.bridge.schema import INT64_MAX, check_keys, encode_object

MAGIC = b"NX"
HEADER_SIZE = 8
MIN_BODY_BYTES = 2
MAX_BODY_BYTES = 1_048_576
SUPPORTED_VERSIONS = frozenset({PROTOCOL_VERSION})

_HEADER = struct.Struct(">2sBBI")
_TLS_RECORD = b"\x16\x03"


def encode_frame(msg: BridgeMessage) -> bytes:
    """The frame for ``msg``; its ``seq`` must already be stamped (>= 1)."""
    if not 1 <= msg.seq <= INT64_MAX:
        raise BridgeProtocolError(
            FrameErrorKind.BAD_SEQ, f"seq {msg.seq} is not stamped (use FrameEncoder)", field="seq"
        )
    try:
        # "type" first, then the declared fields, "seq" being the first of them.
        body = encode_object(msg, head=f'"type":"{msg.TYPE}"').encode("utf-8")
    except UnicodeEncodeError:
        raise BridgeProtocolError(FrameErrorKind.BAD_VALUE, "a string holds an unpaired surrogate") from None
    if len(body) > MAX_BODY_BYTES:
        raise BridgeProtocolError(
            FrameErrorKind.BAD_LENGTH, f"body of {len(body)} bytes exceeds {MAX_BODY_BYTES}"
        )
    return _HEADER.pack(MAGIC, PROTOCOL_VERSION, 0, len(body)) + body


def _check_magic_prefix(data: bytes | bytearray) -> None:
    """Name a wrong magic as soon as its bytes arrive, before the rest of the header."""
    prefix = bytes(data[:2])
    if prefix != MAGIC[: len(prefix)]:
        hint = " (this looks like a TLS handshake: is the peer using TLS?)" if prefix == _TLS_RECORD else ""
        raise BridgeProtocolError(FrameErrorKind.BAD_MAGIC, f"magic is {prefix.hex()}, expected 4e58{hint}")


def check_header(header: bytes, max_body_bytes: int = MAX_BODY_BYTES) -> int:
    """Validate an 8-byte header and return the body length."""
    _check_magic_prefix(header)
    _magic, version, flags, length = _HEADER.unpack(header)
    if version not in SUPPORTED_VERSIONS:
        raise BridgeProtocolError(
            FrameErrorKind.BAD_VERSION,
            f"protocol version {version} is not supported (supported: {sorted(SUPPORTED_VERSIONS)})",
        )
    if flags != 0:
        raise BridgeProtocolError(FrameErrorKind.BAD_FLAGS, f"flags byte is {flags}, must be 0")
    if not MIN_BODY_BYTES <= length <= max_body_bytes:
        raise BridgeProtocolError(
            FrameErrorKind.BAD_LENGTH, f"body length {length} outside {MIN_BODY_BYTES}..{max_body_bytes}"
        )
    return int(length)


def decode_body(body: bytes) -> BridgeMessage:
    """Decode and validate one JSON body (the bytes after the header)."""
    obj = parse_json(body)
    if not isinstance(obj, dict):
        raise BridgeProtocolError(
            FrameErrorKind.NOT_OBJECT, f"body is a JSON {type(obj).__name__}, not an object"
        )
    if "type" not in obj:
        raise BridgeProtocolError(FrameErrorKind.MISSING_FIELD, "field 'type' is missing", field="type")
    type_name = obj["type"]
    cls = MESSAGE_TYPES.get(type_name) if isinstance(type_name, str) else None
    if cls is None:
        raise BridgeProtocolError(
            FrameErrorKind.UNKNOWN_TYPE, f"unknown message type {type_name!r}", field="type"
        )
    fields = {key: value for key, value in obj.items() if key != "type"}
    check_keys(cls, fields)
    seq = fields["seq"]
    if type(seq) is not int or not 1 <= seq <= INT64_MAX:
        raise BridgeProtocolError(FrameErrorKind.BAD_SEQ, f"seq {seq!r} is not a positive int64", field="seq")
    try:
        return cls.model_validate(fields)
    except ValidationError as exc:
        raise _value_error(type_name, exc) from None


def _value_error(type_name: str, exc: ValidationError) -> BridgeProtocolError:
    first = exc.errors(include_url=False)[0]
    path = _path(first["loc"])
    kinds = {"missing": FrameErrorKind.MISSING_FIELD, "extra_forbidden": FrameErrorKind.UNKNOWN_FIELD}
    kind = kinds.get(first["type"], FrameErrorKind.BAD_VALUE)
    where = f"field {path!r}" if path else type_name
    return BridgeProtocolError(kind, f"{where}: {first['msg']}", field=path or None)


def _path(loc: tuple[int | str, ...]) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def decode_frame(data: bytes) -> BridgeMessage:
    """Decode exactly one complete frame (no sequence check: a lone frame has no predecessor)."""
    if len(data) < HEADER_SIZE:
        _check_magic_prefix(data)
        raise BridgeProtocolError(
            FrameErrorKind.TRUNCATED, f"{len(data)} bytes, a header needs {HEADER_SIZE}"
        )
    length = check_header(data[:HEADER_SIZE])
    end = HEADER_SIZE + length
    if len(data) < end:
        raise BridgeProtocolError(FrameErrorKind.TRUNCATED, f"{len(data)} bytes, the frame needs {end}")
    if len(data) > end:
        raise BridgeProtocolError(FrameErrorKind.TRAILING_BYTES, f"{len(data) - end} bytes after the frame")
    return decode_body(data[HEADER_SIZE:])


class FrameDecoder:
    """Streaming decoder for one direction of one connection: feed it bytes as they arrive."""

    def __init__(self, *, max_body_bytes: int = MAX_BODY_BYTES, check_seq: bool = True) -> None:
        self._buffer = bytearray()
        self._max_body = max_body_bytes
        self._check_seq = check_seq
        self._last_seq = 0
        self._failed: BridgeProtocolError | None = None

    @property
    def buffered(self) -> int:
        """Bytes held back waiting for the rest of their frame."""
        return len(self._buffer)

    @property
    def last_seq(self) -> int:
        return self._last_seq

    def feed(self, data: bytes) -> list[BridgeMessage]:
        """Every message completed by ``data``, in order. On a bad frame, raises with the messages
        decoded before it in ``error.decoded``; every later call raises the same error."""
        if self._failed is not None:
            raise self._failed
        self._buffer += data
        out: list[BridgeMessage] = []
        pos = 0
        try:
            while True:
                step = self._next(pos)
                if step is None:
                    break
                msg, pos = step
                out.append(msg)
        except BridgeProtocolError as exc:
            exc.decoded = out
            self._failed = exc
            self._buffer.clear()
            raise
        del self._buffer[:pos]  # once per call: consuming frame by frame would be quadratic
        return out

    def _next(self, pos: int) -> tuple[BridgeMessage, int] | None:
        buf = self._buffer
        available = len(buf) - pos
        if available < HEADER_SIZE:
            _check_magic_prefix(buf[pos : pos + 2])
            return None
        length = check_header(bytes(buf[pos : pos + HEADER_SIZE]), self._max_body)
        end = pos + HEADER_SIZE + length
        if len(buf) < end:
            return None
        msg = decode_body(bytes(buf[pos + HEADER_SIZE : end]))
        if self._check_seq:
            if msg.seq != self._last_seq + 1:
                raise BridgeProtocolError(
                    FrameErrorKind.BAD_SEQ, f"seq {msg.seq} after {self._last_seq}", field="seq"
                )
            self._last_seq = msg.seq
        return msg, end


class FrameEncoder:
    """Stamps ``seq`` 1, 2, 3 ... on the messages one side sends on one connection, then frames them."""

    def __init__(self) -> None:
        self._seq = 0

    @property
    def last_seq(self) -> int:
        return self._seq

    def encode(self, msg: BridgeMessage) -> bytes:
        frame = encode_frame(msg.model_copy(update={"seq": self._seq + 1}))
        self._seq += 1
        return frame


def message_fields(msg: BridgeMessage) -> dict[str, Any]:
    """The message as plain JSON values (enums as their strings), without ``type`` -- as in vectors.json."""
    return msg.model_dump(mode="json")
