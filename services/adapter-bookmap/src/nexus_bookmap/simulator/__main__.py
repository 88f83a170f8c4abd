"""`python -m nexus_bookmap.simulator`: run a simulated Bookmap until SIGINT/SIGTERM.

    python -m nexus_bookmap.simulator --port 47000 --alias NQZ5 --tick-size 0.25 --price 21000 \
        --script services/adapter-bookmap/addon/nexus_bookmap_addon.py --relaunch
    python -m nexus_bookmap.simulator --root NQ --script --relaunch      # as the dev environment runs it

`--root NQ` offers the root's next two contracts as symbols.yaml spells them for Bookmap (NQZ6, NQH7
on a December 2026 day), with the registry's tick size and point value and sim.yaml's start price.
Without `--script` it waits for an add-on started by hand with the printed port as its argument; the
script gets this process's environment (NX_BOOKMAP_URL, NX_BOOKMAP_TOKEN: where the adapter is).
"""

from __future__ import annotations

import argparse
import datetime as dt
import logging
import os
import signal
import threading
import time
from pathlib import Path
from types import FrameType

from nexus_bookmap.simulator import ADDON_SCRIPT, BookmapHost, BookmapVenue, SimInstrument
from nexus_mesh.config_files import load_symbols, read_yaml
from nexus_sim import FaultConfig, InstrumentSpec, MatchingConfig
from nexus_sim.listing import listed_contracts

VENUE = "bookmap"  # its name in symbols.yaml


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m nexus_bookmap.simulator", description=__doc__.splitlines()[0])
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=0, help="0 picks a free port (printed)")
    p.add_argument("--alias", action="append", help="alias (repeatable); default NQZ5")
    p.add_argument("--root", action="append", help="a root's listed contracts from symbols.yaml (repeatable)")
    p.add_argument("--config-dir", type=Path, default=Path(os.environ.get("NX_CONFIG_DIR", "deploy/config")))
    p.add_argument("--tick-size", type=float, default=0.25)
    p.add_argument("--price", type=float, default=21000.0, help="start price of every alias")
    p.add_argument("--point-value", type=float, default=20.0)
    p.add_argument("--size-multiplier", type=float, default=1.0)
    p.add_argument("--seed", type=int, default=7)
    p.add_argument("--data-only", action="store_true", help="the connection cannot trade")
    p.add_argument("--fill-parts", type=int, default=1)
    p.add_argument("--fill-latency-ms", type=float, default=0.0)
    p.add_argument("--tick-interval-ms", type=float, default=100.0)
    p.add_argument("--drop-after-accept", type=int, default=0, metavar="N")
    p.add_argument("--script", nargs="?", const=str(ADDON_SCRIPT), help="start this add-on script")
    p.add_argument("--relaunch", action="store_true", help="start the script again whenever it exits")
    p.add_argument("-v", "--verbose", action="store_true")
    return p


def _listed(root: str, config_dir: Path, size_multiplier: float) -> list[SimInstrument]:
    """The root's next contracts as Bookmap aliases, sized from the registry."""
    registry = load_symbols(config_dir)
    spec = registry.spec(root)
    prices = (read_yaml(config_dir / "sim.yaml") or {}).get("start_prices") or {}
    out = []
    for ct in listed_contracts(root, spec.calendar, dt.date.today()):
        instrument = InstrumentSpec(
            symbol=registry.venue_symbol(root, VENUE, ct),
            tick_size=spec.tick_size,
            start_price=float(prices.get(root, 100.0)),
            point_value=spec.venue_point_value(VENUE),
        )
        out.append(SimInstrument(spec=instrument, full_name=f"{root} {ct.month:02d}-{ct.year % 100:02d}",
                                 size_multiplier=size_multiplier))  # fmt: skip
    return out


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO, format="%(asctime)s %(message)s"
    )
    instruments = [
        SimInstrument(
            spec=InstrumentSpec(
                symbol=alias, tick_size=args.tick_size, start_price=args.price, point_value=args.point_value
            ),
            size_multiplier=args.size_multiplier,
        )
        for alias in args.alias or ([] if args.root else ["NQZ5"])
    ]
    instruments += [
        i for root in args.root or () for i in _listed(root, args.config_dir, args.size_multiplier)
    ]
    venue = BookmapVenue(
        instruments,
        can_trade=not args.data_only,
        seed=args.seed,
        matching=MatchingConfig(fill_parts=args.fill_parts, cash=100_000.0),
        faults=FaultConfig.from_dict({"fill_latency_ms": args.fill_latency_ms}),
    )
    host = BookmapHost(venue, host=args.host, port=args.port, tick_interval_s=args.tick_interval_ms / 1000)
    stop = threading.Event()

    def _on_signal(signum: int, frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGINT, _on_signal)
    signal.signal(signal.SIGTERM, _on_signal)
    with host:
        host.drop_after_accept(args.drop_after_accept)
        print(f"simulated Bookmap listening on {args.host}:{host.port}", flush=True)
        while not stop.is_set():
            proc = host.addon_process
            if args.script and (proc is None or (args.relaunch and proc.poll() is not None)):
                if proc is not None:
                    print(f"add-on exited with {proc.returncode}; relaunching", flush=True)
                    time.sleep(1.0)
                host.launch_addon(args.script)
            stop.wait(0.5)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
