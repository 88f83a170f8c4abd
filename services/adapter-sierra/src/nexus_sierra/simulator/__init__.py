"""A DTC server simulating Sierra Chart over nexus_sim (`server`), its trading service (`venue`) and
its control (`control`); `python -m nexus_sierra.simulator` runs it."""

from nexus_sierra.simulator.control import ControlClient, RunningSimulator, SimulatorControl
from nexus_sierra.simulator.server import DtcSimulator, SimFaults
from nexus_sierra.simulator.venue import SimulatedTradingService

__all__ = [
    "ControlClient",
    "DtcSimulator",
    "RunningSimulator",
    "SimFaults",
    "SimulatedTradingService",
    "SimulatorControl",
]
