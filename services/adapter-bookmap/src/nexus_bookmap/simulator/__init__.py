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

# The add-on script in a source checkout (services/adapter-bookmap/addon/).
ADDON_SCRIPT = Path(__file__).resolve().parents[3] / "addon" / "nexus_bookmap_addon.py"

__all__ = ["ADDON_SCRIPT", "BookmapHost", "BookmapVenue", "SimInstrument"]
