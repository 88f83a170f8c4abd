"""The adapter base every platform adapter subclasses (see `base`)."""

from nexus_mesh.adapter.base import Adapter
from nexus_mesh.adapter.intents import Intent, IntentState, IntentStore
from nexus_mesh.adapter.reports import Reconciliation, VenueReport, rejected
from nexus_mesh.adapter.settings import AdapterSettings
from nexus_protocol.errors import UnknownOutcome

__all__ = [
    "Adapter",
    "AdapterSettings",
    "Intent",
    "IntentState",
    "IntentStore",
    "Reconciliation",
    "UnknownOutcome",
    "VenueReport",
    "rejected",
]
