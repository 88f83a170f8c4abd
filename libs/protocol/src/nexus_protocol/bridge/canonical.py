"""Canonical JSON text: the exact bytes both ends write, and the strict reader both ends apply.

Why this exists: the bridge is specified by byte-exact test vectors that Python and C# must both
produce, so "whatever json.dumps writes" is not a specification. The rules (docs/bridge-protocol.md,
"Canonical JSON"):

* no whitespace; keys in the message's declared order; ``true``/``false``/``null``;
* strings: ``"`` ``\\`` and the control characters below U+0020 are escaped (``\\b \\f \\n \\r \\t``, others
  ``\\u00xx`` in lower-case hex); everything else, including non-ASCII, is written raw as UTF-8;
* integers: plain decimal;
* floats: the *shortest* decimal that reads back as the same double, and of those the closest to it
  (Python ``repr``, ECMAScript ``Number::toString``, Ryu), laid out like ECMAScript: plain notation when
  the decimal exponent E of the first digit is in -7 < E < 21, otherwise ``d[.ddd]e+E`` / ``d[.ddd]e-E``;
  ``-0.0`` is written ``0``; NaN and infinities cannot be encoded.

The reader accepts any valid JSON (any key order, whitespace) but refuses what JSON leaves ambiguous:
duplicate keys, ``NaN``/``Infinity``, number tokens longer than 64 characters, nesting deeper than 32.
"""

from __future__ import annotations

import json
import math
from typing import Any

from nexus_protocol.bridge.errors import BridgeProtocolError, FrameErrorKind

MAX_NUMBER_CHARS = 64
MAX_DEPTH = 32


def format_float(value: float) -> str:
    """Canonical text of a finite double (see the module docstring)."""
    if not math.isfinite(value):
        raise BridgeProtocolError(FrameErrorKind.BAD_VALUE, f"{value!r} is not a finite number")
    if value == 0.0:
        return "0"
    # repr is shortest-round-trip-closest; only its layout differs from ours.
    text = repr(abs(value))
    mantissa, _, exp_text = text.partition("e")
    exp = int(exp_text) if exp_text else 0
    int_part, _, frac = mantissa.partition(".")
    if int_part != "0":
        first_exp = len(int_part) - 1 + exp
        digits = int_part + frac
    else:
        stripped = frac.lstrip("0")
        first_exp = exp - (len(frac) - len(stripped)) - 1
        digits = stripped
    return ("-" if value < 0 else "") + layout_digits(digits.rstrip("0"), first_exp)


def layout_digits(digits: str, first_exp: int) -> str:
    """Lay out significant ``digits`` (no leading or trailing zeros); the first has exponent ``first_exp``."""
    n = len(digits)
    if -7 < first_exp < 21:
        if first_exp >= n - 1:
            return digits + "0" * (first_exp - n + 1)
        if first_exp >= 0:
            return f"{digits[: first_exp + 1]}.{digits[first_exp + 1 :]}"
        return "0." + "0" * (-first_exp - 1) + digits
    mantissa = digits[0] + ("." + digits[1:] if n > 1 else "")
    return f"{mantissa}e{'+' if first_exp > 0 else '-'}{abs(first_exp)}"


def format_string(value: str) -> str:
    """Canonical JSON string literal (identical to ``json.dumps(value, ensure_ascii=False)``)."""
    return json.dumps(value, ensure_ascii=False)


class _Refused(ValueError):
    """Raised inside json.loads hooks; turned into BAD_JSON."""


def _pairs(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    obj: dict[str, Any] = {}
    for key, value in pairs:
        if key in obj:
            raise _Refused(f"duplicate key {key!r}")
        obj[key] = value
    return obj


def _number(parse: type[int] | type[float]) -> Any:
    def hook(token: str) -> int | float:
        if len(token) > MAX_NUMBER_CHARS:
            raise _Refused(f"number token longer than {MAX_NUMBER_CHARS} characters")
        return parse(token)

    return hook


def _constant(token: str) -> Any:
    raise _Refused(f"{token} is not JSON")


def _depth(value: Any, level: int) -> None:
    if level > MAX_DEPTH:
        raise _Refused(f"nested deeper than {MAX_DEPTH} levels")
    if isinstance(value, dict):
        for item in value.values():
            _depth(item, level + 1)
    elif isinstance(value, list):
        for item in value:
            _depth(item, level + 1)


_DECODER = json.JSONDecoder(
    object_pairs_hook=_pairs, parse_int=_number(int), parse_float=_number(float), parse_constant=_constant
)


def parse_json(body: bytes) -> Any:
    """Strictly parse a UTF-8 JSON document; every refusal is a BAD_JSON :class:`BridgeProtocolError`."""
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise BridgeProtocolError(FrameErrorKind.BAD_JSON, f"body is not UTF-8 ({exc.reason})") from None
    try:
        value = _DECODER.decode(text)
        _depth(value, 1)
    except _Refused as exc:
        raise BridgeProtocolError(FrameErrorKind.BAD_JSON, str(exc)) from None
    except json.JSONDecodeError as exc:
        raise BridgeProtocolError(FrameErrorKind.BAD_JSON, f"{exc.msg} at offset {exc.pos}") from None
    except (ValueError, RecursionError):
        raise BridgeProtocolError(FrameErrorKind.BAD_JSON, "unparseable JSON") from None
    return value
