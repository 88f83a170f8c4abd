"""`python -m nexus_nt8.simulator --profile nt8|quantower --port N`: a simulated platform process.

Bridge mode dials the adapter at --host:--port (default NX_NT8_HOST:NX_NT8_PORT, the adapter's own
settings, or 127.0.0.1:9001) with the token from NX_NT8_AUTH_TOKEN (or --token) and keeps
reconnecting; `--ati-dir DIR` instead plays NinjaTrader's ATI folder. Runs until SIGTERM/SIGINT.
"""

from __future__ import annotations

import argparse
import logging
import os
import signal
import threading
from pathlib import Path
from types import FrameType

from nexus_nt8.config import PROFILES
from nexus_nt8.simulator.ati import AtiSimulator
from nexus_nt8.simulator.bridge import BridgeSimulator, Fault
from nexus_nt8.simulator.venue import SimPlatform
from nexus_protocol.bridge import Platform


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m nexus_nt8.simulator", description=__doc__)
    p.add_argument("--profile", choices=[x.value for x in Platform], default="nt8")
    p.add_argument("--host", default=os.environ.get("NX_NT8_HOST", "127.0.0.1"), help="the adapter's address")
    p.add_argument("--port", type=int, default=int(os.environ.get("NX_NT8_PORT", "9001")))
    p.add_argument("--token", default=os.environ.get("NX_NT8_AUTH_TOKEN", ""))
    p.add_argument("--account", action="append", help="account name (repeat); default: the profile's")
    p.add_argument("--config-dir", type=Path, default=Path(os.environ.get("NX_CONFIG_DIR", "deploy/config")))
    p.add_argument("--step-ticks", type=int, default=None, help="random walk step (0: prices stand still)")
    p.add_argument("--fill-parts", type=int, default=1)
    p.add_argument("--cash", type=float, default=100_000.0, help="each account's starting cash")
    p.add_argument("--ati-dir", type=Path, help="play NinjaTrader's ATI folder instead of the bridge")
    p.add_argument("--fault", choices=[f.value for f in Fault], action="append", default=[])
    args = p.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    profile = PROFILES[Platform(args.profile)]
    venue = SimPlatform(
        profile,
        accounts=tuple(args.account or ()),
        config_dir=args.config_dir,
        step_ticks=args.step_ticks,
        fill_parts=args.fill_parts,
        cash=args.cash,
    )
    sim: AtiSimulator | BridgeSimulator
    if args.ati_dir is not None:
        sim = AtiSimulator(args.ati_dir, venue).start()
    else:
        if not args.token:
            p.error("the bridge needs a token: --token or NX_NT8_AUTH_TOKEN")
        sim = BridgeSimulator(profile, host=args.host, port=args.port, token=args.token, venue=venue).start()
        for fault in args.fault:
            sim.arm(Fault(fault))
    stopped = threading.Event()

    def _stop(_signum: int, _frame: FrameType | None) -> None:
        stopped.set()

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    stopped.wait()
    sim.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
