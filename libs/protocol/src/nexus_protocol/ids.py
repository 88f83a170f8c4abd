"""Identifiers: signal ids are ULIDs; every other id is derived, never random (docs/design.md, Identifiers).

A leg's client order id is `{signal_id}.{venue_code}{attempt}`: 26 + 1 + 2 + 1 = 30 characters, which
fits the MT5 order comment (31), the DTC ClientOrderID (32 with NUL) and the NinjaTrader order name.
Because it is derived, a redelivered or replayed signal yields the same ids and every dedupe catches it.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable

from ulid import ULID

from nexus_protocol.errors import DecodeError

SIGNAL_ID_LEN = 26
CLIENT_ORDER_ID_LEN = 30
_ATTEMPT_DIGITS = "0123456789abcdefghijklmnopqrstuvwxyz"
# A ULID is 128 bits in 26 Crockford base-32 digits, so its first digit is at most 7.
_ULID = r"[0-7][0-9A-HJKMNP-TV-Z]{25}"
_SIGNAL_ID = re.compile(_ULID)
_CROCKFORD = frozenset("0123456789ABCDEFGHJKMNPQRSTVWXYZ")
_VENUE_CODE = re.compile(r"[a-z0-9]{2}")
_COID = re.compile(rf"(?P<signal>{_ULID})\.(?P<venue>[a-z0-9]{{2}})(?P<attempt>[0-9a-z])")


def new_signal_id(timestamp_ns: int | None = None) -> str:
    if timestamp_ns is None:
        return str(ULID())
    # An int is taken as milliseconds; a float of seconds loses the last millisecond to rounding.
    return str(ULID.from_timestamp(timestamp_ns // 1_000_000))


def derived_signal_id(timestamp_ns: int, seed: str) -> str:
    """A ULID fixed by its inputs: for a signal that arrived without one (the router assigns it),
    so that a redelivery of the same entry gets the same id."""
    ms = (timestamp_ns // 1_000_000) & ((1 << 48) - 1)
    rand = hashlib.sha256(seed.encode()).digest()[:10]
    return str(ULID(ms.to_bytes(6, "big") + rand))


def keyed_signal_id(source: str, idempotency_key: str) -> str:
    """The signal id of a caller's idempotency key: a ULID made of the first 128 bits of
    sha256(source, key), so the same key from the same source is the same signal wherever and
    however often it arrives. Its time part carries no time (the envelope's `ts` does); see
    docs/decisions/0017-idempotency-keys-are-signal-ids.md."""
    digest = hashlib.sha256(f"{source}\n{idempotency_key}".encode()).digest()
    return str(ULID(digest[:16]))


def is_signal_id(value: str) -> bool:
    return _SIGNAL_ID.fullmatch(value) is not None


def signal_id_problem(value: object) -> str | None:
    """What makes `value` no signal id, in words for whoever sent it; None when it is one."""
    if isinstance(value, str) and _SIGNAL_ID.fullmatch(value):
        return None
    want = "a ULID: 26 characters of Crockford base 32 (0-9, A-Z without I, L, O, U), the first 0-7"
    if not isinstance(value, str):
        return f"signal id must be text, {want}"
    shown = repr(value[:40]) + ("..." if len(value) > 40 else "")
    if len(value) != SIGNAL_ID_LEN:
        return f"signal id {shown} has {len(value)} characters, want {want}"
    bad = sorted({c for c in value if c not in _CROCKFORD})
    if bad:
        return f"signal id {shown} holds {', '.join(map(repr, bad))}, want {want}"
    return f"signal id {shown} is not {want}"


def client_order_id(signal_id: str, venue_code: str, attempt: int = 0) -> str:
    return client_order_ids(signal_id, (venue_code,), attempt)[0]


def client_order_ids(signal_id: str, venue_codes: Iterable[str], attempt: int = 0) -> list[str]:
    """The client order id of one signal's leg at each venue (the signal id checked once)."""
    problem = signal_id_problem(signal_id)
    if problem is not None:
        raise DecodeError(problem, field="signal_id", value=signal_id)
    if not 0 <= attempt < len(_ATTEMPT_DIGITS):
        raise DecodeError("attempt out of range 0..35", field="attempt", value=attempt)
    digit = _ATTEMPT_DIGITS[attempt]
    out = []
    for code in venue_codes:
        if not _VENUE_CODE.fullmatch(code):
            reason = "venue code must be 2 lowercase letters or digits"
            raise DecodeError(reason, field="venue_code", value=code)
        out.append(f"{signal_id}.{code}{digit}")
    return out


def parse_client_order_id(coid: str) -> tuple[str, str, int]:
    """(signal_id, venue_code, attempt) of a client order id, or DecodeError."""
    m = _COID.fullmatch(coid)
    if m is None:
        raise DecodeError("not a client order id of the form {signal_id}.{venue}{attempt}", value=coid)
    return m["signal"], m["venue"], _ATTEMPT_DIGITS.index(m["attempt"])


def derived_id(*parts: str | int) -> str:
    """A deterministic id for anything synthesized from other ids (fills, events, executions)."""
    return ":".join(str(p) for p in parts)
