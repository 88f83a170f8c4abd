"""Platform simulators for the NinjaTrader 8 / Quantower adapter, on nexus_sim.

- `BridgeSimulator`: the AddOn's (plugin's) side of the bridge protocol, dialing the adapter, with
  NinjaTrader naming ("NQ 03-25") or Quantower naming ("NQH25") by profile, and fault injection.
- `AtiSimulator`: NinjaTrader's ATI folder (order instruction files in, state files out).
Both trade on a `SimPlatform` that outlives connections and adapter restarts.
Run one as a process: `python -m nexus_nt8.simulator --profile nt8|quantower --port N`.
"""

from nexus_nt8.simulator.ati import AtiSimulator
from nexus_nt8.simulator.bridge import BridgeSimulator, Fault
from nexus_nt8.simulator.registry import Registry
from nexus_nt8.simulator.venue import SimPlatform, UnknownInstrument

__all__ = ["AtiSimulator", "BridgeSimulator", "Fault", "Registry", "SimPlatform", "UnknownInstrument"]
