"""The NinjaTrader 8 / Quantower bridge protocol, defined once (docs/bridge-protocol.md).

Pure: models, canonical JSON, framing. The Python adapter does the socket I/O; the C# side lives in
``services/adapter-nt8/csharp/BridgeCore`` and passes the same ``vectors.json``.
"""

from __future__ import annotations

import json
from importlib import resources
from typing import Any

from nexus_protocol.bridge.canonical import format_float, parse_json
from nexus_protocol.bridge.errors import BridgeProtocolError, FrameErrorKind
from nexus_protocol.bridge.frames import (
    HEADER_SIZE,
    MAGIC,
    MAX_BODY_BYTES,
    SUPPORTED_VERSIONS,
    FrameDecoder,
    FrameEncoder,
    decode_body,
    decode_frame,
    encode_frame,
    message_fields,
)
from nexus_protocol.bridge.messages import (
    ENUM_TYPES,
    MESSAGE_TYPES,
    PROTOCOL_VERSION,
    RECORD_TYPES,
    RETRYABLE_ERROR_CODES,
    AccountSnapshot,
    BridgeErrorCode,
    BridgeHeartbeat,
    BridgeMessage,
    BridgeTick,
    ErrorMessage,
    ExecutionRecord,
    ExecutionUpdate,
    Hello,
    HelloAck,
    MdSubscribe,
    MdUnsubscribe,
    OpenOrdersQuery,
    OpenOrdersSnapshot,
    OrderCancel,
    OrderSubmit,
    OrderUpdate,
    Platform,
    PositionRecord,
    PositionSnapshot,
    WorkingOrder,
)
from nexus_protocol.bridge.schema import field_kinds, record_name


def wire_schema() -> dict[str, Any]:
    """Every message's and record's fields as ``[name, kind]`` (``seq`` and ``type`` implicit), and every
    enum's values: the table the C# ``Schema`` class must equal."""
    return {
        "messages": {t: [list(f) for f in field_kinds(c) if f[0] != "seq"] for t, c in MESSAGE_TYPES.items()},
        "records": {record_name(c): [list(f) for f in field_kinds(c)] for c in RECORD_TYPES},
        "enums": {e.__name__: [m.value for m in e] for e in ENUM_TYPES},
    }


def load_vectors() -> dict[str, Any]:
    """The shipped test vectors (``vectors.json``), for tests and platform simulators."""
    text = resources.files(__package__).joinpath("vectors.json").read_text(encoding="utf-8")
    vectors: dict[str, Any] = json.loads(text)
    return vectors


__all__ = [
    "ENUM_TYPES",
    "HEADER_SIZE",
    "MAGIC",
    "MAX_BODY_BYTES",
    "MESSAGE_TYPES",
    "PROTOCOL_VERSION",
    "RECORD_TYPES",
    "RETRYABLE_ERROR_CODES",
    "SUPPORTED_VERSIONS",
    "AccountSnapshot",
    "BridgeErrorCode",
    "BridgeHeartbeat",
    "BridgeMessage",
    "BridgeProtocolError",
    "BridgeTick",
    "ErrorMessage",
    "ExecutionRecord",
    "ExecutionUpdate",
    "FrameDecoder",
    "FrameEncoder",
    "FrameErrorKind",
    "Hello",
    "HelloAck",
    "MdSubscribe",
    "MdUnsubscribe",
    "OpenOrdersQuery",
    "OpenOrdersSnapshot",
    "OrderCancel",
    "OrderSubmit",
    "OrderUpdate",
    "Platform",
    "PositionRecord",
    "PositionSnapshot",
    "WorkingOrder",
    "decode_body",
    "decode_frame",
    "encode_frame",
    "format_float",
    "load_vectors",
    "message_fields",
    "parse_json",
    "wire_schema",
]
