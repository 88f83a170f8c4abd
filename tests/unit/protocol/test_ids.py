"""Identifiers: signal ids are ULIDs; client order ids are derived, 30 characters, and parse back."""

from __future__ import annotations

import contextlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from ulid import ULID

from nexus_protocol.errors import DecodeError
from nexus_protocol.ids import (
    CLIENT_ORDER_ID_LEN,
    SIGNAL_ID_LEN,
    client_order_id,
    derived_id,
    is_signal_id,
    new_signal_id,
    parse_client_order_id,
    signal_id_problem,
)

PROPS = settings(max_examples=150, deadline=None)
# Any millisecond a ULID can hold (48 bits), as nanoseconds.
NANOS = st.integers(min_value=0, max_value=(2**48 - 1) * 1_000_000 + 999_999)
VENUE_CODES = st.from_regex(r"[a-z0-9]{2}", fullmatch=True)
ATTEMPTS = st.integers(min_value=0, max_value=35)
SIGNAL_IDS = NANOS.map(new_signal_id)
GOOD_SIGNAL = "01JH0000000000000000000000"


@PROPS
@given(signal_id=SIGNAL_IDS, venue=VENUE_CODES, attempt=ATTEMPTS)
def test_client_order_id_is_30_chars_and_parses_back(signal_id: str, venue: str, attempt: int) -> None:
    coid = client_order_id(signal_id, venue, attempt)
    assert len(coid) == CLIENT_ORDER_ID_LEN == 30
    assert coid.startswith(f"{signal_id}.{venue}")
    assert coid.isascii()
    assert parse_client_order_id(coid) == (signal_id, venue, attempt)


def test_client_order_id_is_derived_not_random() -> None:
    assert client_order_id(GOOD_SIGNAL, "mt") == client_order_id(GOOD_SIGNAL, "mt", 0) == f"{GOOD_SIGNAL}.mt0"
    assert client_order_id(GOOD_SIGNAL, "n8", 10) == f"{GOOD_SIGNAL}.n8a"
    assert client_order_id(GOOD_SIGNAL, "n8", 35) == f"{GOOD_SIGNAL}.n8z"


@pytest.mark.parametrize(
    "signal_id",
    [
        "",
        GOOD_SIGNAL[:-1],  # 25
        GOOD_SIGNAL + "0",  # 27
        GOOD_SIGNAL.lower(),
        "01JH00000000000000000000I0",  # I, L, O, U are not Crockford digits
        "01JH00000000000000000000U0",
        "8" + GOOD_SIGNAL[1:],  # above 2**128: not a ULID
        "ZZZZZZZZZZZZZZZZZZZZZZZZZZ",
        GOOD_SIGNAL[:-1] + "\n",
        "01JH00000000000000000000-0",
    ],
)
def test_rejects_bad_signal_ids(signal_id: str) -> None:
    assert not is_signal_id(signal_id)
    with pytest.raises(DecodeError) as info:
        client_order_id(signal_id, "sm")
    assert info.value.field == "signal_id"


@pytest.mark.parametrize("venue", ["", "s", "smx", "SM", "s-", "s\n", "é1", "s "])
def test_rejects_bad_venue_codes(venue: str) -> None:
    with pytest.raises(DecodeError) as info:
        client_order_id(GOOD_SIGNAL, venue)
    assert info.value.field == "venue_code"


@pytest.mark.parametrize("attempt", [-1, 36, 1000])
def test_rejects_attempts_out_of_range(attempt: int) -> None:
    with pytest.raises(DecodeError) as info:
        client_order_id(GOOD_SIGNAL, "sm", attempt)
    assert info.value.field == "attempt"


@pytest.mark.parametrize(
    "coid",
    [
        "",
        GOOD_SIGNAL,
        f"{GOOD_SIGNAL}.sm",
        f"{GOOD_SIGNAL}.sm0\n",  # `$` would have let the newline through
        f"{GOOD_SIGNAL}.SM0",
        f"{GOOD_SIGNAL}-sm0",
        f"{GOOD_SIGNAL}.sm0x",
        f"x{GOOD_SIGNAL}.sm0",
        f"{GOOD_SIGNAL.lower()}.sm0",
    ],
)
def test_parse_rejects_what_client_order_id_never_builds(coid: str) -> None:
    with pytest.raises(DecodeError):
        parse_client_order_id(coid)


@PROPS
@given(
    text=st.text(max_size=40)
    | SIGNAL_IDS.map(lambda s: s + ".").flatmap(lambda p: st.text(max_size=4).map(lambda t: p + t))
)
def test_whatever_parses_is_exactly_what_client_order_id_builds(text: str) -> None:
    with contextlib.suppress(DecodeError):
        assert client_order_id(*parse_client_order_id(text)) == text


@PROPS
@given(ns=NANOS)
def test_new_signal_id_is_a_ulid_of_its_millisecond(ns: int) -> None:
    sid = new_signal_id(ns)
    assert len(sid) == SIGNAL_ID_LEN
    assert is_signal_id(sid)
    assert str(ULID.from_str(sid)) == sid
    assert ULID.from_str(sid).milliseconds == ns // 1_000_000  # not rounded up into the next one


def test_new_signal_id_keeps_the_millisecond_a_float_would_round_up() -> None:
    ns = 1_861_412_199_961_999_763  # as float seconds this is ...962 ms
    assert ULID.from_str(new_signal_id(ns)).milliseconds == 1_861_412_199_961


@PROPS
@given(a=NANOS, b=NANOS)
def test_signal_ids_sort_by_time(a: int, b: int) -> None:
    ms_a, ms_b = a // 1_000_000, b // 1_000_000
    id_a, id_b = new_signal_id(a), new_signal_id(b)
    if ms_a < ms_b:
        assert id_a < id_b
    elif ms_a > ms_b:
        assert id_a > id_b


def test_signal_ids_from_the_clock_are_increasing_and_unique() -> None:
    ids = [new_signal_id() for _ in range(2000)]  # many share a millisecond
    assert ids == sorted(ids)
    assert len(set(ids)) == len(ids)
    assert all(is_signal_id(i) for i in ids)


def test_derived_id_is_deterministic() -> None:
    assert derived_id("fill", "abc", 3) == "fill:abc:3" == derived_id("fill", "abc", 3)


def test_signal_id_problem_says_what_is_wrong() -> None:
    sid = new_signal_id()
    assert signal_id_problem(sid) is None
    assert "holds 'I', 'O'" in (signal_id_problem(sid[:-2] + "OI") or "")
    assert "has 27 characters" in (signal_id_problem(sid + "0") or "")
    assert "must be text" in (signal_id_problem(None) or "")
    assert "is not a ULID" in (signal_id_problem("8" + sid[1:]) or "")  # over 128 bits
