"""Symbology: universal roots, dated contracts and each venue's spelling of them.

The registry (`deploy/config/symbols.yaml`) gives per root its exchange, currency, tick size, point
value, contract calendar and roll rule, and per venue a symbol pattern and the quantity factor that
makes one venue unit the same exposure. Patterns use `{root}`, `{month_code}` (F..Z), `{yy}`, `{y}`,
`{yyyy}`, `{mm}`; a pattern without placeholders names a fixed instrument (a CFD such as NAS100).

    NQ + NQH25 -> "NQ 03-25" (pattern "{root} {mm}-{yy}"), "NQH25" ("{root}{month_code}{yy}")
"""

from __future__ import annotations

import datetime as dt
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cached_property
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from nexus_protocol.errors import ConfigError, DecodeError

MONTH_CODES = "FGHJKMNQUVXZ"  # January .. December
_CODE = re.compile(r"(?P<root>[A-Z0-9]+?)(?P<m>[FGHJKMNQUVXZ])(?P<yy>[0-9]{2})")  # fullmatch
_PLACEHOLDERS = {
    "{root}": None,
    "{month_code}": "(?P<m>[FGHJKMNQUVXZ])",
    "{yyyy}": r"(?P<yyyy>[0-9]{4})",
    "{yy}": r"(?P<yy>[0-9]{2})",
    "{mm}": r"(?P<mm>[0-9]{2})",
    "{y}": r"(?P<y>[0-9])",
}
_MONTH_TOKENS = ("{month_code}", "{mm}")
_YEAR_TOKENS = ("{yyyy}", "{yy}", "{y}")
_TOKEN = re.compile("|".join(re.escape(p) for p in sorted(_PLACEHOLDERS, key=len, reverse=True)))
CalendarKind = Literal["cme_quarterly", "b3_even_month", "b3_monthly", "none"]


@dataclass(frozen=True, slots=True, order=True)
class Contract:
    """A dated futures contract: root, year and month. `code` is the CME-style `NQH25`."""

    root: str
    year: int
    month: int

    def __post_init__(self) -> None:
        if not 1 <= self.month <= 12:
            raise DecodeError("contract month out of 1..12", field="month", value=self.month)

    @property
    def month_code(self) -> str:
        return MONTH_CODES[self.month - 1]

    @property
    def code(self) -> str:
        return f"{self.root}{self.month_code}{self.year % 100:02d}"

    @classmethod
    def parse(cls, code: str, *, century: int = 2000) -> Contract:
        m = _CODE.fullmatch(code)
        if m is None:
            raise DecodeError("not a contract code like NQH25", value=code)
        return cls(m["root"], century + int(m["yy"]), MONTH_CODES.index(m["m"]) + 1)

    def __str__(self) -> str:
        return self.code


class VenueSymbol(BaseModel):
    """How one venue spells and sizes a root."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    pattern: str
    qty_factor: float | None = Field(default=None, gt=0)  # venue units per universal unit
    point_value: float | None = Field(default=None, gt=0)  # venue currency per point per venue unit
    currency: str | None = None
    lot_step: float = Field(default=1.0, gt=0)
    min_qty: float | None = Field(default=None, gt=0)

    @property
    def dated(self) -> bool:
        return any(p in self.pattern for p in _PLACEHOLDERS if p != "{root}")


class RootSpec(BaseModel):
    """One universal symbol (a root) and its venues."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    exchange: str
    currency: str
    tick_size: float = Field(gt=0)
    point_value: float = Field(gt=0)
    calendar: CalendarKind = "none"
    exchange_calendar: str | None = None
    roll_business_days_before: int = Field(default=0, ge=0)
    venues: dict[str, VenueSymbol] = Field(default_factory=dict)

    def qty_factor(self, venue: str) -> float:
        v = self.venues[venue]
        if v.qty_factor is not None:
            return v.qty_factor
        if v.point_value is not None:
            return self.point_value / v.point_value
        return 1.0

    def venue_point_value(self, venue: str) -> float:
        v = self.venues[venue]
        return v.point_value if v.point_value is not None else self.point_value / self.qty_factor(venue)

    def venue_currency(self, venue: str) -> str:
        return self.venues[venue].currency or self.currency


@dataclass(frozen=True, slots=True)
class Sizing:
    venue_quantity: float
    residual: float  # universal units not carried by the venue quantity


def round_to_step(quantity: float, step: float) -> float:
    """Down to the step (never more exposure than asked), with float noise removed."""
    steps = math.floor(quantity / step + 1e-9)
    decimals = max(0, -math.floor(math.log10(step))) if step < 1 else 0
    return round(steps * step, decimals + 2)


_GROUP = re.compile(r"[a-z][a-z0-9_-]{0,23}")
# Words that already follow a partitioned stream's name (`fills:raw`): a group may not be one.
RESERVED_GROUPS = frozenset({"raw", "normalized", "routed", "seen"})


def partition_name_problem(group: str) -> str | None:
    if not _GROUP.fullmatch(group):
        return "a group name is lowercase letters, digits, '_' or '-', at most 24, starting with a letter"
    if group in RESERVED_GROUPS:
        return f"{group!r} is a word the stream names use already ({', '.join(sorted(RESERVED_GROUPS))})"
    return None


class SymbolRegistry(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    symbols: dict[str, RootSpec]
    # Symbol groups whose path streams are partitioned apart (nexus_protocol.partitions): group name ->
    # its roots. A root in no group stays in the default partition; none at all: one partition.
    partitions: dict[str, tuple[str, ...]] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _check_partitions(self) -> SymbolRegistry:
        seen: dict[str, str] = {}
        for group, roots in self.partitions.items():
            problem = partition_name_problem(group)
            if problem:
                raise ValueError(f"partitions.{group}: {problem}")
            for root in roots:
                if root not in self.symbols:
                    raise ValueError(f"partitions.{group}: unknown root {root!r}")
                if root in seen:
                    raise ValueError(f"partitions.{group}: {root} is in group {seen[root]!r} already")
                seen[root] = group
        return self

    @model_validator(mode="after")
    def _check_patterns(self) -> SymbolRegistry:
        for root, spec in self.symbols.items():
            for venue, vs in spec.venues.items():
                where = f"symbols.{root}.venues.{venue}.pattern"
                problem = _pattern_problem(vs.pattern)
                if problem:
                    raise ValueError(f"{where} {vs.pattern!r}: {problem}")
                if vs.dated and spec.calendar == "none":
                    raise ValueError(f"{where} is dated but {root} has no calendar")
        return self

    @classmethod
    def from_yaml(cls, text: str, *, source: str = "symbols.yaml") -> SymbolRegistry:
        try:
            raw: Any = yaml.safe_load(text)
        except yaml.YAMLError as exc:
            raise ConfigError(f"{source}: not valid YAML: {exc}") from None
        try:
            return cls.model_validate(raw)
        except ValidationError as exc:
            first = exc.errors()[0]
            where = ".".join(str(p) for p in first["loc"])
            msg = first["msg"].removeprefix("Value error, ")  # the pattern check names its own path
            raise ConfigError(f"{source}: {where}: {msg}" if where else f"{source}: {msg}") from None

    def spec(self, root: str) -> RootSpec:
        try:
            return self.symbols[root]
        except KeyError:
            raise DecodeError(f"unknown symbol {root!r}", field="symbol", value=root) from None

    def venue_spec(self, root: str, venue: str) -> VenueSymbol:
        spec = self.spec(root)
        try:
            return spec.venues[venue]
        except KeyError:
            reason = f"{root} is not traded on venue {venue!r}"
            raise DecodeError(reason, field="venue", value=venue) from None

    def roots_for(self, venue: str) -> list[str]:
        return [r for r, s in self.symbols.items() if venue in s.venues]

    def venue_symbol(self, root: str, venue: str, contract: Contract | None = None) -> str:
        vs = self.venue_spec(root, venue)
        if vs.dated and contract is None:
            raise DecodeError(f"{root} on {venue} needs an active contract", field="contract")
        if contract is not None and contract.root != root:
            reason = f"contract {contract} is not a {root} contract"
            raise DecodeError(reason, field="contract", value=contract)
        values = {"{root}": root}
        if contract is not None:
            values |= {
                "{month_code}": contract.month_code,
                "{yyyy}": f"{contract.year:04d}",
                "{yy}": f"{contract.year % 100:02d}",
                "{mm}": f"{contract.month:02d}",
                "{y}": str(contract.year % 10),
            }
        return _TOKEN.sub(lambda m: values[m.group(0)], vs.pattern)

    def active_symbols(self, venue: str, active: Mapping[str, str]) -> tuple[list[str], list[str]]:
        """What a venue's market data should cover: each root it trades, spelled for it, a dated root
        in its active contract (`active`: root -> code, the rollover service's `nx:contracts`). Also
        the dated roots that have no active contract yet (ask again once the rollover has published)."""
        symbols: list[str] = []
        waiting: list[str] = []
        for root in self.roots_for(venue):
            if not self.venue_spec(root, venue).dated:
                symbols.append(self.venue_symbol(root, venue))
            elif root in active:
                symbols.append(self.venue_symbol(root, venue, Contract.parse(active[root])))
            else:
                waiting.append(root)
        return symbols, waiting

    def size(self, root: str, venue: str, quantity: float) -> Sizing:
        spec = self.spec(root)
        vs = self.venue_spec(root, venue)
        factor = spec.qty_factor(venue)
        venue_qty = round_to_step(quantity * factor, vs.lot_step)
        return Sizing(venue_quantity=venue_qty, residual=round(quantity - venue_qty / factor, 12))

    @cached_property
    def _matchers(self) -> list[tuple[str, str, re.Pattern[str]]]:
        out = []
        for root, spec in self.symbols.items():
            for venue, vs in spec.venues.items():
                body = _pattern_regex(vs.pattern, root)
                out.append((root, venue, re.compile(body)))
        return out

    def parse(
        self, venue_symbol: str, venue: str | None = None, *, today: dt.date | None = None
    ) -> tuple[str, Contract | None]:
        """A venue symbol back to (root, contract or None); `normalize` keeps only the root."""
        for root, v, rx in self._matchers:
            if venue is not None and v != venue:
                continue
            m = rx.fullmatch(venue_symbol)
            if m is None:
                continue
            groups = m.groupdict()
            if not groups:
                return root, None
            return root, _contract_from(root, groups, today or dt.date.today())
        where = f" on venue {venue!r}" if venue else ""
        raise DecodeError(f"unknown venue symbol {venue_symbol!r}{where}", field="symbol", value=venue_symbol)

    def normalize(self, venue_symbol: str, venue: str | None = None) -> str:
        return self.parse(venue_symbol, venue)[0]


def _pattern_problem(pattern: str) -> str | None:
    """Why a venue pattern could not be both rendered and parsed back, or None."""
    tokens = _TOKEN.findall(pattern)
    literal = _TOKEN.sub("", pattern)
    if "{" in literal or "}" in literal:
        return f"unknown placeholder; known: {', '.join(_PLACEHOLDERS)}"
    if len(tokens) != len(set(tokens)):
        return "a placeholder appears twice"
    months = sum(t in _MONTH_TOKENS for t in tokens)
    years = sum(t in _YEAR_TOKENS for t in tokens)
    if (months, years) not in ((0, 0), (1, 1)):
        return "a dated pattern needs exactly one month and one year placeholder"
    return None


def _pattern_regex(pattern: str, root: str) -> str:
    pieces: list[str] = []
    pos = 0
    for m in _TOKEN.finditer(pattern):
        pieces.append(re.escape(pattern[pos : m.start()]))
        pieces.append(_PLACEHOLDERS[m.group(0)] or re.escape(root))
        pos = m.end()
    pieces.append(re.escape(pattern[pos:]))
    return "".join(pieces)


def _contract_from(root: str, g: dict[str, str], today: dt.date) -> Contract:
    month = MONTH_CODES.index(g["m"]) + 1 if g.get("m") else int(g["mm"])
    if g.get("yyyy"):
        year = int(g["yyyy"])
    elif g.get("yy"):
        year = 2000 + int(g["yy"])
    else:  # one digit: the year ending in it within [today - 2, today + 7], whatever the decade
        earliest = today.year - 2
        year = earliest + (int(g["y"]) - earliest) % 10
    return Contract(root, year, month)
