"""How a DTC message dataclass maps onto the C struct of DTCProtocol.h, and the codec's errors.

Each message is a frozen dataclass (decorator `message`) whose fields are declared, in struct
order, with the helpers below (`i32("RequestID")`, `text("Symbol", 64)`, ...). Each helper records
the DTC field name (used verbatim as the JSON key) and its C type. `register` computes the layout the
way a C compiler does under the header's `#pragma pack(push, 8)`: every field at the next
multiple of its own size (char arrays at any byte), the struct size rounded up to its largest
member alignment. The `uint16 Size, uint16 Type` header is part of every struct.

Guarantee kept by `pack`/`unpack`: `pack` yields exactly the bytes a C compiler yields for the
struct (padding zeroed); `unpack` reads a frame whose `Size` may be smaller than the struct (an
older server) by giving every field that does not lie wholly inside `Size` its default, the value
the header's constructor sets (mostly zero, else the protocol's "unset" marker such as DBL_MAX),
and ignores bytes past the struct (a newer server).
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field, fields
from enum import IntEnum
from typing import Any, ClassVar, TypeVar, cast, dataclass_transform

from nexus_protocol.errors import DecodeError, NexusError
from nexus_sierra.dtc.enums import DtcIntEnum

# Primitive C types: struct code and size (= alignment under pack(8)).
_PRIMITIVES: dict[str, tuple[str, int]] = {
    "u8": ("B", 1),
    "i8": ("b", 1),
    "u16": ("H", 2),
    "i32": ("i", 4),
    "u32": ("I", 4),
    "i64": ("q", 8),
    "u64": ("Q", 8),
    "f32": ("f", 4),
    "f64": ("d", 8),
}
_INT_RANGES: dict[str, tuple[int, int]] = {
    "u8": (0, 0xFF),
    "i8": (-0x80, 0x7F),
    "u16": (0, 0xFFFF),
    "i32": (-0x8000_0000, 0x7FFF_FFFF),
    "u32": (0, 0xFFFF_FFFF),
    "i64": (-0x8000_0000_0000_0000, 0x7FFF_FFFF_FFFF_FFFF),
    "u64": (0, 0xFFFF_FFFF_FFFF_FFFF),
}
HEADER = struct.Struct("<HH")
PACK_ALIGNMENT = 8
_META = "dtc"


class DtcDecodeError(DecodeError):
    """Bytes that cannot be a DTC message: header too short, Size out of range, frame truncated,
    JSON that does not parse or has a field of the wrong type. Says what was wrong."""

    def __init__(
        self, reason: str, *, field: str | None = None, value: Any = None, message_type: int | None = None
    ) -> None:
        self.message_type = message_type
        super().__init__(reason, field=field, value=value)


class DtcEncodeError(NexusError, ValueError):
    """A message field holds a value its DTC field cannot carry (too long, out of range)."""

    def __init__(self, reason: str, *, field: str | None = None, value: Any = None) -> None:
        self.reason = reason
        self.field = field
        self.value = value
        super().__init__(f"{reason} (field {field!r})" if field else reason)


@dataclass(frozen=True, slots=True)
class FieldSpec:
    """One struct member: Python attribute, DTC name, C kind, byte size and offset in the frame."""

    name: str
    wire: str
    kind: str  # a key of _PRIMITIVES, or "char" for a fixed char array
    size: int
    offset: int
    enum: type[IntEnum] | None = None
    flag: bool = False  # a uint8 0/1 presented as bool

    default: Any = None  # the header constructor's value; also what a missing field reads as

    @property
    def end(self) -> int:
        return self.offset + self.size


@dataclass(frozen=True, slots=True)
class _Decl:
    wire: str
    kind: str
    size: int
    enum: type[IntEnum] | None = None
    flag: bool = False


@dataclass(frozen=True, slots=True)
class Layout:
    type_id: int
    size: int
    fields: tuple[FieldSpec, ...]
    codec: struct.Struct


@dataclass(frozen=True, slots=True, kw_only=True)
class DtcMessage:
    """Base of every message with a known layout. `TYPE` is the DTC message type number."""

    TYPE: ClassVar[int]


@dataclass(frozen=True, slots=True)
class UnknownMessage:
    """A message whose type this codec has no layout for; `payload` is everything after the
    4-byte header (binary) or the JSON object's bytes (JSON). Clients log and ignore it."""

    type: int
    payload: bytes


Message = DtcMessage | UnknownMessage

_M = TypeVar("_M", bound=type[DtcMessage])
_E = TypeVar("_E", bound=DtcIntEnum)
_REGISTRY: dict[int, type[DtcMessage]] = {}
_LAYOUTS: dict[type[DtcMessage], Layout] = {}


def _decl(
    wire: str,
    kind: str,
    default: Any,
    *,
    size: int = 0,
    enum: Any = None,
    flag: bool = False,
    repr_: bool = True,
) -> Any:
    if not size:
        size = _PRIMITIVES[kind][1]
    return field(default=default, repr=repr_, metadata={_META: _Decl(wire, kind, size, enum, flag)})


def u8(wire: str, default: int = 0) -> int:
    return cast(int, _decl(wire, "u8", default))


def i32(wire: str, default: int = 0) -> int:
    return cast(int, _decl(wire, "i32", default))


def u32(wire: str, default: int = 0) -> int:
    return cast(int, _decl(wire, "u32", default))


def i64(wire: str, default: int = 0) -> int:
    return cast(int, _decl(wire, "i64", default))


def u64(wire: str, default: int = 0) -> int:
    return cast(int, _decl(wire, "u64", default))


def f32(wire: str, default: float = 0.0) -> float:
    return cast(float, _decl(wire, "f32", default))


def f64(wire: str, default: float = 0.0) -> float:
    return cast(float, _decl(wire, "f64", default))


def flag(wire: str, default: bool = False) -> bool:
    """A uint8 that the protocol uses as a yes/no."""
    return cast(bool, _decl(wire, "u8", default, flag=True))


def text(wire: str, length: int, default: str = "", *, secret: bool = False) -> str:
    """A NUL-padded char[length]: at most length - 1 bytes of UTF-8."""
    return cast(str, _decl(wire, "char", default, size=length, repr_=not secret))


def enum(wire: str, enum_cls: type[_E], default: _E, *, kind: str = "i32") -> _E:
    return cast(_E, _decl(wire, kind, default, enum=enum_cls))


@dataclass_transform(kw_only_default=True, frozen_default=True)
def message(cls: _M) -> _M:
    """Class decorator of a DTC message: a frozen, slotted, keyword-only dataclass, registered by
    its TYPE with its binary layout computed once."""
    return register(cast(_M, dataclass(frozen=True, slots=True, kw_only=True)(cls)))


def register(cls: _M) -> _M:
    """Compute the layout of a message dataclass and index the class by its TYPE."""
    layout = _compute_layout(cls)
    if layout.type_id in _REGISTRY:
        raise TypeError(f"DTC type {layout.type_id} registered twice")
    _REGISTRY[layout.type_id] = cls
    _LAYOUTS[cls] = layout
    return cls


def _compute_layout(cls: type[DtcMessage]) -> Layout:
    fmt = ["<HH"]
    offset, max_align = HEADER.size, 2
    specs: list[FieldSpec] = []
    for f in fields(cls):
        d: _Decl = f.metadata[_META]
        if d.kind == "char":
            code, align = f"{d.size}s", 1
        else:
            code, align = _PRIMITIVES[d.kind][0], min(d.size, PACK_ALIGNMENT)
        pad = -offset % align
        if pad:
            fmt.append(f"{pad}x")
        offset += pad
        specs.append(FieldSpec(f.name, d.wire, d.kind, d.size, offset, d.enum, d.flag, f.default))
        fmt.append(code)
        offset += d.size
        max_align = max(max_align, align)
    tail = -offset % max_align
    if tail:
        fmt.append(f"{tail}x")
    return Layout(cls.TYPE, offset + tail, tuple(specs), struct.Struct("".join(fmt)))


def message_class(type_id: int) -> type[DtcMessage] | None:
    return _REGISTRY.get(type_id)


def message_classes() -> tuple[type[DtcMessage], ...]:
    return tuple(_REGISTRY.values())


def layout_of(cls: type[DtcMessage]) -> Layout:
    return _LAYOUTS[cls]


def check_value(spec: FieldSpec, value: Any) -> Any:
    """Validate one field value for the wire; return it in wire form (int, float, str)."""
    if spec.kind == "char":
        if not isinstance(value, str):
            raise DtcEncodeError("expected a str", field=spec.name, value=value)
        return value
    if spec.kind in ("f32", "f64"):
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise DtcEncodeError("expected a float", field=spec.name, value=value)
        if spec.kind == "f32":
            try:
                struct.pack("<f", value)
            except OverflowError:
                raise DtcEncodeError("outside the float32 range", field=spec.name, value=value) from None
        return float(value)
    if spec.flag:  # any uint8 reads as yes/no, as in the binary encoding
        if not isinstance(value, bool | int) or not 0 <= value <= 0xFF:
            raise DtcEncodeError("expected a bool", field=spec.name, value=value)
        return int(value)
    if isinstance(value, bool) or not isinstance(value, int):
        raise DtcEncodeError("expected an int", field=spec.name, value=value)
    low, high = _INT_RANGES[spec.kind]
    if not low <= value <= high:
        raise DtcEncodeError(f"outside the {spec.kind} range", field=spec.name, value=value)
    return int(value)


def from_wire(spec: FieldSpec, value: Any) -> Any:
    """Turn a validated wire value into the dataclass attribute value."""
    if spec.flag:
        return bool(value)
    if spec.enum is not None:
        return spec.enum(value)
    return value


def pack(msg: DtcMessage) -> bytes:
    layout = _LAYOUTS[type(msg)]
    values: list[Any] = [layout.size, layout.type_id]
    for spec in layout.fields:
        value = check_value(spec, getattr(msg, spec.name))
        if spec.kind == "char":
            try:
                raw = value.encode("utf-8")
            except UnicodeEncodeError:
                raise DtcEncodeError("not encodable as UTF-8", field=spec.name, value=value) from None
            if b"\0" in raw:
                raise DtcEncodeError("NUL inside a DTC string", field=spec.name, value=value)
            if len(raw) >= spec.size:
                raise DtcEncodeError(
                    f"{len(raw)} UTF-8 bytes do not fit char[{spec.size}] (max {spec.size - 1})",
                    field=spec.name,
                    value=value,
                )
            value = raw
        values.append(value)
    return layout.codec.pack(*values)


def unpack(cls: type[DtcMessage], frame: bytes | bytearray | memoryview, size: int) -> DtcMessage:
    """Decode one frame of a known type whose header says `size` bytes (4 <= size <= len(frame))."""
    layout = _LAYOUTS[cls]
    if size >= layout.size:
        raw_values = layout.codec.unpack_from(frame, 0)
    else:
        raw_values = layout.codec.unpack(bytes(frame[:size]) + bytes(layout.size - size))
    kwargs: dict[str, Any] = {}
    for spec, raw in zip(layout.fields, raw_values[2:], strict=True):
        if spec.end > size:
            continue  # not sent by an older server: keep the constructor default
        if spec.kind == "char":
            # The header's getters force a NUL into the last byte: at most size - 1 bytes count.
            kwargs[spec.name] = raw[: spec.size - 1].split(b"\0", 1)[0].decode("utf-8", "replace")
        else:
            kwargs[spec.name] = from_wire(spec, raw)
    return cls(**kwargs)
