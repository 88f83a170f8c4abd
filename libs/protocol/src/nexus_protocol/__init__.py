"""Pure message models, codec, stream names and symbology for NEXUS mesh (no I/O)."""

from nexus_protocol.codec import Envelope, decode, encode
from nexus_protocol.enums import OrderStatus, OrderType, Severity, Side, TimeInForce
from nexus_protocol.errors import ConfigError, DecodeError, NexusError, RiskRejected, VenueError
from nexus_protocol.messages import (
    Cancel, ContractRoll, DeadLetter, DepthSnapshot, DepthUpdate, Event, Execution, Fill, Heartbeat, Leg,
    KillSwitchState, Message, Order, Route, RouteLeg, Signal, Tick, VenueOrder,
)
from nexus_protocol.streams import Names, key

__all__ = [
    "Cancel", "ConfigError", "ContractRoll", "DeadLetter", "DecodeError", "DepthSnapshot", "DepthUpdate",
    "Envelope", "Event", "Execution", "Fill", "Heartbeat", "KillSwitchState", "Leg", "Message", "Names", "NexusError", "Order",
    "OrderStatus", "OrderType", "RiskRejected", "Route", "RouteLeg", "Severity", "Side", "Signal", "Tick", "TimeInForce",
    "VenueError", "VenueOrder", "decode", "encode", "key",
]
