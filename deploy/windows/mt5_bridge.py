"""The MT5 bridge beside one terminal: a classic rpyc server whose `MetaTrader5` is the real package.

Run it in the Windows Python next to each terminal (one bridge per terminal, each on its own port);
the adapter (`python -m nexus_mt5`, NX_MT5_MODE=rpyc) calls the MetaTrader5 API through it exactly as
mt5linux's client does. It is mt5linux's server (rpyc's classic SlaveService) with what mt5linux
lacks: SSL with client certificates, and a refusal to listen off loopback without them.

    py -3.11 -m pip install MetaTrader5 "rpyc>=6,<7"
    py -3.11 mt5_bridge.py --port 18812                                       # loopback only
    py -3.11 mt5_bridge.py --host 0.0.0.0 --port 18812 ^
        --ssl-cert bridge.pem --ssl-key bridge.key --ssl-ca ca.pem            # containers: SSL + client certs

SECURITY: a classic rpyc server executes ANY code its clients send (that is how mt5linux works). Off
loopback this script requires --ssl-ca, so only clients holding a certificate signed by that CA get
in; still firewall the port to the Docker network. It prints `READY <host> <port>` once listening.

`--simulator global|brazil` serves the NEXUS simulated terminal instead (tests, rehearsals on Linux).
"""

from __future__ import annotations

import argparse
import ipaddress
import logging
import sys

from rpyc.core import SlaveService
from rpyc.utils.authenticators import SSLAuthenticator
from rpyc.utils.server import ThreadedServer

log = logging.getLogger("mt5_bridge")


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def parse(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    p.add_argument("--port", type=int, default=18812, help="TCP port (0: any free port); default 18812")
    p.add_argument("--ssl-cert", help="the bridge's certificate (PEM)")
    p.add_argument("--ssl-key", help="the bridge's private key (PEM)")
    p.add_argument("--ssl-ca", help="CA that signed the clients' certificates: clients must present one")
    p.add_argument("--simulator", choices=("global", "brazil"), help="serve the NEXUS simulated terminal")
    p.add_argument("--always-open", action="store_true", help="simulator: every symbol open")
    p.add_argument("--log-level", default="WARNING")
    return p.parse_args(argv)


def install_simulator(profile: str, always_open: bool) -> None:
    """`MetaTrader5` (and `nexus_sim_control`) become the simulated terminal in this process."""
    from nexus_mt5.simulator import Terminal, install
    from nexus_mt5.simulator.clock import OffsetClock

    control = install(Terminal(profile, clock=OffsetClock()))
    if always_open:
        control.set_market_open(True)


def main(argv: list[str] | None = None) -> int:
    args = parse(argv)
    logging.basicConfig(level=args.log_level, stream=sys.stderr, format="%(asctime)s %(name)s %(message)s")
    if bool(args.ssl_cert) != bool(args.ssl_key):
        print("--ssl-cert and --ssl-key go together", file=sys.stderr)
        return 2
    if not is_loopback(args.host) and not (args.ssl_cert and args.ssl_ca):
        print(
            f"refusing to listen on {args.host}: a classic rpyc server runs any code it is sent; off "
            "loopback use --ssl-cert, --ssl-key and --ssl-ca (clients must present a certificate)",
            file=sys.stderr,
        )
        return 2
    if args.simulator:
        install_simulator(args.simulator, args.always_open)
    else:
        import MetaTrader5  # noqa: F401 - fail now, not at the first client, if the package is missing
    auth = SSLAuthenticator(args.ssl_key, args.ssl_cert, ca_certs=args.ssl_ca) if args.ssl_cert else None
    server = ThreadedServer(
        SlaveService,
        hostname=args.host,
        port=args.port,
        authenticator=auth,
        protocol_config={"sync_request_timeout": 60},
        logger=log,
    )
    server._listen()  # listen before READY (start() skips it when already listening), as the simulator does
    print(f"READY {server.host} {server.port}", flush=True)
    try:
        server.start()
    except KeyboardInterrupt:
        server.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
