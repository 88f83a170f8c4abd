"""Pure translation between universal and venue terms (no Redis): symbols, contracts, quantities.

NQ + NQH25 active -> "NQ 03-25" on nt8, "NQH25" on sierra, "NAS100" on mt5-global (x20 lots)

The registry's answers for one (root, venue, contract) never change while the process runs, so each
is worked out once and kept (`_legs`, `_venue_symbols`): the hot path is a dict lookup, arithmetic
for the quantity, and one struct built.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import msgspec

from nexus_gateway.rollover.continuous import is_continuous, resolve
from nexus_protocol.errors import ConfigError, DecodeError, Refused
from nexus_protocol.messages import Fill, Order, Tick, VenueOrder
from nexus_protocol.symbols import Contract, SymbolRegistry, round_to_step


@dataclass(frozen=True, slots=True)
class VenueLeg:
    """What a (root, venue, contract) is at the venue."""

    venue_symbol: str
    contract: str | None
    qty_factor: float
    lot_step: float
    min_qty: float
    currency: str
    point_value: float


@dataclass(frozen=True, slots=True)
class VenueInstrument:
    """What a venue symbol is in universal terms."""

    root: str
    contract: str | None
    qty_factor: float
    point_value: float
    currency: str
    same_instrument: bool  # the venue trades the universal instrument itself (no basis)


class Translator:
    def __init__(self, registry: SymbolRegistry) -> None:
        self.registry = registry
        self._legs: dict[tuple[str, str, str | None], VenueLeg] = {}
        self._venue_symbols: dict[tuple[str, str], VenueInstrument] = {}

    def leg(self, root: str, venue: str, contract_code: str | None) -> VenueLeg:
        key = (root, venue, contract_code)
        found = self._legs.get(key)
        if found is None:
            found = self._legs[key] = self._leg(root, venue, contract_code)
        return found

    def _leg(self, root: str, venue: str, contract_code: str | None) -> VenueLeg:
        spec = self.registry.spec(root)
        vs = self.registry.venue_spec(root, venue)
        contract: Contract | None = None
        if vs.dated:
            if contract_code is None:
                raise Refused(
                    f"no active contract for {root} (is the rollover service running?)", field="contract"
                )
            contract = Contract.parse(contract_code)
            if contract.root != root:
                raise Refused(
                    f"contract {contract_code} is not a {root} contract",
                    field="contract",
                    value=contract_code,
                )
        return VenueLeg(
            venue_symbol=self.registry.venue_symbol(root, venue, contract),
            contract=contract.code if contract else None,
            qty_factor=spec.qty_factor(venue),
            lot_step=vs.lot_step,
            min_qty=vs.min_qty or vs.lot_step,
            currency=spec.venue_currency(venue),
            point_value=spec.venue_point_value(venue),
        )

    def to_venue(
        self,
        order: Order,
        contracts: dict[str, str],
        venue_price: float | None,
        today: dt.date | None = None,
    ) -> VenueOrder:
        """Raise Refused with the reason when the leg cannot be traded at the venue (no active contract,
        below the venue's minimum), DecodeError when its symbol or venue is not in the registry.
        A continuous contract (`NQ2!`) is resolved here, against the hash's active one (`today`:
        the calendar's day when the hash has none, default today in UTC)."""
        vs = self.registry.venue_spec(order.symbol, order.venue)
        code = (order.contract or contracts.get(order.symbol)) if vs.dated else None
        if is_continuous(code):
            assert code is not None
            day = today or dt.datetime.now(dt.UTC).date()
            try:
                code = resolve(code, self.registry.spec(order.symbol), contracts.get(order.symbol), day).code
            except (ValueError, ConfigError) as exc:
                raise Refused(str(exc), field="contract", value=order.contract) from None
        leg = self.leg(order.symbol, order.venue, code)
        venue_qty = round_to_step(order.quantity * leg.qty_factor, leg.lot_step)
        if venue_qty < leg.min_qty - 1e-12:
            raise Refused(
                f"{order.quantity:g} {order.symbol} is {order.quantity * leg.qty_factor:g} "
                f"units at {order.venue}, below its minimum of {leg.min_qty:g}"
            )
        fields = msgspec.structs.asdict(order)
        fields["contract"] = leg.contract
        return VenueOrder(
            **fields,
            venue_symbol=leg.venue_symbol,
            venue_quantity=venue_qty,
            qty_factor=leg.qty_factor,
            rounding_residual=round(order.quantity - venue_qty / leg.qty_factor, 12),
            currency=leg.currency,
            point_value=leg.point_value,
            venue_reference_price=venue_price,
        )

    def instrument(self, venue_symbol: str, venue: str) -> VenueInstrument:
        key = (venue, venue_symbol)
        found = self._venue_symbols.get(key)
        if found is None:
            root, contract = self.registry.parse(venue_symbol, venue)
            spec = self.registry.spec(root)
            pv = spec.venue_point_value(venue)
            found = self._venue_symbols[key] = VenueInstrument(
                root=root,
                contract=contract.code if contract else None,
                qty_factor=spec.qty_factor(venue),
                point_value=pv,
                currency=spec.venue_currency(venue),
                same_instrument=abs(pv - spec.point_value) < 1e-12,
            )
        return found

    def fill(self, fill: Fill) -> Fill:
        """A venue report in universal terms: root, contract, size factor, point value, currency."""
        if fill.symbol is not None and (
            fill.contract is not None or not self._dated(fill.symbol, fill.venue)
        ):
            spec = self.registry.spec(fill.symbol)
            return fill.replace(
                qty_factor=fill.qty_factor or spec.qty_factor(fill.venue),
                point_value=fill.point_value or spec.venue_point_value(fill.venue),
            )
        inst = self.instrument(fill.venue_symbol, fill.venue)
        return fill.replace(
            symbol=inst.root,
            contract=fill.contract or inst.contract,
            qty_factor=fill.qty_factor or inst.qty_factor,
            point_value=fill.point_value or inst.point_value,
        )

    def tick(self, tick: Tick) -> tuple[Tick, bool]:
        """A venue tick under its root; True when the venue trades the universal instrument itself
        (so its price is the root's market price, not a CFD's with a basis)."""
        inst = self.instrument(tick.symbol, tick.venue)
        norm = tick.replace(symbol=inst.root, contract=inst.contract, currency=tick.currency or inst.currency)
        return norm, inst.same_instrument

    def _dated(self, root: str, venue: str) -> bool:
        try:
            return self.registry.venue_spec(root, venue).dated
        except DecodeError:
            return False
