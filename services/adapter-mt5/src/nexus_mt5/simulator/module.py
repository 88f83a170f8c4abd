"""Module objects: the simulated `MetaTrader5` module, and `nexus_sim_control` for tests.

`make_module(terminal)` builds a module with exactly the real package's constants (constants.py) and
the terminal's API functions, so `mt5 = make_module(t)` reads like `import MetaTrader5 as mt5`.
`install` puts both modules in `sys.modules`, which is how the rpyc server makes
`conn.execute("import MetaTrader5 as mt5")` import the simulator instead of the real package.
"""

from __future__ import annotations

import sys
from types import ModuleType

from nexus_mt5.simulator import constants as c
from nexus_mt5.simulator.control import Control
from nexus_mt5.simulator.terminal import API_FUNCTIONS, Terminal

MODULE_NAME = "MetaTrader5"
CONTROL_MODULE_NAME = "nexus_sim_control"

# fmt: off
_CONTROL_FUNCTIONS: tuple[str, ...] = (
    "quote", "set_price", "set_quote", "hold", "step", "process", "now_ns", "advance",
    "set_autotrading", "set_market_open", "set_partial_fills", "set_commission", "expire_day_orders",
    "reject_next", "requote_next", "drop_after_send", "drop_before_send", "clear_faults", "reset", "summary",
)
# fmt: on


def make_module(terminal: Terminal, name: str = MODULE_NAME) -> ModuleType:
    """A `MetaTrader5`-shaped module whose functions are `terminal`'s methods."""
    module = ModuleType(name, f"Simulated MetaTrader5 API (NEXUS), profile {terminal.profile.name!r}.")
    for key, value in c.MODULE_CONSTANTS.items():
        setattr(module, key, value)
    setattr(module, "__version__", c.__version__)  # noqa: B010
    setattr(module, "__author__", "MetaQuotes Ltd. (simulated by NEXUS mesh)")  # noqa: B010
    for fn in API_FUNCTIONS:
        setattr(module, fn, getattr(terminal, fn))
    module._terminal = terminal  # type: ignore[attr-defined]
    return module


def make_control_module(control: Control, name: str = CONTROL_MODULE_NAME) -> ModuleType:
    module = ModuleType(name, "Control surface of the simulated MT5 terminal (tests only).")
    for fn in _CONTROL_FUNCTIONS:
        setattr(module, fn, getattr(control, fn))
    module.control = control  # type: ignore[attr-defined]
    return module


def install(terminal: Terminal) -> Control:
    """Register the simulated `MetaTrader5` and `nexus_sim_control` in this process's sys.modules."""
    control = Control(terminal)
    sys.modules[MODULE_NAME] = make_module(terminal)
    sys.modules[CONTROL_MODULE_NAME] = make_control_module(control)
    return control
