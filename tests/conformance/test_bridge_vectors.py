"""Bridge protocol (NinjaTrader 8 / Quantower) against its shipped test vectors.

vectors.json is the contract the C# BridgeCore also passes (test_bridge_csharp.py). Here: the file is
what the generator produces from the models (so a protocol change shows up as a reviewed diff),
canonical frames encode to exactly their bytes and decode to exactly their fields, non-canonical
spellings decode, every invalid frame raises BridgeProtocolError of the stated kind, and -- by
hypothesis -- no input whatsoever makes the decoder raise anything else.
"""

from __future__ import annotations

import json
import random
import struct
import sys
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from nexus_protocol.bridge import (
    MAX_BODY_BYTES,
    MESSAGE_TYPES,
    BridgeErrorCode,
    BridgeHeartbeat,
    BridgeMessage,
    BridgeProtocolError,
    BridgeTick,
    ErrorMessage,
    FrameDecoder,
    FrameEncoder,
    FrameErrorKind,
    Hello,
    OrderSubmit,
    Platform,
    decode_frame,
    encode_frame,
    format_float,
    load_vectors,
    message_fields,
    wire_schema,
)
from nexus_protocol.enums import OrderType, Side, TimeInForce
from nexus_protocol.errors import DecodeError, NexusError

sys.path.insert(0, str(Path(__file__).parent / "bridge"))
from bridge_vectors import render

VECTORS = load_vectors()
FRAMES = VECTORS["frames"]
ALL_FRAMES = b"".join(bytes.fromhex(v["hex"]) for v in FRAMES)
SLOW = settings(deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _ids(vectors: list[dict[str, Any]]) -> list[str]:
    return [v["name"] for v in vectors]


def _bits(value: float) -> str:
    return struct.pack(">d", value).hex()


def _from_bits(bits: str) -> float:
    value: float = struct.unpack(">d", bytes.fromhex(bits))[0]
    return value


def test_vectors_file_matches_generator() -> None:
    from importlib import resources

    shipped = resources.files("nexus_protocol.bridge").joinpath("vectors.json").read_text(encoding="utf-8")
    assert shipped == render(), "vectors.json is stale: run python tests/conformance/bridge/bridge_vectors.py"


def test_schema_export_covers_every_message_type() -> None:
    assert VECTORS["schema"] == wire_schema()
    assert set(VECTORS["schema"]["messages"]) == set(MESSAGE_TYPES)
    assert {v["type"] for v in FRAMES} == set(MESSAGE_TYPES), "every message type needs a vector"


def test_error_is_a_nexus_decode_error() -> None:
    assert issubclass(BridgeProtocolError, DecodeError)
    assert issubclass(BridgeProtocolError, NexusError)


def test_hand_written_frame() -> None:
    """One frame spelled out by hand, independent of the encoder and the generator."""
    body = b'{"type":"heartbeat","seq":5,"time_ns":1767225600123456789}'
    expected = b"NX\x01\x00" + len(body).to_bytes(4, "big") + body
    assert encode_frame(BridgeHeartbeat(seq=5, time_ns=1_767_225_600_123_456_789)) == expected
    assert next(v for v in FRAMES if v["name"] == "heartbeat")["hex"] == expected.hex()
    limit = next(v for v in FRAMES if v["name"] == "order_submit_limit")["body"]
    assert '"limit_price":16250.75,"stop_price":null,' in limit


@pytest.mark.parametrize("vector", FRAMES, ids=_ids(FRAMES))
def test_encode_matches_vector(vector: dict[str, Any]) -> None:
    msg = MESSAGE_TYPES[vector["type"]].model_validate(vector["fields"])
    frame = encode_frame(msg)
    assert frame.hex() == vector["hex"]
    assert frame[8:].decode("utf-8") == vector["body"]


@pytest.mark.parametrize("vector", FRAMES + VECTORS["decode_only"], ids=_ids(FRAMES + VECTORS["decode_only"]))
def test_decode_matches_vector(vector: dict[str, Any]) -> None:
    msg = decode_frame(bytes.fromhex(vector["hex"]))
    assert vector["type"] == msg.TYPE
    assert message_fields(msg) == vector["fields"]


@pytest.mark.parametrize("vector", VECTORS["invalid"], ids=_ids(VECTORS["invalid"]))
def test_invalid_frame_raises_its_kind(vector: dict[str, Any]) -> None:
    with pytest.raises(BridgeProtocolError) as caught:
        decode_frame(bytes.fromhex(vector["hex"]))
    assert caught.value.kind == vector["kind"], str(caught.value)
    assert caught.value.field == vector["field"]
    assert str(caught.value).startswith(vector["kind"] + ": ")


@pytest.mark.parametrize("vector", VECTORS["invalid_streams"], ids=_ids(VECTORS["invalid_streams"]))
def test_invalid_stream(vector: dict[str, Any]) -> None:
    decoder = FrameDecoder()
    with pytest.raises(BridgeProtocolError) as caught:
        decoder.feed(bytes.fromhex(vector["hex"]))
    assert caught.value.kind == vector["kind"]
    assert len(caught.value.decoded) == vector["decoded"]
    with pytest.raises(BridgeProtocolError):  # the stream is out of sync: the decoder stays failed
        decoder.feed(encode_frame(BridgeHeartbeat(seq=1, time_ns=0)))


def test_all_frames_form_one_stream_in_any_chunking() -> None:
    expected = [v["fields"] for v in FRAMES]
    rng = random.Random(8)
    for chunking in ("bytewise", "random", "whole"):
        decoder, got, pos = FrameDecoder(), [], 0
        while pos < len(ALL_FRAMES):
            step = {"bytewise": 1, "random": rng.randint(1, 300), "whole": len(ALL_FRAMES)}[chunking]
            got += [message_fields(m) for m in decoder.feed(ALL_FRAMES[pos : pos + step])]
            pos += step
        assert got == expected, chunking
        assert decoder.buffered == 0
        assert decoder.last_seq == len(FRAMES)


@pytest.mark.parametrize("vector", VECTORS["numbers"], ids=[v["text"] for v in VECTORS["numbers"]])
def test_number_text(vector: dict[str, str]) -> None:
    value = _from_bits(vector["bits"])
    assert format_float(value) == vector["text"]
    assert float(vector["text"]) == value  # round-trips (as a value: -0.0 is written 0)


@pytest.mark.parametrize("vector", VECTORS["number_reads"], ids=[v["text"] for v in VECTORS["number_reads"]])
def test_number_reads(vector: dict[str, str]) -> None:
    assert _bits(float(vector["text"])) == vector["bits"]


@given(st.floats(allow_nan=False, allow_infinity=False))
def test_any_float_round_trips_in_shortest_form(value: float) -> None:
    text = format_float(value)
    assert float(text) == value
    assert len(text.lstrip("-").replace(".", "").split("e")[0].strip("0")) <= 17
    if value != 0 and 1e-6 <= abs(value) < 1e21:
        assert "e" not in text
    assert float(json.loads(text)) == value  # an integer-looking text is read as int, then rounded


def test_encoder_stamps_seq_and_refuses_unstamped() -> None:
    enc = FrameEncoder()
    frames = [enc.encode(BridgeHeartbeat(time_ns=i)) for i in range(3)]
    assert [decode_frame(f).seq for f in frames] == [1, 2, 3]
    with pytest.raises(BridgeProtocolError) as caught:
        encode_frame(BridgeHeartbeat(time_ns=0))
    assert caught.value.kind == FrameErrorKind.BAD_SEQ


def test_body_size_limit_is_enforced_both_ways() -> None:
    overhead = len(encode_frame(ErrorMessage(seq=1, code=BridgeErrorCode.INTERNAL, message=""))) - 8
    fits = ErrorMessage(seq=1, code=BridgeErrorCode.INTERNAL, message="x" * (MAX_BODY_BYTES - overhead))
    frame = encode_frame(fits)
    assert len(frame) == 8 + MAX_BODY_BYTES
    assert decode_frame(frame) == fits
    with pytest.raises(BridgeProtocolError) as caught:
        encode_frame(fits.model_copy(update={"message": fits.message + "x"}))
    assert caught.value.kind == FrameErrorKind.BAD_LENGTH


def test_lone_surrogate_cannot_be_encoded() -> None:
    with pytest.raises(BridgeProtocolError) as caught:
        encode_frame(
            ErrorMessage(seq=1, code=BridgeErrorCode.INTERNAL, message="x").model_copy(
                update={"message": "\ud800"}
            )
        )
    assert caught.value.kind == FrameErrorKind.BAD_VALUE


def test_auth_token_is_not_in_repr() -> None:
    hello = Hello(platform=Platform.NT8, platform_version="8.1", accounts=["Sim101"], auth_token="hunter2")
    assert "hunter2" not in repr(hello)


# -- hypothesis: nothing but BridgeProtocolError, whatever arrives ------------------------------------


def _feed_all(data: bytes, chunk: int) -> None:
    decoder = FrameDecoder()
    try:
        for pos in range(0, len(data), chunk):
            for msg in decoder.feed(data[pos : pos + chunk]):
                assert isinstance(msg, BridgeMessage)
    except BridgeProtocolError:
        pass


@SLOW
@given(st.binary(max_size=400), st.integers(1, 64))
def test_arbitrary_bytes_raise_only_protocol_errors(data: bytes, chunk: int) -> None:
    _feed_all(data, chunk)
    _feed_all(b"NX\x01\x00" + len(data).to_bytes(4, "big") + data, chunk)


_json = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=12,
)


@SLOW
@given(
    st.sampled_from(FRAMES),
    st.sampled_from([None, *sorted(set().union(*(v["fields"] for v in FRAMES)))]),
    _json,
)
def test_perturbed_messages_raise_only_protocol_errors(
    vector: dict[str, Any], key: str | None, value: Any
) -> None:
    obj = {"type": vector["type"], **vector["fields"]}
    if key is not None:
        obj[key] = value
    body = json.dumps(obj).encode("utf-8", "surrogatepass")
    try:
        msg = decode_frame(b"NX\x01\x00" + len(body).to_bytes(4, "big") + body)
    except BridgeProtocolError:
        return
    assert decode_frame(encode_frame(msg)) == msg  # what decodes, re-encodes canonically


@SLOW
@given(st.sampled_from(FRAMES), st.integers(0, 10_000), st.integers(0, 255))
def test_corrupted_frames_raise_only_protocol_errors(vector: dict[str, Any], where: int, byte: int) -> None:
    data = bytearray.fromhex(vector["hex"])
    data[where % len(data)] = byte
    _feed_all(bytes(data), 7)


_finite = st.floats(allow_nan=False, allow_infinity=False)
_name = st.text(min_size=1, max_size=20).filter(lambda s: not any(0xD800 <= ord(c) <= 0xDFFF for c in s))


@st.composite
def _order_submits(draw: st.DrawFn) -> OrderSubmit:
    kind = draw(st.sampled_from(OrderType))
    price = draw(_finite)
    return OrderSubmit(
        seq=draw(st.integers(1, 2**63 - 1)),
        client_order_id=draw(
            st.text(st.characters(min_codepoint=0x21, max_codepoint=0x7E), min_size=1, max_size=50)
        ),
        account=draw(_name),
        instrument=draw(_name),
        side=draw(st.sampled_from(Side)),
        quantity=draw(st.integers(1, 2**31 - 1)),
        order_type=kind,
        limit_price=price if kind is OrderType.LIMIT else None,
        stop_price=price if kind is OrderType.STOP else None,
        time_in_force=draw(st.sampled_from(TimeInForce)),
    )


@given(_order_submits())
def test_order_submit_round_trips(msg: OrderSubmit) -> None:
    assert decode_frame(encode_frame(msg)) == msg


@given(st.lists(st.one_of(st.none(), _finite), min_size=6, max_size=6), st.integers(0, 2**63 - 1))
def test_tick_round_trips(values: list[float | None], time_ns: int) -> None:
    bid, ask, last, bsz, asz, lsz = values
    msg = BridgeTick(seq=9, instrument="ES 12-24", bid=bid, ask=ask, last=last, bid_size=bsz, ask_size=asz,
               last_size=lsz, time_ns=time_ns)  # fmt: skip
    assert decode_frame(encode_frame(msg)) == msg  # -0.0 is written 0, and compares equal
