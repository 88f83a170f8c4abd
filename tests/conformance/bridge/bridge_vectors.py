"""Builds ``vectors.json``: the byte-exact cases every implementation of the bridge must pass.

Run ``python tests/conformance/bridge/bridge_vectors.py`` after a deliberate protocol change and
review the diff of ``nexus_protocol/bridge/vectors.json`` (shipped with the package: the simulators
and the C# tests read it); the conformance tests fail while the file and this generator disagree.
Every invalid case states the kind it must raise, and the generator checks that the Python decoder
agrees before writing.
"""

from __future__ import annotations

import json
import math
import sys
from importlib import resources
from typing import Any

from bridge_vector_cases import NUMBER_READS, NUMBERS, bits, decode_only, frame, stamped

from nexus_protocol.bridge import frames
from nexus_protocol.bridge.canonical import format_float
from nexus_protocol.bridge.errors import BridgeProtocolError, FrameErrorKind
from nexus_protocol.bridge.messages import PROTOCOL_VERSION

K = FrameErrorKind


_DROP = object()


def _body(msg: dict[str, Any]) -> str:
    return json.dumps(msg, separators=(",", ":"), ensure_ascii=False)


def _invalid() -> list[tuple[str, bytes, FrameErrorKind]]:
    by_name = dict(stamped())
    good = json.loads(frames.encode_frame(by_name["order_submit_limit"])[8:])
    pos = json.loads(frames.encode_frame(by_name["position_snapshot"])[8:])
    hello = json.loads(frames.encode_frame(by_name["hello_nt8"])[8:])

    def sub(**change: Any) -> bytes:
        return frame(_body({**good, **change}))

    def drop(key: str) -> bytes:
        return frame(_body({k: v for k, v in good.items() if k != key}))

    def posi(**change: Any) -> bytes:
        item = {k: v for k, v in {**pos["positions"][0], **change}.items() if v is not _DROP}
        return frame(_body({**pos, "positions": [item]}))

    valid = frames.encode_frame(by_name["heartbeat"])
    nested = "[" * 32 + "]" * 32
    return [
        ("http_request", b"GET / HTTP/1.1\r\nHost: x\r\n\r\n", K.BAD_MAGIC),
        ("tls_client_hello", bytes.fromhex("160301020001000200030300"), K.BAD_MAGIC),
        ("short_bad_magic", b"NY", K.BAD_MAGIC),
        ("version_2", frame("{}", version=2), K.BAD_VERSION),
        ("version_0", frame("{}", version=0), K.BAD_VERSION),
        ("flags_set", frame("{}", flags=1), K.BAD_FLAGS),
        ("length_0", frame(b""), K.BAD_LENGTH),
        ("length_1", frame(b"{"), K.BAD_LENGTH),
        ("length_over_max", frame(b"", length=frames.MAX_BODY_BYTES + 1), K.BAD_LENGTH),
        ("length_max_u32", frame(b"", length=0xFFFFFFFF), K.BAD_LENGTH),
        ("header_only", frame(b"", length=10), K.TRUNCATED),
        ("partial_header", b"NX\x01\x00\x00", K.TRUNCATED),
        ("body_short", frame(b'{"type"', length=20), K.TRUNCATED),
        ("trailing_byte", valid + b"\x00", K.TRAILING_BYTES),
        ("utf8_invalid_byte", frame(b'{"type":"\xff"}'), K.BAD_JSON),
        ("utf8_overlong", frame(b'{"type":"\xc0\xaf"}'), K.BAD_JSON),
        ("utf8_encoded_surrogate", frame(b'{"type":"\xed\xa0\x80"}'), K.BAD_JSON),
        ("utf8_bom", frame(b"\xef\xbb\xbf{}"), K.BAD_JSON),
        ("json_unterminated", frame('{"type":"heartbeat"'), K.BAD_JSON),
        ("json_trailing_comma", frame('{"type":"heartbeat",}'), K.BAD_JSON),
        ("json_single_quotes", frame("{'type':'heartbeat'}"), K.BAD_JSON),
        ("json_two_values", frame("{}{}"), K.BAD_JSON),
        ("json_nan", frame('{"type":"heartbeat","seq":1,"time_ns":NaN}'), K.BAD_JSON),
        ("json_infinity", frame('{"a":-Infinity}'), K.BAD_JSON),
        ("json_leading_zero", frame('{"seq":01}'), K.BAD_JSON),
        ("json_bare_fraction", frame('{"a":.5}'), K.BAD_JSON),
        ("json_raw_control_char", frame('{"type":"a\tb"}'), K.BAD_JSON),
        ("json_bad_escape", frame('{"type":"\\x41"}'), K.BAD_JSON),
        ("json_duplicate_key", frame('{"type":"heartbeat","seq":1,"time_ns":1,"seq":2}'), K.BAD_JSON),
        ("json_number_too_long", frame('{"a":' + "1" * 65 + "}"), K.BAD_JSON),
        ("json_too_deep", frame('{"a":' + nested + "}"), K.BAD_JSON),
        ("not_object_array", frame("[]"), K.NOT_OBJECT),
        ("not_object_string", frame('"heartbeat"'), K.NOT_OBJECT),
        ("not_object_null", frame("null"), K.NOT_OBJECT),
        ("type_missing", frame('{"seq":1,"time_ns":1}'), K.MISSING_FIELD),
        ("type_unknown", sub(type="order_modify"), K.UNKNOWN_TYPE),
        ("type_not_string", sub(type=5), K.UNKNOWN_TYPE),
        ("type_null", sub(type=None), K.UNKNOWN_TYPE),
        ("type_wrong_case", sub(type="Order_Submit"), K.UNKNOWN_TYPE),
        ("seq_missing", drop("seq"), K.MISSING_FIELD),
        ("field_missing", drop("time_in_force"), K.MISSING_FIELD),
        ("nullable_field_missing", drop("stop_price"), K.MISSING_FIELD),
        ("nested_field_missing", posi(avg_price=_DROP), K.MISSING_FIELD),
        ("field_unknown", sub(comment="hi"), K.UNKNOWN_FIELD),
        ("nested_field_unknown", posi(note=1), K.UNKNOWN_FIELD),
        ("seq_zero", sub(seq=0), K.BAD_SEQ),
        ("seq_negative", sub(seq=-1), K.BAD_SEQ),
        ("seq_string", sub(seq="1"), K.BAD_SEQ),
        ("seq_float", frame(_body(good).replace('"seq":9', '"seq":9.0')), K.BAD_SEQ),
        ("seq_overflow", sub(seq=2**63), K.BAD_SEQ),
        ("quantity_zero", sub(quantity=0), K.BAD_VALUE),
        ("quantity_over_int32", sub(quantity=2**31), K.BAD_VALUE),
        ("quantity_float", frame(_body(good).replace('"quantity":1', '"quantity":1.0')), K.BAD_VALUE),
        ("quantity_exponent", frame(_body(good).replace('"quantity":1', '"quantity":1e0')), K.BAD_VALUE),
        ("quantity_string", sub(quantity="1"), K.BAD_VALUE),
        ("quantity_bool", sub(quantity=True), K.BAD_VALUE),
        ("quantity_null", sub(quantity=None), K.BAD_VALUE),
        ("side_upper_case", sub(side="BUY"), K.BAD_VALUE),
        ("enum_unknown", sub(time_in_force="gtd"), K.BAD_VALUE),
        ("coid_too_long", sub(client_order_id="x" * 51), K.BAD_VALUE),
        ("coid_space", sub(client_order_id="a b"), K.BAD_VALUE),
        ("coid_non_ascii", sub(client_order_id="caf\u00e9"), K.BAD_VALUE),
        ("coid_empty", sub(client_order_id=""), K.BAD_VALUE),
        ("name_empty", sub(account=""), K.BAD_VALUE),
        ("string_lone_surrogate", frame(_body(good).replace('"Sim101"', '"Sim\\ud800"')), K.BAD_VALUE),
        ("price_string", sub(limit_price="16250.75"), K.BAD_VALUE),
        ("price_bool", sub(limit_price=False), K.BAD_VALUE),
        ("price_overflow", frame(_body(good).replace("16250.75", "1e400")), K.BAD_VALUE),
        ("limit_without_price", sub(limit_price=None), K.BAD_VALUE),
        ("market_with_price", sub(order_type="market"), K.BAD_VALUE),
        ("limit_with_stop_price", sub(stop_price=1.0), K.BAD_VALUE),
        (
            "bool_as_string",
            frame(
                '{"type":"hello_ack","seq":1,"accepted":"true","reason":null,'
                '"protocol_version":1,"heartbeat_interval_ms":5000}'
            ),
            K.BAD_VALUE,
        ),
        ("count_negative", frame('{"type":"heartbeat","seq":1,"time_ns":-1}'), K.BAD_VALUE),
        ("list_not_list", frame(_body({**pos, "positions": {}})), K.BAD_VALUE),
        ("list_item_not_object", frame(_body({**pos, "positions": [1]})), K.BAD_VALUE),
        ("nested_value_bad", posi(quantity=1.5), K.BAD_VALUE),
        ("nested_int64_overflow", posi(quantity=2**63), K.BAD_VALUE),
        ("name_is_list", frame('{"type":"md_subscribe","seq":1,"instrument":["NQ 03-25"]}'), K.BAD_VALUE),
        ("list_item_bad", frame(_body({**hello, "accounts": ["A", ""]})), K.BAD_VALUE),
    ]


def _invalid_streams() -> list[tuple[str, bytes, FrameErrorKind, int]]:
    msgs = [m for _, m in stamped()]
    enc = [frames.encode_frame(m.model_copy(update={"seq": i})) for i, m in enumerate(msgs[:3], start=1)]
    gap = frames.encode_frame(msgs[3].model_copy(update={"seq": 5}))
    return [
        ("seq_gap", enc[0] + enc[1] + gap, K.BAD_SEQ, 2),
        ("seq_repeat", enc[0] + enc[0], K.BAD_SEQ, 1),
        ("seq_starts_at_2", enc[1], K.BAD_SEQ, 0),
        ("garbage_after_frames", enc[0] + enc[1] + b"HTTP/1.1 400", K.BAD_MAGIC, 2),
    ]


def _expect_error(data: bytes, kind: FrameErrorKind, *, stream: bool = False) -> BridgeProtocolError:
    try:
        if stream:
            frames.FrameDecoder().feed(data)
        else:
            frames.decode_frame(data)
    except BridgeProtocolError as exc:
        if exc.kind != kind:
            raise AssertionError(f"expected {kind}, got {exc}") from None
        return exc
    raise AssertionError(f"expected {kind}, decoded fine")


def build_vectors() -> dict[str, Any]:
    """Everything in vectors.json, recomputed from the models and checked against the Python decoder."""
    from nexus_protocol.bridge import message_fields, wire_schema

    frame_vectors: list[dict[str, Any]] = []
    for name, msg in stamped():
        data = frames.encode_frame(msg)
        assert frames.decode_frame(data) == msg, name
        entry = {"name": name, "type": msg.TYPE, "fields": message_fields(msg)}
        frame_vectors.append({**entry, "body": data[8:].decode("utf-8"), "hex": data.hex()})
    by_name = {v["name"]: v for v in frame_vectors}
    limit_like = {
        **by_name["order_submit_limit"]["fields"],
        "seq": 9,
        "client_order_id": "x/y",
        "side": "buy",
    }
    by_name["order_submit_limit_like"] = {"fields": limit_like}
    spellings = []
    for name, data, like in decode_only():
        fields = by_name[like]["fields"]
        got = frames.decode_frame(data)
        assert message_fields(got) == fields, (name, message_fields(got), fields)
        spellings.append({"name": name, "type": got.TYPE, "fields": fields, "hex": data.hex()})
    invalid = []
    for name, data, kind in _invalid():
        exc = _expect_error(data, kind)
        invalid.append({"name": name, "hex": data.hex(), "kind": str(kind), "field": exc.field})
    streams = []
    for name, data, kind, decoded in _invalid_streams():
        exc = _expect_error(data, kind, stream=True)
        assert len(exc.decoded) == decoded, name
        streams.append({"name": name, "hex": data.hex(), "kind": str(kind), "decoded": decoded})
    reads = []
    for text in NUMBER_READS:
        value = float(text)
        assert math.isfinite(value), text
        reads.append({"text": text, "bits": bits(value)})
    return {
        "protocol_version": PROTOCOL_VERSION,
        "about": "Bridge protocol test vectors (docs/bridge-protocol.md). Generated by "
        "`python tests/conformance/bridge/bridge_vectors.py`; every implementation must pass all of them. "
        "'frames' are canonical: encode(fields) == hex and decode(hex) == fields; their seq run 1..n, "
        "so their concatenation is a valid stream. 'decode_only' are valid non-canonical spellings. "
        "Float bits are IEEE-754 doubles, big-endian hex.",
        "header": {"magic": "4e58", "size": frames.HEADER_SIZE, "max_body_bytes": frames.MAX_BODY_BYTES},
        "schema": wire_schema(),
        "numbers": [{"bits": bits(x), "text": format_float(x)} for x in NUMBERS],
        "number_reads": reads,
        "frames": frame_vectors,
        "decode_only": spellings,
        "invalid": invalid,
        "invalid_streams": streams,
    }


def render() -> str:
    return json.dumps(build_vectors(), indent=1, ensure_ascii=False) + "\n"


def main() -> None:
    with resources.as_file(resources.files("nexus_protocol.bridge").joinpath("vectors.json")) as target:
        target.write_text(render(), encoding="utf-8")
    sys.stdout.write(f"wrote {target}\n")


if __name__ == "__main__":
    main()
