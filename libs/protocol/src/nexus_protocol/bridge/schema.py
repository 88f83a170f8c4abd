"""Wire kinds: the small type vocabulary every bridge field is declared in, shared with C#.

A field's Python annotation (one of the aliases below, an enum, a record model, a list of those,
optionally ``| None``) determines its *wire kind*, a short string such as ``coid``, ``?float`` or
``list:record:Position``. From the kind this module derives two things that must never drift apart:

* the canonical encoder for the field (see :mod:`canonical`), and
* the schema exported into ``vectors.json``; the C# ``Schema`` table is checked against that export by
  the C# test program, so the models here are the single definition of the protocol.

Kinds: ``string`` (any), ``name`` (non-empty), ``coid`` (client order id: 1-50 printable ASCII
characters, 0x21-0x7E -- NinjaTrader's order-name limit), ``int`` (int64), ``count`` (0..2^63-1),
``positive`` (1..2^31-1, a .NET ``int``), ``float`` (finite double), ``bool``, ``enum:<Name>``,
``record:<Name>``, ``list:<kind>``; a leading ``?`` allows ``null``. Strings must be valid Unicode
(no unpaired surrogates).
"""

from __future__ import annotations

import functools
import types
import typing
from collections.abc import Callable
from dataclasses import dataclass
from enum import Enum
from typing import Annotated, Any, Union

from pydantic import AfterValidator, AllowInfNan, BaseModel, Field, Strict

from nexus_protocol.bridge.canonical import format_float, format_string
from nexus_protocol.bridge.errors import BridgeProtocolError, FrameErrorKind

INT64_MIN = -(2**63)
INT64_MAX = 2**63 - 1
INT32_MAX = 2**31 - 1


@dataclass(frozen=True)
class WireKind:
    """Marker in ``Annotated`` metadata naming a scalar field's wire kind."""

    name: str


def _valid_unicode(value: str) -> str:
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise ValueError("string contains an unpaired surrogate") from None
    return value


String = Annotated[str, Strict(), AfterValidator(_valid_unicode), WireKind("string")]
Name = Annotated[str, Strict(), Field(min_length=1), AfterValidator(_valid_unicode), WireKind("name")]
ClientOrderId = Annotated[str, Strict(), Field(pattern=r"^[\x21-\x7e]{1,50}$"), WireKind("coid")]
Int64 = Annotated[int, Strict(), Field(ge=INT64_MIN, le=INT64_MAX), WireKind("int")]
Count = Annotated[int, Strict(), Field(ge=0, le=INT64_MAX), WireKind("count")]
Positive = Annotated[int, Strict(), Field(ge=1, le=INT32_MAX), WireKind("positive")]
Float = Annotated[float, Strict(), AllowInfNan(False), WireKind("float")]
Bool = Annotated[bool, Strict(), WireKind("bool")]


def wire_kind(annotation: Any, metadata: typing.Iterable[Any] = ()) -> str:
    """The wire kind of a field annotation (raises TypeError for anything outside the vocabulary)."""
    for item in metadata:
        if isinstance(item, WireKind):
            return item.name
    origin = typing.get_origin(annotation)
    if origin is Annotated:
        base, *extra = typing.get_args(annotation)
        return wire_kind(base, extra)
    if origin in (Union, types.UnionType):
        args = [arg for arg in typing.get_args(annotation) if arg is not type(None)]
        if len(args) != 1:
            raise TypeError(f"only `X | None` unions are allowed, not {annotation!r}")
        return "?" + wire_kind(args[0])
    if origin is list:
        return "list:" + wire_kind(typing.get_args(annotation)[0])
    if isinstance(annotation, type) and issubclass(annotation, Enum):
        return "enum:" + annotation.__name__
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return "record:" + record_name(annotation)
    raise TypeError(f"{annotation!r} has no wire kind")


def record_name(model: type[BaseModel]) -> str:
    """A record's name on the wire: its ``RECORD`` (the Python class may be named apart from it)."""
    name = getattr(model, "RECORD", None)
    if not isinstance(name, str):
        raise TypeError(f"record {model.__name__} declares no RECORD name")
    return name


def field_kinds(model: type[BaseModel]) -> list[tuple[str, str]]:
    """``(name, kind)`` for every field of ``model`` in declared (= wire) order."""
    return [(name, wire_kind(info.annotation, info.metadata)) for name, info in model.model_fields.items()]


Encoder = Callable[[Any], str]


def _encoder(kind: str) -> Encoder:
    if kind.startswith("?"):
        inner = _encoder(kind[1:])
        return lambda v: "null" if v is None else inner(v)
    if kind.startswith("list:"):
        item = _encoder(kind[5:])
        return lambda v: "[" + ",".join(item(x) for x in v) + "]"
    if kind.startswith("record:"):
        return encode_object
    if kind.startswith("enum:"):
        return lambda v: format_string(v.value)
    if kind in ("string", "name", "coid"):
        return format_string
    if kind in ("int", "count", "positive"):
        return lambda v: str(int(v))
    if kind == "float":
        return lambda v: format_float(float(v))
    if kind == "bool":
        return lambda v: "true" if v else "false"
    raise TypeError(f"unknown wire kind {kind!r}")


@functools.cache
def _plan(model: type[BaseModel]) -> tuple[tuple[str, str, Encoder], ...]:
    return tuple((f"{format_string(name)}:", name, _encoder(kind)) for name, kind in field_kinds(model))


def encode_object(value: BaseModel, head: str = "") -> str:
    """Canonical JSON object for a validated model; ``head`` is written first (the ``"type"`` member)."""
    parts = [head] if head else []
    parts.extend(prefix + encode(getattr(value, name)) for prefix, name, encode in _plan(type(value)))
    return "{" + ",".join(parts) + "}"


def record_fields(model: type[BaseModel]) -> list[tuple[str, type[BaseModel], bool]]:
    """``(name, record model, is_list)`` for the fields holding a record or a list of records."""
    out: list[tuple[str, type[BaseModel], bool]] = []
    for name, info in model.model_fields.items():
        annotation, is_list = info.annotation, False
        if typing.get_origin(annotation) is list:
            annotation, is_list = typing.get_args(annotation)[0], True
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            out.append((name, annotation, is_list))
    return out


def check_keys(model: type[BaseModel], obj: dict[str, Any], path: str = "") -> None:
    """Refuse absent and undeclared members, recursing into records, before any value is looked at.

    Order (the C# reader follows it too): the first declared field that is absent, then the first
    undeclared member in document order, then the records in declared order. A value of the wrong
    shape (not an object, not a list of objects) is left for value validation to refuse.
    """
    declared = model.model_fields
    for name in declared:
        if name not in obj:
            raise BridgeProtocolError(
                FrameErrorKind.MISSING_FIELD, f"field {path + name!r} is missing", field=path + name
            )
    for key in obj:
        if key not in declared:
            raise BridgeProtocolError(
                FrameErrorKind.UNKNOWN_FIELD, f"field {path + key!r} is not declared", field=path + key
            )
    for name, record, is_list in record_fields(model):
        value = obj[name]
        if not is_list and isinstance(value, dict):
            check_keys(record, value, f"{path}{name}.")
        elif is_list and isinstance(value, list):
            for index, item in enumerate(value):
                if isinstance(item, dict):
                    check_keys(record, item, f"{path}{name}[{index}].")
