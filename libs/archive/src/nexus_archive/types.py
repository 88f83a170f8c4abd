"""Column types that mean the same on PostgreSQL and SQLite.

`Amount`: prices, quantities and money. PostgreSQL stores NUMERIC; SQLite has no decimal type, so it
stores the double the mesh sent (every amount travels as a msgpack float, so the double *is* the
exact value) and reads it back as the same Decimal (`Decimal(repr(x))`, the shortest repr).
`UtcTime`: TIMESTAMP WITH TIME ZONE on PostgreSQL; SQLite keeps naive UTC text; both return aware UTC.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from decimal import Decimal
from typing import Any

from sqlalchemy import DateTime, Float, Numeric
from sqlalchemy.engine import Dialect
from sqlalchemy.types import TypeDecorator, TypeEngine


def to_decimal(value: float | Decimal | int | None) -> Decimal | None:
    if value is None or isinstance(value, Decimal):
        return value
    return Decimal(repr(value)) if isinstance(value, float) else Decimal(value)


class Amount(TypeDecorator[Decimal]):
    impl = Numeric
    cache_ok = True

    def load_dialect_impl(self, dialect: Dialect) -> TypeEngine[Any]:
        if dialect.name == "sqlite":
            return dialect.type_descriptor(Float())
        return dialect.type_descriptor(Numeric())

    def process_bind_param(self, value: Any, dialect: Dialect) -> Any:
        if value is None:
            return None
        if dialect.name == "sqlite":
            return float(value)
        return to_decimal(value)

    def process_result_value(self, value: Any, dialect: Dialect) -> Decimal | None:
        return to_decimal(value)


class UtcTime(TypeDecorator[dt.datetime]):
    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: Any, dialect: Dialect) -> Any:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError(f"naive datetime {value!r}: the archive keeps aware UTC times")
        return value.astimezone(dt.UTC).replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: Any, dialect: Dialect) -> dt.datetime | None:
        return aware(value)


def aware(value: dt.datetime | None) -> dt.datetime | None:
    """In UTC, with its zone (a naive time is taken as UTC)."""
    if value is None:
        return None
    return value.replace(tzinfo=dt.UTC) if value.tzinfo is None else value.astimezone(dt.UTC)


_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)


def utc_from_ns(ns: int) -> dt.datetime:
    """Exact to the microsecond (integer arithmetic; a float of ns since 1970 is not)."""
    return _EPOCH + dt.timedelta(microseconds=ns // 1000)


def utc_from_ms(ms: int) -> dt.datetime:
    return _EPOCH + dt.timedelta(milliseconds=ms)


def ms_of(t: dt.datetime) -> int:
    return (t - _EPOCH) // dt.timedelta(milliseconds=1)


def _float(v: Any) -> float | None:
    return None if v is None else float(v)


def _sqlite_time(v: dt.datetime | None) -> str | None:
    """SQLAlchemy's SQLite DATETIME text, naive UTC, written directly (it is the hot path)."""
    if v is None:
        return None
    if v.tzinfo is None:
        raise ValueError(f"naive datetime {v!r}: the archive keeps aware UTC times")
    return v.astimezone(dt.UTC).replace(tzinfo=None).isoformat(sep=" ", timespec="microseconds")


def driver_value(type_: TypeEngine[Any], dialect: Dialect) -> Callable[[Any], Any] | None:
    """What turns a value of this column into what the driver takes (None: as it is). The archive's
    own types convert directly; others use SQLAlchemy's bind processor."""
    if isinstance(type_, Amount):
        return _float if dialect.name == "sqlite" else to_decimal
    if isinstance(type_, UtcTime):
        return _sqlite_time if dialect.name == "sqlite" else None
    processor: Callable[[Any], Any] | None = type_.dialect_impl(dialect).bind_processor(dialect)
    return processor
