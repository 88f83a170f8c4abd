"""Property tests of the DTC codec: every message round-trips through both encodings with any
in-range field values, and arbitrary or truncated input only ever raises DtcDecodeError."""

from __future__ import annotations

import contextlib
import itertools
import json
import struct
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from nexus_sierra.dtc.codec import (
    DBL_MAX,
    FLT_MAX,
    DtcDecodeError,
    DtcEncodeError,
    DtcHeartbeat,
    DtcMessage,
    FieldSpec,
    FrameReader,
    JsonFrameReader,
    MarketDataUpdateBidAsk,
    OrderStatusEnum,
    OrderUpdate,
    SubmitNewSingleOrder,
    UnknownMessage,
    decode_binary,
    decode_json,
    encode_binary,
    encode_json,
    layout_of,
    message_classes,
)

pytestmark = pytest.mark.unit

RANGES = {
    "u8": (0, 0xFF), "i8": (-0x80, 0x7F), "u16": (0, 0xFFFF), "i32": (-(2**31), 2**31 - 1),
    "u32": (0, 2**32 - 1), "i64": (-(2**63), 2**63 - 1), "u64": (0, 2**64 - 1),
}  # fmt: skip
CLASSES = sorted(message_classes(), key=lambda cls: cls.TYPE)
FAST = settings(max_examples=40, deadline=1000, suppress_health_check=[HealthCheck.too_slow])
FUZZ = settings(max_examples=100, deadline=1000, suppress_health_check=[HealthCheck.too_slow])


def value_strategy(spec: FieldSpec) -> st.SearchStrategy[Any]:
    if spec.kind == "char":
        chars = st.characters(codec="utf-8", exclude_characters="\0")
        return st.text(chars, max_size=spec.size - 1).filter(lambda t: len(t.encode()) < spec.size)
    if spec.kind == "f64":
        return st.floats(allow_nan=False, allow_infinity=False)
    if spec.kind == "f32":
        # bounded: hypothesis can otherwise draw a value just past FLT_MAX and fail inside itself
        return st.floats(
            min_value=-FLT_MAX, max_value=FLT_MAX, width=32, allow_nan=False, allow_infinity=False
        )
    if spec.flag:
        return st.booleans()
    ints = st.integers(*RANGES[spec.kind])
    if spec.enum is not None:
        return st.one_of(st.sampled_from(list(spec.enum)), ints.map(spec.enum))
    return ints


def message_strategy(cls: type[DtcMessage]) -> st.SearchStrategy[DtcMessage]:
    fields = {spec.name: value_strategy(spec) for spec in layout_of(cls).fields}
    return st.fixed_dictionaries(fields).map(lambda kwargs: cls(**kwargs))


ANY_MESSAGE = st.one_of([message_strategy(cls) for cls in CLASSES])


@pytest.mark.parametrize("cls", CLASSES, ids=[cls.__name__ for cls in CLASSES])
@FAST
@given(data=st.data())
def test_round_trip_binary_and_json(cls: type[DtcMessage], data: st.DataObject) -> None:
    msg = data.draw(message_strategy(cls))
    frame = encode_binary(msg)
    assert len(frame) == layout_of(cls).size
    assert decode_binary(frame) == msg
    assert decode_json(encode_json(msg)) == msg


@FUZZ
@given(msg=ANY_MESSAGE, extra=st.binary(max_size=64))
def test_any_size_from_header_to_beyond_the_struct_decodes(msg: DtcMessage, extra: bytes) -> None:
    """Older (shorter) and newer (longer) revisions of a struct decode without error."""
    frame = encode_binary(msg) + extra
    for size in (4, max(4, len(frame) // 2), len(frame) - len(extra), len(frame)):
        got = decode_binary(struct.pack("<H", size) + frame[2:size])
        assert type(got) is type(msg)
        for spec in layout_of(type(msg)).fields:
            expected = getattr(msg, spec.name) if spec.end <= size else spec.default
            assert getattr(got, spec.name) == expected


@FUZZ
@given(msg=ANY_MESSAGE, cut=st.integers(min_value=0))
def test_truncated_frame_raises_decode_error(msg: DtcMessage, cut: int) -> None:
    frame = encode_binary(msg)
    with pytest.raises(DtcDecodeError):
        decode_binary(frame[: cut % len(frame)])


@FUZZ
@given(data=st.binary(max_size=2048))
def test_arbitrary_bytes_decode_or_raise_decode_error(data: bytes) -> None:
    try:
        msg = decode_binary(data)
    except DtcDecodeError:
        return
    assert isinstance(msg, DtcMessage | UnknownMessage)


def chunked(data: bytes, cuts: list[int]) -> list[bytes]:
    points = sorted({c % (len(data) + 1) for c in cuts} | {0, len(data)})
    return [data[a:b] for a, b in itertools.pairwise(points)]


@FUZZ
@given(data=st.binary(max_size=4096), cuts=st.lists(st.integers(min_value=0), max_size=20))
def test_reader_on_arbitrary_bytes_only_raises_decode_error(data: bytes, cuts: list[int]) -> None:
    reader = FrameReader()
    fed = 0
    for chunk in chunked(data, cuts):
        try:
            reader.feed(chunk)
            fed += len(chunk)
        except DtcDecodeError:
            break
    else:
        assert reader.buffered_bytes <= fed
        return
    with pytest.raises(DtcDecodeError):  # a binary stream cannot resynchronise: it stays failed
        reader.feed(b"\x04\x00\x03\x00")


@FUZZ
@given(msgs=st.lists(ANY_MESSAGE, max_size=8), cuts=st.lists(st.integers(min_value=0), max_size=30))
def test_reader_reassembles_any_chunking(msgs: list[DtcMessage], cuts: list[int]) -> None:
    stream = b"".join(encode_binary(m) for m in msgs)
    reader = FrameReader()
    got = [m for chunk in chunked(stream, cuts) for m in reader.feed(chunk)]
    assert got == msgs
    assert reader.buffered_bytes == 0


@FUZZ
@given(msgs=st.lists(ANY_MESSAGE, min_size=1, max_size=4), garbage=st.binary(min_size=2, max_size=8))
def test_reader_keeps_good_messages_before_a_bad_frame(msgs: list[DtcMessage], garbage: bytes) -> None:
    bad = struct.pack("<H", garbage[0] % 4) + garbage[2:]  # Size below the 4-byte header
    reader = FrameReader()
    assert reader.feed(b"".join(encode_binary(m) for m in msgs) + bad) == msgs
    with pytest.raises(DtcDecodeError, match="smaller than the 4-byte header"):
        reader.next_message()
    with pytest.raises(DtcDecodeError, match="unusable"):
        reader.feed(b"")


@FUZZ
@given(data=st.binary(max_size=1024))
def test_arbitrary_bytes_as_json_only_raise_decode_error(data: bytes) -> None:
    with contextlib.suppress(DtcDecodeError):
        decode_json(data)


JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3),
    max_leaves=8,
)


@FUZZ
@given(cls=st.sampled_from(CLASSES), data=st.data())
def test_json_with_wrong_field_types_only_raises_decode_error(
    cls: type[DtcMessage], data: st.DataObject
) -> None:
    wires = [spec.wire for spec in layout_of(cls).fields]
    obj = {"Type": cls.TYPE, **data.draw(st.dictionaries(st.sampled_from(wires), JSON_VALUES, max_size=4))}
    try:
        msg = decode_json(json.dumps(obj).encode())
    except DtcDecodeError:
        return
    assert type(msg) is cls


@FUZZ
@given(
    msgs=st.lists(ANY_MESSAGE, max_size=6),
    noise=st.binary(max_size=200).filter(lambda b: b"\0" not in b),
    cuts=st.lists(st.integers(min_value=0), max_size=20),
)
def test_json_reader_skips_a_bad_message_and_carries_on(
    msgs: list[DtcMessage], noise: bytes, cuts: list[int]
) -> None:
    stream = noise + b"\0" + b"".join(encode_json(m) for m in msgs)
    reader = JsonFrameReader()
    got: list[Any] = []
    errors = 0
    for chunk in chunked(stream, cuts):
        reader.append(chunk)
        while True:
            try:
                msg = reader.next_message()
            except DtcDecodeError:
                errors += 1
                continue
            if msg is None:
                break
            got.append(msg)
    assert errors <= 1
    assert got[len(got) - len(msgs) :] == msgs
    assert len(got) - len(msgs) in (0, 1)  # the noise may happen to be a valid message


@FUZZ
@given(data=st.binary(max_size=3000), cuts=st.lists(st.integers(min_value=0), max_size=10))
def test_json_reader_on_arbitrary_bytes_terminates(data: bytes, cuts: list[int]) -> None:
    reader = JsonFrameReader(max_message_bytes=256)
    for chunk in chunked(data, cuts):
        reader.append(chunk)
        for _ in range(len(data) + 2):  # each call consumes a message or returns None
            try:
                if reader.next_message() is None:
                    break
            except DtcDecodeError:
                continue
        else:
            pytest.fail("JsonFrameReader did not come to rest")
    assert reader.buffered_bytes <= 256 + len(data)


# --- encoding refuses what the wire cannot carry --------------------------------------------


@pytest.mark.parametrize(
    ("msg", "field"),
    [
        (SubmitNewSingleOrder(client_order_id="x" * 32), "client_order_id"),
        (SubmitNewSingleOrder(symbol="é" * 32), "symbol"),  # 64 UTF-8 bytes: one too many
        (SubmitNewSingleOrder(symbol="NQ\0Z5"), "symbol"),
        (SubmitNewSingleOrder(symbol="\ud800"), "symbol"),
        (DtcHeartbeat(num_dropped_messages=-1), "num_dropped_messages"),
        (DtcHeartbeat(current_date_time_s=2**63), "current_date_time_s"),
        (MarketDataUpdateBidAsk(bid_quantity=1e39), "bid_quantity"),
        (OrderUpdate(order_status=OrderStatusEnum(2**31)), "order_status"),
        (OrderUpdate(price1="1.5"), "price1"),  # type: ignore[arg-type]
    ],
)
def test_encode_rejects_values_the_field_cannot_carry(msg: DtcMessage, field: str) -> None:
    with pytest.raises(DtcEncodeError) as excinfo:
        encode_binary(msg)
    assert excinfo.value.field == field


def test_json_refuses_non_finite_numbers_but_binary_carries_them() -> None:
    msg = MarketDataUpdateBidAsk(bid_price=float("inf"), ask_price=DBL_MAX)
    assert decode_binary(encode_binary(msg)) == msg
    with pytest.raises(DtcEncodeError):
        encode_json(msg)
    nan = decode_binary(encode_binary(MarketDataUpdateBidAsk(bid_price=float("nan"))))
    assert isinstance(nan, MarketDataUpdateBidAsk)
    assert nan.bid_price != nan.bid_price
