"""NEXUS side of the mesh: the client API for the signal engine (threaded and asyncio), the bridge
service (signal filters, duplicate prevention, circuit breakers) and a strategy host.

The client only talks to Redis; the guards run in the service (`python -m nexus_bridge`).
See docs/nexus-bridge.md.
"""

from nexus_bridge.aio import AsyncNexusGatewayInterface
from nexus_bridge.client import NexusGatewayInterface
from nexus_bridge.errors import BridgeConnectionError, SafeModeError, SendUnknownError, SignalError
from nexus_bridge.host import StrategySignal
from nexus_bridge.wire import CONNECTED, DISCONNECTED, SAFE_MODE

__all__ = [
    "CONNECTED",
    "DISCONNECTED",
    "SAFE_MODE",
    "AsyncNexusGatewayInterface",
    "BridgeConnectionError",
    "NexusGatewayInterface",
    "SafeModeError",
    "SendUnknownError",
    "SignalError",
    "StrategySignal",
]
