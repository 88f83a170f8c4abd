"""How `nexusctl tail` shows an entry: decoded, or field by field with why; a dead letter with its
reason, origin and original entry (msgpack unpacked, other bytes as base64); one line of JSON that parses."""

from __future__ import annotations

import base64
import json

import msgpack

from nexus_ops.tail import as_json, as_text, render, safe_bytes
from nexus_protocol import Envelope, Side, Signal, encode
from nexus_protocol.messages import DeadLetter

SID = "01JGZ8Y5E3V7Q2M4N6P8R0S2T4"
SIGNAL = Envelope.new(
    Signal(signal_id=SID, symbol="NQ", side=Side.BUY, quantity=1.0, strategy="s" * 400), id=SID
)


def as_redis(fields: dict[str, str | bytes]) -> dict[bytes, bytes]:
    """Fields as redis-py returns them."""
    return {k.encode(): v if isinstance(v, bytes) else v.encode() for k, v in fields.items()}


def dead_letter(original: dict[str, bytes], reason: str) -> dict[bytes, bytes]:
    body = DeadLetter(
        reason=reason, stream="nx:{signals}", entry_id="1-0", group="router", consumer="router-1",
        deliveries=5, fields=original,
    )  # fmt: skip
    return as_redis(encode(Envelope.new(body, id="nx:{signals}/1-0/router")))


def test_a_message_is_its_header_and_body_on_one_line_of_json() -> None:
    row = render("nx:{signals}", b"5-0", as_redis(encode(SIGNAL)))
    line = as_json(row)
    assert "\n" not in line and len(line) > 400  # a long body stays one line
    back = json.loads(line)
    assert back["entry"] == "5-0" and back["stream"] == "nx:{signals}" and back["type"] == "signal"
    assert back["body"]["symbol"] == "NQ" and back["body"]["side"] == "buy" and back["id"] == SID
    assert as_text(row).startswith(f"5-0 signal {SID} {{")


def test_a_dead_letter_shows_reason_origin_and_the_original_decoded() -> None:
    original = {k: v if isinstance(v, bytes) else v.encode() for k, v in encode(SIGNAL).items()}
    row = json.loads(as_json(render("nx:{dlq}", "9-0", dead_letter(original, "handler failed 5 times"))))
    body = row["body"]
    assert body["reason"] == "handler failed 5 times" and body["stream"] == "nx:{signals}"
    assert body["entry_id"] == "1-0" and body["deliveries"] == 5 and "fields" not in body
    assert body["original"]["type"] == "signal" and body["original"]["body"]["symbol"] == "NQ"
    text = as_text(render("nx:{dlq}", "9-0", dead_letter(original, "handler failed 5 times")))
    assert text.startswith("9-0 dead_letter from nx:{signals} 1-0 (router/router-1, deliveries 5): ")
    assert f"handler failed 5 times | original: signal {SID} {{" in text


def test_an_undecodable_original_is_shown_field_by_field_binary_safely() -> None:
    garbage = b"\xff\xfe\x00garbage\x1b[31m"
    original = {"type": b"signal", "v": b"1", "id": SID.encode(), "trace": b"t", "ts": b"1", "data": garbage}
    row = json.loads(as_json(render("nx:{dlq}", "9-1", dead_letter(original, "invalid entry: not msgpack"))))
    was = row["body"]["original"]
    assert "not msgpack" in was["undecodable"] and was["fields"]["type"] == "signal"
    assert (
        base64.b64decode(was["fields"]["data"]["base64"]) == garbage and was["fields"]["data"]["bytes"] == 15
    )
    text = as_text(render("nx:{dlq}", "9-1", dead_letter(original, "invalid entry: not msgpack")))
    assert "\x1b" not in text and "\x00" not in text  # nothing reaches the terminal raw


def test_a_msgpack_body_that_fails_validation_is_unpacked_with_why() -> None:
    fields = {b"type": b"signal", b"v": b"1", b"id": b"x", b"trace": b"x", b"ts": b"1",
              b"data": msgpack.packb({"symbol": "NQ", "quantity": -5, "blob": b"\x00\x01"})}  # fmt: skip
    row = json.loads(as_json(render("nx:{signals}", "3-0", fields)))
    assert "invalid signal body" in row["undecodable"]
    assert row["fields"]["data"]["msgpack"]["quantity"] == -5
    assert row["fields"]["data"]["msgpack"]["blob"] == {"base64": "AAE=", "bytes": 2}


def test_bytes_are_text_only_when_printable_utf8() -> None:
    assert safe_bytes("São Paulo\ttab".encode()) == "São Paulo\ttab"
    assert safe_bytes(b"\x1b[2J") == {"base64": "G1sySg==", "bytes": 4}
    assert safe_bytes(b"\xc3") == {"base64": "ww==", "bytes": 1}


def test_a_dead_letter_by_reference_says_where_the_original_is_with_its_size_and_hash() -> None:
    body = DeadLetter(
        reason="entry of 1,048,700 bytes is over the limit", stream="nx:{signals}", entry_id="1-0",
        group="router", consumer="router-1", deliveries=1, fields={"type": b"signal", "id": b"x"},
        size=1_048_700, sha256="ab" * 32,
    )  # fmt: skip
    row = render("nx:{dlq}", "9-2", as_redis(encode(Envelope.new(body, id="d"))))
    was = json.loads(as_json(row))["body"]["original"]
    assert was["fields"] == {"type": "signal", "id": "x"} and "size" not in row["body"]
    assert was["by_reference"].startswith(f"1,048,700 bytes, sha256 {'ab' * 32}: not copied")
    assert "XRANGE nx:{signals} 1-0 1-0" in as_text(row)
