"""DTC codec against bytes produced by a C++ compiler from Sierra Chart's DTCProtocol.h.

tests/conformance/dtc/layouts.json and vectors.json come from gen_vectors.py, which builds each
struct of the reference header with g++ (2022 revision; 2020 revision for the compat vectors) and
reads truncated frames back through the header's own CopyFrom and getters. Nothing here is
derived from our encoder, so a wrong offset, padding, default or type number fails a test.
"""

from __future__ import annotations

import json
import struct
from pathlib import Path
from typing import Any

import pytest

from nexus_sierra.dtc.codec import (
    DtcDecodeError,
    DtcHeartbeat,
    DtcMessage,
    EncodingEnum,
    EncodingResponse,
    FieldSpec,
    FrameReader,
    LogonRequest,
    LogonResponse,
    LogonStatusEnum,
    MessageType,
    OrderStatusEnum,
    OrderUpdate,
    SubmitNewSingleOrder,
    UnknownMessage,
    decode_binary,
    decode_json,
    encode_binary,
    encode_json,
    layout_of,
    message_class,
    message_classes,
)

pytestmark = pytest.mark.conformance

DATA = Path(__file__).parent / "dtc"
LAYOUTS: dict[str, Any] = json.loads((DATA / "layouts.json").read_text())["structs"]
VECTORS: dict[str, Any] = json.loads((DATA / "vectors.json").read_text())
KIND_FAMILY = {"u8": "unsigned", "u16": "unsigned", "u32": "unsigned", "u64": "unsigned",
               "i8": "signed", "i32": "signed", "i64": "signed", "f32": "float", "f64": "float",
               "char": "char"}  # fmt: skip


def cls_for(type_id: int) -> type[DtcMessage]:
    cls = message_class(type_id)
    assert cls is not None, f"no message class for DTC type {type_id}"
    return cls


def by_wire(cls: type[DtcMessage]) -> dict[str, FieldSpec]:
    return {spec.wire: spec for spec in layout_of(cls).fields}


def build(cls: type[DtcMessage], wire_values: dict[str, Any]) -> DtcMessage:
    specs = by_wire(cls)
    kwargs: dict[str, Any] = {}
    for wire, value in wire_values.items():
        spec = specs[wire]
        if spec.flag:
            kwargs[spec.name] = bool(value)
        elif spec.enum is not None:
            kwargs[spec.name] = spec.enum(value)
        else:
            kwargs[spec.name] = value
    return cls(**kwargs)


def with_size(frame: bytes, size: int) -> bytes:
    return struct.pack("<H", size) + frame[2:]


# --- layouts ----------------------------------------------------------------------------------


@pytest.mark.parametrize("struct_name", sorted(LAYOUTS))
def test_layout_matches_compiled_header(struct_name: str) -> None:
    ref = LAYOUTS[struct_name]
    cls = cls_for(ref["type"])
    layout = layout_of(cls)
    assert layout.size == ref["size"], "sizeof differs"
    ours = [(s.wire, s.offset, s.size, KIND_FAMILY[s.kind]) for s in layout.fields]
    theirs = [(f["name"], f["offset"], f["size"], f["kind"]) for f in ref["fields"][2:]]
    assert ours == theirs


def test_every_message_class_is_checked_against_the_header() -> None:
    checked = {ref["type"] for ref in LAYOUTS.values()}
    assert {cls.TYPE for cls in message_classes()} == checked


def test_message_type_numbers_match_the_header() -> None:
    for ref in LAYOUTS.values():
        assert ref["type"] == cls_for(ref["type"]).TYPE
    # The ones hobby clients most often get wrong (see reference/platforms.md 1.1).
    assert (MessageType.LOGOFF, MessageType.ENCODING_REQUEST, MessageType.ORDER_UPDATE) == (5, 6, 301)
    assert (OrderStatusEnum.FILLED, OrderStatusEnum.CANCELED) == (7, 8)


# --- full-size vectors ------------------------------------------------------------------------

FILLED = [v for v in VECTORS["vectors"] if v["fields"] is not None]
DEFAULTS = [v for v in VECTORS["vectors"] if v["fields"] is None]


@pytest.mark.parametrize("vector", FILLED, ids=[v["name"] for v in FILLED])
def test_encode_matches_reference_bytes(vector: dict[str, Any]) -> None:
    msg = build(cls_for(vector["type"]), vector["fields"])
    assert encode_binary(msg).hex() == vector["hex"]


@pytest.mark.parametrize("vector", FILLED, ids=[v["name"] for v in FILLED])
def test_decode_reference_bytes(vector: dict[str, Any]) -> None:
    cls = cls_for(vector["type"])
    assert decode_binary(bytes.fromhex(vector["hex"])) == build(cls, vector["fields"])


@pytest.mark.parametrize("vector", DEFAULTS, ids=[v["name"] for v in DEFAULTS])
def test_defaults_match_header_constructors(vector: dict[str, Any]) -> None:
    cls = cls_for(vector["type"])
    assert encode_binary(cls()).hex() == vector["hex"]
    assert decode_binary(bytes.fromhex(vector["hex"])) == cls()


def test_hand_checked_encoding_request() -> None:
    # <HHii4s> = 16, 6, 8, JSON(2), "DTC\0": the 16 bytes every JSON client sends first.
    frame = bytes.fromhex(next(v["hex"] for v in FILLED if v["name"] == "encoding_request_json"))
    assert frame == struct.pack("<HHii4s", 16, 6, 8, 2, b"DTC")


def test_hand_checked_order_update_offsets() -> None:
    vector = next(v for v in FILLED if v["name"] == "order_update_partial_fill")
    frame = bytes.fromhex(vector["hex"])
    assert struct.unpack_from("<HH", frame) == (720, 301)
    assert frame[160:191].rstrip(b"\0") == b"01JBQ3Z8M5X9W2C4T6Y8R0P1A3.SC0"  # ClientOrderID
    assert struct.unpack_from("<iiii", frame, 224) == (10, 5, 2, 1)  # status, reason, type, side
    assert struct.unpack_from("<q", frame, 312) == (1767225600123,)  # LastFillDateTime, ms
    assert frame[520] == 0  # NoOrders
    assert struct.unpack_from("<i", frame, 588) == (1,)  # OpenOrClose


# --- shorter and longer frames ----------------------------------------------------------------

TRUNCATED = VECTORS["truncated"]


@pytest.mark.parametrize("case", TRUNCATED, ids=[c["name"] for c in TRUNCATED])
def test_short_frame_reads_like_the_header_getters(case: dict[str, Any]) -> None:
    """Fields inside Size read exactly as the header's getters read them. For a field outside
    Size the 2022 getters are not consistent (most return 0, some the constructor's "unset" value,
    e.g. OrderUpdate::GetPrice1 returns DBL_MAX; GetEncoding even reads a half-copied int): we
    always return the constructor default, and check here that it is one of those two readings."""
    cls = cls_for(case["type"])
    patterned = next(v for v in FILLED if v["name"] == f"{case['struct'][2:]}_patterned")
    frame = with_size(bytes.fromhex(patterned["hex"]), case["size"])[: case["size"]]
    msg = decode_binary(frame)
    specs = by_wire(cls)
    for wire, getter_value in case["getters"].items():
        spec = specs[wire]
        got = getattr(msg, spec.name)
        if spec.end <= case["size"]:
            assert got == getter_value, wire
        else:
            assert got == spec.default, wire
            header_bug = wire == "Encoding"  # s_Encoding*::GetEncoding checks ProtocolVersion's bounds
            assert header_bug or getter_value in (0, "", spec.default), wire


COMPAT = VECTORS["compat_vectors"]


@pytest.mark.parametrize("vector", COMPAT, ids=[v["name"] for v in COMPAT])
def test_older_revision_frames_decode(vector: dict[str, Any]) -> None:
    """A 2020-revision struct (shorter, some fields renamed) decodes field by field by offset."""
    old = {f["offset"]: f for f in VECTORS["compat_layouts"][vector["struct"]]["fields"][2:]}
    old_size = VECTORS["compat_layouts"][vector["struct"]]["size"]
    msg = decode_binary(bytes.fromhex(vector["hex"]))
    assert type(msg) is cls_for(vector["type"])
    for spec in layout_of(type(msg)).fields:
        got = getattr(msg, spec.name)
        ref = old.get(spec.offset)
        if ref is not None and ref["size"] == spec.size:
            want = vector["fields"][ref["name"]]
            assert got == (bool(want) if spec.flag else want), spec.wire
        else:
            assert spec.end > old_size, f"{spec.wire} overlaps the old struct but is not in it"
            assert got == spec.default, spec.wire


def test_longer_frame_ignores_extra_bytes() -> None:
    for vector in FILLED:
        frame = bytes.fromhex(vector["hex"])
        longer = with_size(frame + b"\xab" * 40, len(frame) + 40)
        assert decode_binary(longer) == decode_binary(frame), vector["name"]


def test_unknown_type_is_carried_not_rejected() -> None:
    frame = struct.pack("<HH", 9, 150) + b"12345"  # MARKET_ORDERS_REQUEST: no layout here
    msg = decode_binary(frame)
    assert msg == UnknownMessage(150, b"12345")
    assert encode_binary(msg) == frame


@pytest.mark.parametrize(
    ("frame", "reason"),
    [
        (b"\x04\x00\x03", "shorter than the 4-byte header"),
        (b"\x03\x00\x03\x00", "Size 3 is smaller"),
        (struct.pack("<HH", 16, 3) + b"\0" * 8, "truncated"),
        (struct.pack("<HH", 8, 3) + b"\0" * 8, "trailing bytes"),
    ],
)
def test_malformed_frames_raise_a_decode_error(frame: bytes, reason: str) -> None:
    with pytest.raises(DtcDecodeError, match=reason):
        decode_binary(frame)


def test_reader_splits_a_stream_of_reference_frames() -> None:
    stream = b"".join(bytes.fromhex(v["hex"]) for v in FILLED)
    expected = [decode_binary(bytes.fromhex(v["hex"])) for v in FILLED]
    for chunk_size in (1, 3, 7, 64, 1000, len(stream)):
        reader = FrameReader()
        got = []
        for i in range(0, len(stream), chunk_size):
            got += reader.feed(stream[i : i + chunk_size])
        assert got == expected
        assert reader.buffered_bytes == 0


def test_reader_hands_over_the_rest_after_the_encoding_response() -> None:
    response = struct.pack("<HHii4s", 16, 7, 8, 2, b"DTC")
    json_heartbeat = b'{"Type":3,"NumDroppedMessages":0,"CurrentDateTime":1767225600}\0'
    reader = FrameReader()
    reader.append(response + json_heartbeat)
    first = reader.next_message()
    assert isinstance(first, EncodingResponse)
    assert first.encoding is EncodingEnum.JSON
    assert decode_json(reader.detach()) == DtcHeartbeat(current_date_time_s=1767225600)


# --- JSON encoding ----------------------------------------------------------------------------


def test_json_logon_request_shape() -> None:
    frame = encode_json(LogonRequest(username="trader1", password="pw", heartbeat_interval_s=10))
    assert frame.endswith(b"\0")
    assert frame.count(b"\0") == 1
    obj = json.loads(frame[:-1])
    assert next(iter(obj)) == "Type"
    assert obj["Type"] == 1
    assert obj["ProtocolVersion"] == 8
    assert obj["Username"] == "trader1"
    assert obj["HeartbeatIntervalInSeconds"] == 10
    assert obj["Password"] == "pw"


def test_json_decodes_a_server_logon_response_with_missing_and_extra_fields() -> None:
    data = b'{"Type":2,"ProtocolVersion":8,"Result":1,"ResultText":"OK","TradingIsSupported":1,"Foo":3}\0'
    msg = decode_json(data)
    assert isinstance(msg, LogonResponse)
    assert msg.result is LogonStatusEnum.SUCCESS
    assert msg.trading_is_supported is True
    assert msg.market_data_supported is True  # absent: the default, like a short binary frame
    assert msg.oco_orders_supported is False
    assert decode_json(b'{"Type":3,"NumDroppedMessages":null}') == DtcHeartbeat()


def test_json_round_trips_every_reference_vector() -> None:
    for vector in FILLED:
        msg = decode_binary(bytes.fromhex(vector["hex"]))
        assert decode_json(encode_json(msg)) == msg, vector["name"]


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b'{"Type":1', "invalid JSON"),
        (b"[1,2]", "not an object"),
        (b'{"NoType":1}', "invalid Type"),
        (b'{"Type":301,"OrderStatus":"filled"}', "expected an int"),
        (b'{"Type":208,"Quantity":true}', "expected a float"),
        (b'{"Type":208,"F":[1]}', "Compact"),
        (b'{"Type":3}\0{"Type":3}', "NUL byte inside"),
        (b'{"Type":3,"NumDroppedMessages":-1}', "u32 range"),
    ],
)
def test_malformed_json_raises_a_decode_error(data: bytes, reason: str) -> None:
    with pytest.raises(DtcDecodeError, match=reason):
        decode_json(data)


def test_client_order_id_of_the_mesh_fits() -> None:
    # docs/design.md: a leg's client order id is 30 characters; DTC ClientOrderID holds 31.
    msg = SubmitNewSingleOrder(client_order_id="01JBQ3Z8M5X9W2C4T6Y8R0P1A3.SC0")
    assert decode_binary(encode_binary(msg)) == msg
    assert isinstance(decode_binary(encode_binary(OrderUpdate())), OrderUpdate)
