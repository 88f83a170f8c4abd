"""Dead letters (copied whole or by reference) and what a stage recovers from a bad entry to answer it."""

from __future__ import annotations

import msgspec

from nexus_mesh.deadletter import (
    REASON_CHARS,
    Rejected,
    dead_letter,
    entry_digest,
    entry_size,
    recovered_signal,
)
from nexus_protocol import Envelope, Names, Signal
from nexus_protocol.codec import encode
from nexus_protocol.enums import Side
from nexus_protocol.messages import DeadLetter

NAMES = Names("nx")
SID = "01JAAAAAAAAAAAAAAAAAAAAAAA"


def rejected(fields: dict[bytes, bytes], oversized: bool = False) -> Rejected:
    return Rejected("nx:{signals}", "1-0", fields, "invalid", None, oversized)


def signal_fields(**body: object) -> dict[bytes, bytes]:
    return {b"type": b"signal", b"v": b"1", b"id": b"hdr", b"trace": b"hdr", b"ts": b"1",
            b"data": msgspec.msgpack.encode(body)}  # fmt: skip


def test_a_small_entry_is_copied_whole_and_a_long_reason_cut() -> None:
    fields = {b"type": b"x", b"data": b"\x00\xff"}
    out = dead_letter(NAMES, "g", "c", "s", "1-0", fields, 1, "r" * 5000)
    body = out.envelope.body
    assert isinstance(body, DeadLetter) and out.stream == NAMES.dlq and out.envelope.id == "s/1-0/g"
    assert body.fields == {"type": b"x", "data": b"\x00\xff"} and body.size == 11 and body.sha256 == ""
    assert len(body.reason) < REASON_CHARS + 40 and body.reason.endswith("(4,000 more characters)")


def test_a_large_entry_is_dead_lettered_by_reference() -> None:
    fields = {b"type": b"signal", b"id": b"x" * 300, b"data": b"d" * 70_000}
    body = dead_letter(NAMES, "g", "c", "s", "1-0", fields, 1, "too big").envelope.body
    assert isinstance(body, DeadLetter)
    assert body.fields == {"type": b"signal"}  # short header fields only
    assert body.size == entry_size(fields) and body.sha256 == entry_digest(fields)


def test_the_digest_names_fields_and_values_apart() -> None:
    assert entry_digest({b"ab": b"c"}) != entry_digest({b"a": b"bc"})
    assert entry_digest({"a": "b"}) == entry_digest({b"a": b"b"})


def test_a_signal_is_recovered_from_its_body_even_with_a_malformed_id() -> None:
    bad = "01JAAAAAAAAAAAAAAAAAAAAAIL"  # letters a ULID never uses
    got = recovered_signal(rejected(signal_fields(signal_id=bad, symbol="NQ", side="sell", quantity=2)))
    assert got == Signal(signal_id=bad, symbol="NQ", side=Side.SELL, quantity=2.0)


def test_without_a_body_id_the_header_id_answers_and_unreadable_fields_read_as_nothing() -> None:
    got = recovered_signal(rejected(signal_fields(side="up", quantity=float("nan"), symbol=7)))
    assert got is not None and (got.signal_id, got.symbol, got.side, got.quantity) == (
        "hdr",
        "",
        Side.BUY,
        0.0,
    )


def test_a_garbage_body_or_an_oversized_entry_gives_only_the_header_id() -> None:
    fields = {**signal_fields(signal_id=SID), b"data": b"\xc1\xc1"}
    assert recovered_signal(rejected(fields)).signal_id == "hdr"  # type: ignore[union-attr]
    big = signal_fields(signal_id=SID, strategy="s" * 100)
    assert recovered_signal(rejected(big, oversized=True)).signal_id == "hdr"  # type: ignore[union-attr]


def test_no_plausible_id_no_answer() -> None:
    fields = {**signal_fields(signal_id="x" * 65), b"id": b"\x00\x01"}
    assert recovered_signal(rejected(fields)) is None
    assert recovered_signal(rejected({b"id": b"  "})) is None


def test_a_decoded_signal_the_handler_refused_is_recovered_as_it_is() -> None:
    sig = Signal(signal_id=SID, symbol="ES", side=Side.BUY, quantity=1.0, reference_price=5000.0)
    r = Rejected("s", "1-0", encode(Envelope.new(sig, id=SID)), "refused", Envelope.new(sig, id=SID))
    assert recovered_signal(r) == sig
