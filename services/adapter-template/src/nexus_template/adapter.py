"""The Template adapter: the adapter base (`nexus_mesh.adapter`) over the Template platform link.

Only the platform is here: the base keeps the guarantees (intent before send, lookup on redelivery,
unknown outcomes, reconcile on every reconnect, one execution ledger, early reports, deterministic
fill ids). Say in this docstring what the platform adds to them or cannot give."""

from __future__ import annotations

import redis

from nexus_mesh.adapter import Adapter, HeldPosition, PlatformReport, Reconciliation, held
from nexus_protocol.messages import VenueOrder
from nexus_template import mapping
from nexus_template.client import TemplateClient
from nexus_template.config import TemplateSettings


class TemplateAdapter(Adapter):
    settings: TemplateSettings

    def __init__(self, settings: TemplateSettings, client: redis.Redis) -> None:
        super().__init__(settings, client)
        self.link = TemplateClient(settings, self.emit_reports)

    def connect(self) -> None:
        if not self.link.up:
            self.link.connect()
            self.request_reconcile()  # after every (re)connect

    def connected(self) -> bool:
        return self.link.up

    def submit(self, order: VenueOrder) -> list[PlatformReport]:
        return self.link.send(mapping.platform_order(order))

    def cancel(self, client_order_id: str) -> list[PlatformReport]:
        return self.link.cancel(client_order_id)

    def lookup(self, client_order_id: str) -> list[PlatformReport] | None:
        return self.link.find(client_order_id)

    def reconcile(self, since: str | None) -> Reconciliation:
        reports, marker = self.link.executions_since(since)
        return Reconciliation(
            open_orders=self.link.working(), reports=reports, positions=self.link.positions(), marker=marker
        )

    def flatten(self) -> list[HeldPosition]:
        return held(self.link.positions())

    def close(self) -> None:
        self.link.close()
