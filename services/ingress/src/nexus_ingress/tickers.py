"""What a caller's symbol names, pure: a universal root, a continuous future or a dated contract.

TradingView's `{{ticker}}` is `NQ1!` for the front continuous future (`NQ2!` the next one) and
`NQH2025` for a dated contract; `{{exchange}}:{{ticker}}` prefixes the exchange (`CME_MINI:NQ1!`).
The mesh trades roots (`NQ`, the registry's active contract), so:

- `NQ` (a registry root) is itself;
- `NQ1!` is the root's front contract, `NQ2!` the one after it (`Ticker.continuous`; the router
  resolves it with the rollover calendar);
- `NQH2025` / `NQH25` is that dated contract (`Ticker.contract` = `NQH25`).

Anything else is refused, naming the field, before it reaches the mesh.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from nexus_protocol.symbols import Contract, SymbolRegistry

_CONTINUOUS = re.compile(r"(?P<root>[A-Z][A-Z0-9]*?)(?P<n>[1-9])!")
_DATED = re.compile(r"(?P<root>[A-Z][A-Z0-9]*?)(?P<month>[FGHJKMNQUVXZ])(?P<year>\d{2}|\d{4})")
MAX_CONTINUOUS = 2  # the front contract and the next one: what a roll calendar can name


class TickerError(ValueError):
    """The symbol cannot be traded; the message says why in the caller's terms."""


@dataclass(frozen=True, slots=True)
class Ticker:
    root: str
    continuous: int | None = None  # 1: front contract, 2: the next one
    contract: str | None = None  # a dated contract code, NQH25


def parse_ticker(raw: str, registry: SymbolRegistry) -> Ticker:
    text = raw.strip().upper()
    if ":" in text:  # EXCHANGE:TICKER
        text = text.rsplit(":", 1)[1]
    if not text:
        raise TickerError("empty symbol")
    if text in registry.symbols:
        return Ticker(text)
    if m := _CONTINUOUS.fullmatch(text):
        root, n = m["root"], int(m["n"])
        _dated_root(root, raw, registry)
        if n > MAX_CONTINUOUS:
            raise TickerError(f"{raw!r}: continuous contracts go up to {root}{MAX_CONTINUOUS}!")
        return Ticker(root, continuous=n)
    if m := _DATED.fullmatch(text):
        root = m["root"]
        if root in registry.symbols:
            _dated_root(root, raw, registry)
            year = int(m["year"]) % 100
            return Ticker(root, contract=Contract.parse(f"{root}{m['month']}{year:02d}").code)
    known = ", ".join(sorted(registry.symbols))
    raise TickerError(f"{raw!r} is not a known root ({known}), continuous future (NQ1!) or contract")


def _dated_root(root: str, raw: str, registry: SymbolRegistry) -> None:
    spec = registry.symbols.get(root)
    if spec is None:
        raise TickerError(f"{raw!r}: {root} is not in the symbol registry")
    if spec.calendar == "none":
        raise TickerError(f"{raw!r}: {root} has no futures contracts")
