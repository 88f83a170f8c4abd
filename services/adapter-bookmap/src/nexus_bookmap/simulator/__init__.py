"""A simulated Bookmap host for the NEXUS Bookmap add-on: Bookmap's side of the Python add-on API
(`wire`), a nexus_sim-backed trading connection (`venue`) and the TCP host that starts the add-on
script exactly like Bookmap does (`host`). Run it with `python -m nexus_bookmap.simulator --help`.

    spec = InstrumentSpec(symbol="NQZ5", tick_size=0.25, start_price=21000.0)
    venue = BookmapVenue([SimInstrument(spec=spec)])
    with BookmapHost(venue) as host:
        host.launch_addon(ADDON_SCRIPT, env={"NX_BOOKMAP_URL": "ws://127.0.0.1:8765/addon"})
        host.wait_initialized()
"""

from pathlib import Path

from nexus_bookmap.simulator.host import BookmapHost
from nexus_bookmap.simulator.venue import BookmapVenue, SimInstrument

_NAME = "nexus_bookmap_addon.py"

_HERE = Path(__file__).resolve()
# The add-on script: in the installed package (the wheel carries it), else in the source checkout
# (services/adapter-bookmap/addon/, an editable install).
ADDON_SCRIPT = next(
    (p for p in (_HERE.parents[1] / "addon" / _NAME, _HERE.parents[3] / "addon" / _NAME) if p.exists()),
    _HERE.parents[3] / "addon" / _NAME,
)

__all__ = ["ADDON_SCRIPT", "BookmapHost", "BookmapVenue", "SimInstrument"]
