"""The stream-entry codec: every message round-trips through what Redis hands back, and whatever
arrives, decode raises DecodeError (never anything else) and says what was wrong.

The strategies are derived from the structs' own field declarations (`msgspec.structs.fields`), so
a field added to a message is generated without touching this file, and a field of a type nobody
taught `for_type` fails loudly. Values are what survives msgpack: finite floats, int64 integers, text
without surrogates.
"""

from __future__ import annotations

import contextlib
import enum
import re
import types
from typing import Annotated, Any, Union, get_args, get_origin

import msgpack
import msgspec
import pytest
from hypothesis import event, given, settings
from hypothesis import strategies as st

from nexus_protocol.codec import (
    HEADER_FIELDS,
    Envelope,
    InvalidMessage,
    decode,
    encode,
    pack,
    unpack,
    validated,
)
from nexus_protocol.enums import OrderStatus, Side
from nexus_protocol.errors import DecodeError
from nexus_protocol.messages import ALL_MESSAGES, Event, Execution, Leg, Message, Signal

INT64 = st.integers(min_value=-(2**63), max_value=2**63 - 1)
TEXT = st.text(st.characters(codec="utf-8"), max_size=12)
FINITE = st.floats(allow_nan=False, allow_infinity=False)
# What an `Any` field (Event.data, Heartbeat.detail) can carry through msgpack unchanged:
# lists, not tuples (msgpack has one array type), and str map keys.
ANY_VALUE: st.SearchStrategy[Any] = st.recursive(
    st.none() | st.booleans() | INT64 | FINITE | TEXT | st.binary(max_size=8),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(TEXT, inner, max_size=3),
    max_leaves=8,
)


def _floats(metadata: list[Any]) -> st.SearchStrategy[float]:
    kw: dict[str, Any] = {"allow_nan": False, "allow_infinity": False}
    for m in metadata:
        if m.gt is not None:
            kw |= {"min_value": m.gt, "exclude_min": True}
        if m.ge is not None:
            kw["min_value"] = m.ge
        if m.lt is not None:
            kw |= {"max_value": m.lt, "exclude_max": True}
        if m.le is not None:
            kw["max_value"] = m.le
    return st.floats(**kw)


def _ints(metadata: list[Any]) -> st.SearchStrategy[int]:
    lo, hi = -(2**63), 2**63 - 1
    for m in metadata:
        if m.gt is not None:
            lo = int(m.gt) + 1
        if m.ge is not None:
            lo = int(m.ge)
        if m.lt is not None:
            hi = int(m.lt) - 1
        if m.le is not None:
            hi = int(m.le)
    return st.integers(min_value=lo, max_value=hi)


def for_type(tp: Any, metadata: list[Any] | None = None) -> st.SearchStrategy[Any]:
    meta = metadata or []
    origin = get_origin(tp)
    if origin is Annotated:
        inner, *extra = get_args(tp)
        return for_type(inner, meta + [m for m in extra if isinstance(m, msgspec.Meta)])
    if origin in (Union, types.UnionType):
        return st.one_of(*(for_type(arg, meta) for arg in get_args(tp)))
    if tp is type(None):
        return st.none()
    if tp is Any:
        return ANY_VALUE
    if origin is tuple:
        item, ellipsis = get_args(tp)
        assert ellipsis is Ellipsis, tp
        return st.lists(for_type(item), max_size=3).map(tuple)
    if origin is dict:
        key, value = get_args(tp)
        return st.dictionaries(for_type(key), for_type(value), max_size=3)
    if isinstance(tp, type):
        if issubclass(tp, enum.Enum):
            return st.sampled_from(tp)
        if tp is bool:
            return st.booleans()
        if tp is int:
            return _ints(meta)
        if tp is float:
            return _floats(meta)
        if tp is str:
            return TEXT
        if tp is bytes:
            return st.binary(max_size=16)
        if issubclass(tp, msgspec.Struct):
            return model_strategy(tp)
    raise TypeError(f"no strategy for field type {tp!r}: teach tests/unit/protocol/strategies.py")


def model_strategy(model: type[msgspec.Struct]) -> st.SearchStrategy[Any]:
    """Instances of `model`: every required field, and each optional one sometimes left at its default."""
    required: dict[str, st.SearchStrategy[Any]] = {}
    optional: dict[str, st.SearchStrategy[Any]] = {}
    for info in msgspec.structs.fields(model):
        strategy = for_type(info.type)
        (required if info.required else optional)[info.name] = strategy
    return st.fixed_dictionaries(required, optional=optional).map(lambda kw: model(**kw))


MESSAGE_STRATEGIES: dict[type[Message], st.SearchStrategy[Any]] = {m: model_strategy(m) for m in ALL_MESSAGES}
any_message: st.SearchStrategy[Message] = st.one_of(*MESSAGE_STRATEGIES.values())


def envelopes(bodies: st.SearchStrategy[Message] = any_message) -> st.SearchStrategy[Envelope[Message]]:
    return st.builds(
        Envelope,
        id=st.text(st.characters(codec="utf-8"), min_size=1, max_size=40),
        trace=TEXT,
        ts=st.integers(min_value=-(2**63), max_value=2**64),
        body=bodies,
    )


def as_redis_returns(fields: dict[str, str | bytes]) -> dict[bytes, bytes]:
    """What XRANGE/XREADGROUP hand back for the fields we XADDed: bytes keys and bytes values."""
    return {k.encode(): v if isinstance(v, bytes) else v.encode() for k, v in fields.items()}


# --- round trips -------------------------------------------------------------------------------------

ROUND_TRIP = settings(max_examples=25, deadline=None)
FUZZ = settings(max_examples=200, deadline=None)


def test_every_message_kind_has_its_own_wire_type() -> None:
    kinds = [m.TYPE for m in ALL_MESSAGES]
    assert len(set(kinds)) == len(kinds)
    assert set(MESSAGE_STRATEGIES) == set(ALL_MESSAGES)


@pytest.mark.parametrize("model", ALL_MESSAGES, ids=lambda m: m.TYPE)
@ROUND_TRIP
@given(data=st.data())
def test_encode_decode_round_trip_through_redis_bytes(model: type[Message], data: st.DataObject) -> None:
    env = data.draw(envelopes(MESSAGE_STRATEGIES[model]))
    fields = encode(env)
    assert set(fields) == {*HEADER_FIELDS, "data"}
    assert all(isinstance(fields[h], str) for h in HEADER_FIELDS)  # readable with redis-cli XRANGE
    assert fields["type"] == model.TYPE
    back = decode(as_redis_returns(fields))
    assert back == env
    assert type(back.body) is model
    assert decode(fields) == env  # str keys and values, as a test or a script builds them


@ROUND_TRIP
@given(env=envelopes())
def test_encoding_is_canonical(env: Envelope[Message]) -> None:
    """Decoding and encoding again gives the same bytes, so a replayed entry is byte-identical."""
    fields = encode(env)
    back = decode(as_redis_returns(fields))
    fresh = Envelope(id=back.id, trace=back.trace, ts=back.ts, body=back.body)  # no cached bytes
    assert encode(fresh) == fields


@pytest.mark.parametrize("model", ALL_MESSAGES, ids=lambda m: m.TYPE)
@ROUND_TRIP
@given(data=st.data())
def test_pack_unpack_round_trip(model: type[Message], data: st.DataObject) -> None:
    body = data.draw(MESSAGE_STRATEGIES[model])
    back = unpack(pack(body))
    assert back == body
    assert type(back) is model


def test_envelope_new_derive_and_explicit_zero_time() -> None:
    body = Event(kind="k", source="s", message="m")
    env = Envelope.new(body, id="e1")
    assert env.trace == "e1"
    assert env.ts > 0
    assert Envelope.new(body, id="e1", ts=0).ts == 0  # an explicit origin time is kept, even 0
    child = env.derive(Event(kind="k2", source="s", message="m"), id="e2")
    assert (child.id, child.trace, child.ts) == ("e2", "e1", env.ts)
    assert env.type == "event"


# --- whatever arrives, DecodeError and only DecodeError -----------------------------------------------


def _decode_or_error(fields: Any) -> Envelope[Message] | DecodeError:
    """Decode, or return the DecodeError; any other exception fails the test."""
    try:
        env = decode(fields)
    except DecodeError as exc:
        error = exc
    else:
        event("decoded")  # pytest --hypothesis-show-statistics shows how far the inputs got
        return env
    assert str(error), "a DecodeError must say what was wrong"
    event(f"DecodeError field={error.field if error.field in _NAMES else 'body'}")
    return error


def _header(kind: str, v: str = "1") -> dict[bytes, bytes]:
    return {b"type": kind.encode(), b"v": v.encode(), b"id": b"m-1", b"trace": b"t-1", b"ts": b"1700000000"}


KINDS = st.sampled_from([m.TYPE for m in ALL_MESSAGES])


@FUZZ
@given(kind=KINDS, data=st.binary(max_size=64))
def test_valid_header_with_random_body_bytes(kind: str, data: bytes) -> None:
    _decode_or_error({**_header(kind), b"data": data})


@FUZZ
@given(data=st.binary(max_size=64))
def test_arbitrary_bytes_to_unpack(data: bytes) -> None:
    with contextlib.suppress(DecodeError):
        unpack(data)


_NAMES = [*HEADER_FIELDS, "data"]
_FIELD_KEYS = (
    st.sampled_from(_NAMES).flatmap(lambda n: st.sampled_from([n, n.encode()])) | TEXT | st.binary(max_size=8)
)
_FIELD_VALUES = (
    st.none()
    | st.binary(max_size=24)
    | TEXT
    | INT64
    | FINITE
    | st.lists(INT64, max_size=2)
    | KINDS.map(str.encode)
    | st.sampled_from([b"1", b"99", b"-1", b"", b"\xff"])
)


@FUZZ
@given(fields=st.dictionaries(_FIELD_KEYS, _FIELD_VALUES, max_size=8))
def test_arbitrary_maps_of_fields(fields: dict[Any, Any]) -> None:
    _decode_or_error(fields)


def _model_keys(kind: str) -> st.SearchStrategy[str]:
    model = next(m for m in ALL_MESSAGES if kind == m.TYPE)
    return st.sampled_from(sorted(model.__struct_fields__)) | TEXT


@settings(max_examples=100, deadline=None)
@given(data=st.data(), kind=KINDS)
def test_valid_header_with_random_msgpack_map(data: st.DataObject, kind: str) -> None:
    """A well-formed msgpack map with the model's own keys and random values: decoded or refused."""
    body = data.draw(st.dictionaries(_model_keys(kind), ANY_VALUE, max_size=8))
    _decode_or_error({**_header(kind), b"data": msgpack.packb(body, use_bin_type=True)})


_MUTATIONS = st.sampled_from(["drop", "replace", "truncate", "flip", "append"])


@FUZZ
@given(
    env=envelopes(),
    how=_MUTATIONS,
    which=st.sampled_from(_NAMES),
    noise=st.binary(min_size=1, max_size=8),
    at=st.integers(min_value=0),
)
def test_mutated_entries(env: Envelope[Message], how: str, which: str, noise: bytes, at: int) -> None:
    fields: dict[bytes, bytes] = as_redis_returns(encode(env))
    k = which.encode()
    value = fields[k]
    if how == "drop":
        del fields[k]
    elif how == "replace":
        fields[k] = noise
    elif how == "truncate":
        fields[k] = value[: at % (len(value) + 1)]
    elif how == "flip" and value:
        i = at % len(value)
        fields[k] = value[:i] + bytes([value[i] ^ noise[0]]) + value[i + 1 :]
    else:
        fields[k] = value + noise
    _decode_or_error(fields)


# --- and the DecodeError says what was wrong ----------------------------------------------------------


def _good(body: Message | None = None) -> dict[bytes, bytes]:
    body = body or Signal(symbol="NQ", side=Side.BUY, quantity=1)
    return as_redis_returns(encode(Envelope.new(body, id="m-1", ts=1)))


def _error(fields: Any, validate: bool = False) -> DecodeError:
    with pytest.raises(DecodeError) as info:
        decode(fields, validate=validate)
    return info.value


@pytest.mark.parametrize("name", _NAMES)
def test_missing_field_is_named(name: str) -> None:
    fields = _good()
    del fields[name.encode()]
    err = _error(fields)
    assert err.field == name
    assert "missing" in str(err)


def test_unknown_type() -> None:
    err = _error({**_good(), b"type": b"nope"})
    assert err.field == "type"
    assert "unknown message type 'nope'" in str(err)


def test_unknown_version_names_the_known_ones() -> None:
    err = _error({**_good(), b"v": b"99"})
    assert err.field == "v"
    assert "unknown schema version 99 of 'signal'" in str(err)
    assert "known: 1" in str(err)


@pytest.mark.parametrize(
    ("name", "value", "words"),
    [
        ("v", b"one", "schema version is not an integer"),
        ("ts", b"yesterday", "origin time is not integer nanoseconds"),
        ("id", b"", "empty message id"),
        ("trace", b"\xff\xfe", "not UTF-8"),
    ],
)
def test_bad_header_value(name: str, value: bytes, words: str) -> None:
    err = _error({**_good(), name.encode(): value})
    assert err.field == name
    assert words in str(err)


@pytest.mark.parametrize(
    ("data", "words"),
    [
        (b"\xc1", "body is not msgpack"),  # 0xc1 is never used by msgpack
        (b"\x92\x01", "body is not msgpack"),  # truncated array
        (msgpack.packb({"symbol": "NQ"}) + b"\x00", "body is not msgpack"),  # trailing bytes
        (msgpack.packb([1, 2]), "body is a msgpack list, not a map"),
    ],
)
def test_body_that_is_not_a_msgpack_map(data: bytes, words: str) -> None:
    err = _error({**_good(), b"data": data})
    assert err.field == "data"
    assert words in str(err)


def test_body_given_as_text_is_refused() -> None:
    err = _error({**_good(), b"data": "not bytes"})
    assert err.field == "data"


@pytest.mark.parametrize(
    ("body", "field", "words"),
    [
        ({"symbol": "NQ", "side": "buy", "quantity": -1}, "quantity", "> 0"),
        ({"symbol": "NQ", "side": "hold", "quantity": 1}, "side", "Invalid enum value"),
        ({"side": "buy", "quantity": 1}, "symbol", "missing required field"),
        ({"symbol": "NQ", "side": "buy", "quantity": 1, "colour": "red"}, "colour", "unknown field"),
        ({"symbol": "NQ", "side": "buy", "quantity": float("inf")}, "quantity", "finite number"),
        (
            {"symbol": "NQ", "side": "buy", "quantity": 1, "limit_price": float("nan")},
            "limit_price",
            "finite number",
        ),
    ],
)
def test_invalid_body_names_the_field(body: dict[str, Any], field: str, words: str) -> None:
    """At the edge (validate=True, as the bridge intake and the router's signal input decode)."""
    err = _error({**_good(), b"data": msgpack.packb(body)}, validate=True)
    assert err.field == field
    assert "signal" in str(err)
    assert words in str(err)


@pytest.mark.parametrize(
    ("body", "field", "words"),
    [
        ({"strategy": "x" * 1_000_000}, "strategy", "1,000,000 characters, over the limit of 128"),
        ({"signal_id": "0" * 65}, "signal_id", "65 characters, over the limit of 64"),
        ({"venues": ["sim"] * 65}, "venues", "65 items, over the limit of 64"),
        ({"venues": ["v" * 65]}, "venues.0", "over the limit of 64"),
        ({"contract": "x" * 100}, "contract", "over the limit of 64"),
    ],
)
def test_text_over_its_limit_is_refused_at_the_edge(body: dict[str, Any], field: str, words: str) -> None:
    data = msgpack.packb({"symbol": "NQ", "side": "buy", "quantity": 1, **body})
    err = _error({**_good(), b"data": data}, validate=True)
    assert err.field == field and words in str(err)
    assert isinstance(decode({**_good(), b"data": data}).body, Signal)  # between stages: the schema only
    with pytest.raises(InvalidMessage, match=re.escape(words)):
        validated(msgspec.convert({"symbol": "NQ", "side": "buy", "quantity": 1, **body}, Signal))


def test_a_reason_may_be_long_but_not_unbounded() -> None:
    ok = Event(kind="k", source="s", message="m" * 2000)
    assert validated(ok) == ok
    with pytest.raises(InvalidMessage, match="message is 2,001 characters"):
        validated(ok.replace(message="m" * 2001))


def test_inside_the_mesh_a_non_finite_number_is_not_checked_again() -> None:
    """Between stages only the schema is checked (decision 0008); the edges refuse NaN and infinity."""
    body = {"symbol": "NQ", "side": "buy", "quantity": 1, "limit_price": float("nan")}
    env = decode({**_good(), b"data": msgpack.packb(body)})
    assert isinstance(env.body, Signal) and env.body.limit_price != env.body.limit_price


def test_invalid_nested_body_names_the_path() -> None:
    leg = {"venue": "sim", "client_order_id": "x", "status": "lost"}
    body = {"signal_id": "s", "symbol": "NQ", "side": "buy", "quantity": 1, "status": "filled", "legs": [leg]}
    fields = _good(
        Execution(
            signal_id="s",
            symbol="NQ",
            side=Side.BUY,
            quantity=1,
            status=OrderStatus.FILLED,
            legs=(Leg(venue="sim", client_order_id="x", status=OrderStatus.FILLED),),
        )
    )
    err = _error({**fields, b"data": msgpack.packb(body)})
    assert err.field == "legs.0.status"
    assert "invalid execution body" in str(err)


def test_entry_that_is_not_a_map() -> None:
    assert "not a map of fields" in str(_error([(b"type", b"signal")]))


@pytest.mark.parametrize(
    ("packed", "words"),
    [
        (b"\xc1", "not msgpack"),
        (msgpack.packb([1]), "not a packed message"),
        (msgpack.packb({"type": "nope", "v": 1, "data": {}}), "unknown message type 'nope'"),
        (msgpack.packb({"type": "event", "v": 99, "data": {}}), "known: 1"),
        (msgpack.packb({"type": "event", "v": 1.0, "data": {}}), "unknown schema version"),
        (msgpack.packb({"type": "event", "v": 1, "data": {"kind": "k"}}), "invalid packed event body"),
    ],
)
def test_unpack_says_what_was_wrong(packed: bytes, words: str) -> None:
    with pytest.raises(DecodeError, match=re.escape(words)):
        unpack(packed)
