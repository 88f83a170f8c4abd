"""A MetaTrader 5 terminal simulator with the MetaTrader5 package's API, on top of `nexus_sim`.

In process (unit tests):

    terminal = Terminal("brazil", clock=ManualClock(...))
    mt5 = make_module(terminal)          # reads like `import MetaTrader5 as mt5`
    control = Control(terminal)          # prices, time, sessions, faults
    mt5.initialize(); mt5.order_send({...})

Served (integration tests, local runs): `python -m nexus_mt5.simulator --port N --profile global|brazil`
is an rpyc classic server like mt5linux's, with `MetaTrader5` and `nexus_sim_control` importable by its
clients. See docs/mt5-simulator.md.
"""

from nexus_mt5.simulator import constants
from nexus_mt5.simulator.clock import OffsetClock
from nexus_mt5.simulator.control import Control
from nexus_mt5.simulator.module import install, make_control_module, make_module
from nexus_mt5.simulator.process import SimulatorProcess
from nexus_mt5.simulator.profiles import Profile, SymbolSpec, brazil_profile, global_profile, profile
from nexus_mt5.simulator.server import SimulatorServer
from nexus_mt5.simulator.terminal import API_FUNCTIONS, SimulatedDisconnect, Terminal

__all__ = [
    "API_FUNCTIONS",
    "Control",
    "OffsetClock",
    "Profile",
    "SimulatedDisconnect",
    "SimulatorProcess",
    "SimulatorServer",
    "SymbolSpec",
    "Terminal",
    "brazil_profile",
    "constants",
    "global_profile",
    "install",
    "make_control_module",
    "make_module",
    "profile",
]
