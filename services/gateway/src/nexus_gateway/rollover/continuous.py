"""Continuous futures (`NQ1!`, `NQ2!`: TradingView's names) to dated contracts, pure.

`NQ1!` is the active contract: the one in nx:contracts (the rollover service's, so every leg of the
mesh agrees on it), else the calendar's for the day. `NQ2!` is the next listed contract after it,
by the root's contract calendar (docs/rollover.md). A signal carries the continuous name in its
`contract` field; the normalizer resolves it when it builds each venue's order, so a signal routed
across a roll date still gets the contract in force at that moment.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel

from nexus_gateway.rollover.calendar import RollRule, active_contract, next_contract
from nexus_protocol.symbols import Contract

_CONTINUOUS = re.compile(r"(?P<root>[A-Z][A-Z0-9]*?)(?P<n>[12])!")


def is_continuous(code: str | None) -> bool:
    return code is not None and _CONTINUOUS.fullmatch(code) is not None


def resolve(code: str, entry: Mapping[str, Any] | BaseModel, active: str | None, today: dt.date) -> Contract:
    """The dated contract `code` (`NQ1!`, `NQ2!`) stands for; `entry` is the root's registry entry,
    `active` the contracts hash's code for the root (None: the calendar decides)."""
    m = _CONTINUOUS.fullmatch(code)
    if m is None:
        raise ValueError(f"{code!r} is not a continuous contract (NQ1!, NQ2!)")
    rule = RollRule.from_registry(m["root"], entry)
    front = Contract.parse(active) if active else active_contract(rule, today)
    if front.root != rule.root:
        raise ValueError(f"the active contract {front.code} is not a {rule.root} contract")
    return front if m["n"] == "1" else next_contract(front, rule)
