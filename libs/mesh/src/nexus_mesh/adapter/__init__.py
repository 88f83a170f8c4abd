"""The adapter base every platform adapter subclasses (see `base`)."""

from nexus_mesh.adapter.base import Adapter
from nexus_mesh.adapter.flatten import HeldPosition, held
from nexus_mesh.adapter.intents import Intent, IntentState, IntentStore
from nexus_mesh.adapter.reports import PlatformReport, Reconciliation, VenueExecution, VenueReport, rejected
from nexus_mesh.adapter.settings import AdapterSettings
from nexus_protocol.errors import UnknownOutcome

__all__ = [
    "Adapter",
    "AdapterSettings",
    "HeldPosition",
    "Intent",
    "IntentState",
    "IntentStore",
    "PlatformReport",
    "Reconciliation",
    "UnknownOutcome",
    "VenueExecution",
    "VenueReport",
    "held",
    "rejected",
]
