"""Pure translation between universal and venue terms (no Redis): symbols, contracts, quantities.

NQ + NQH25 active -> "NQ 03-25" on nt8, "NQH25" on sierra, "NAS100" on mt5-global (x20 lots)
"""

from __future__ import annotations

import datetime as dt

from nexus_gateway.rollover.continuous import is_continuous, resolve
from nexus_protocol.errors import ConfigError, DecodeError, Refused
from nexus_protocol.messages import Fill, Order, Tick, VenueOrder
from nexus_protocol.symbols import Contract, SymbolRegistry


class Translator:
    def __init__(self, registry: SymbolRegistry) -> None:
        self.registry = registry

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
        spec = self.registry.spec(order.symbol)
        vs = self.registry.venue_spec(order.symbol, order.venue)
        contract: Contract | None = None
        if vs.dated:
            code = order.contract or contracts.get(order.symbol)
            if is_continuous(code):
                assert code is not None
                day = today or dt.datetime.now(dt.UTC).date()
                try:
                    code = resolve(code, spec, contracts.get(order.symbol), day).code
                except (ValueError, ConfigError) as exc:
                    raise Refused(str(exc), field="contract", value=order.contract) from None
            if code is None:
                raise Refused(
                    f"no active contract for {order.symbol} (is the rollover service running?)",
                    field="contract",
                )
            contract = Contract.parse(code)
            if contract.root != order.symbol:
                raise Refused(
                    f"contract {code} is not a {order.symbol} contract", field="contract", value=code
                )
        sizing = self.registry.size(order.symbol, order.venue, order.quantity)
        min_qty = vs.min_qty or vs.lot_step
        if sizing.venue_quantity < min_qty - 1e-12:
            raise Refused(
                f"{order.quantity:g} {order.symbol} is {order.quantity * spec.qty_factor(order.venue):g} "
                f"units at {order.venue}, below its minimum of {min_qty:g}"
            )
        return VenueOrder(
            **order.model_dump(exclude={"contract"}),
            venue_symbol=self.registry.venue_symbol(order.symbol, order.venue, contract),
            contract=contract.code if contract else None,
            venue_quantity=sizing.venue_quantity,
            qty_factor=spec.qty_factor(order.venue),
            rounding_residual=sizing.residual,
            currency=spec.venue_currency(order.venue),
            point_value=spec.venue_point_value(order.venue),
            venue_reference_price=venue_price,
        )

    def fill(self, fill: Fill) -> Fill:
        """A venue report in universal terms: root, contract, size factor, point value, currency."""
        root, contract = fill.symbol, fill.contract
        if root is None or (contract is None and self._dated(root, fill.venue)):
            root, parsed = self.registry.parse(fill.venue_symbol, fill.venue)
            contract = contract or (parsed.code if parsed else None)
        spec = self.registry.spec(root)
        return fill.model_copy(
            update={
                "symbol": root,
                "contract": contract,
                "qty_factor": fill.qty_factor or spec.qty_factor(fill.venue),
                "point_value": fill.point_value or spec.venue_point_value(fill.venue),
            }
        )

    def tick(self, tick: Tick) -> tuple[Tick, bool]:
        """A venue tick under its root; True when the venue trades the universal instrument itself
        (so its price is the root's market price, not a CFD's with a basis)."""
        root, contract = self.registry.parse(tick.symbol, tick.venue)
        spec = self.registry.spec(root)
        same = abs(spec.venue_point_value(tick.venue) - spec.point_value) < 1e-12
        return tick.model_copy(
            update={
                "symbol": root,
                "contract": contract.code if contract else None,
                "currency": tick.currency or spec.venue_currency(tick.venue),
            }
        ), same

    def _dated(self, root: str, venue: str) -> bool:
        try:
            return self.registry.venue_spec(root, venue).dated
        except DecodeError:
            return False
