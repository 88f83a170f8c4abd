"""The C# side proven by running it: BridgeCore's PlatformBridge (the code the NinjaTrader AddOn and the
Quantower plugin share) in a small test host, compiled with mono's mcs, against the Python adapter
process: hello with the token, order_submit placed once and answered, execution_update turned into a
Fill on nx:fills:raw, ticks, and a fill journaled while the adapter was SIGKILLed recovered through
the C# registry's answer to open_orders_query."""

from __future__ import annotations

import importlib.util
import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import pytest
import redis

from nexus_protocol import Envelope, Fill, Names, OrderStatus, Side, VenueOrder
from nexus_protocol.enums import OrderType
from nexus_protocol.ids import client_order_id, new_signal_id
from nexus_protocol.messages import Tick
from nexus_testing import REPO_ROOT, ServiceProcess, Services, read_stream, wait_for, xadd

CSHARP = REPO_ROOT / "services" / "adapter-nt8" / "csharp"
TOKEN = "csharp-test-token"


def _bridge_csharp_tests() -> ModuleType:
    """tests/conformance/test_bridge_csharp.py, for its compile helper (test modules are not a package)."""
    path = REPO_ROOT / "tests" / "conformance" / "test_bridge_csharp.py"
    for module in list(sys.modules.values()):
        if getattr(module, "__file__", None) == str(path):
            return module
    spec = importlib.util.spec_from_file_location("nexus_tests_bridge_csharp", path)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


CS = _bridge_csharp_tests()
pytestmark = CS.needs_mono


@pytest.fixture(scope="module")
def test_host(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("testhost")
    lib = out / "BridgeCore.dll"
    CS._compile(lib, "library", sorted((CSHARP / "BridgeCore").glob("*.cs")))
    exe = out / "TestHost.exe"
    CS._compile(exe, "exe", sorted((CSHARP / "TestHost").glob("*.cs")), str(lib))
    return exe


class Host:
    def __init__(self, exe: Path, port: int, log: Path) -> None:
        self.log_path = log
        env = {k: v for k, v in os.environ.items() if not k.startswith("NX_")}
        env.update(NX_NT8_PORT=str(port), NX_NT8_AUTH_TOKEN=TOKEN, NX_NT8_ACCOUNTS="Sim101")
        with log.open("w") as f:
            self.proc = subprocess.Popen(
                [CS.MONO, str(exe), "21000", "1500"], stdout=f, stderr=subprocess.STDOUT, env=env
            )

    def output(self) -> str:
        return self.log_path.read_text(errors="replace")

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)


@pytest.fixture
def host(test_host: Path, tmp_path: Path, services: Services) -> Iterator[tuple[Host, int]]:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = int(s.getsockname()[1])
    h = Host(test_host, port, tmp_path / "testhost.log")
    yield h, port
    h.stop()


def _adapter(services: Services, port: int) -> ServiceProcess:
    return services.start(
        "nexus_nt8",
        name="adapter-nt8-cs",
        NX_VENUE="nt8",
        NX_NT8_PORT=str(port),
        NX_NT8_AUTH_TOKEN=TOKEN,
        NX_TICK_INTERVAL_S="0.05",
        NX_NT8_HEARTBEAT_INTERVAL_MS="1000",
        NX_NT8_MD_INSTRUMENTS='["NQ 03-25"]',
    )


def _order(order_type: OrderType = OrderType.MARKET, limit: float | None = None) -> VenueOrder:
    sid = new_signal_id()
    return VenueOrder(
        client_order_id=client_order_id(sid, "n8"),
        signal_id=sid,
        venue="nt8",
        symbol="NQ",
        side=Side.BUY,
        quantity=2,
        venue_symbol="NQ 03-25",
        contract="NQH25",
        venue_quantity=2,
        order_type=order_type,
        limit_price=limit,
        point_value=20.0,
    )


def _send(client: redis.Redis, names: Names, order: VenueOrder) -> None:
    xadd(client, names.orders("nt8"), Envelope.new(order, id=order.client_order_id, trace=order.signal_id))


def _fills(client: redis.Redis, names: Names, coid: str) -> list[Fill]:
    return [
        e.body
        for e in read_stream(client, names.fills_raw)
        if isinstance(e.body, Fill) and e.body.client_order_id == coid
    ]


def _connected(h: Host) -> bool:
    return "connected to 127.0.0.1" in h.output()


@pytest.mark.slow
def test_csharp_platform_bridge_against_the_adapter(
    host: tuple[Host, int], services: Services, client: redis.Redis, names: Names
) -> None:
    h, port = host
    adapter = _adapter(services, port)
    wait_for(lambda: _connected(h), timeout_s=20, what="the C# host's handshake")
    assert "token set" in h.output()
    assert TOKEN not in h.output()  # BridgeSettings.ToString() leaves the secret out
    wait_for(lambda: client.get(names.control("venue", "nt8")) is not None, what="adapter heartbeat")

    order = _order()
    _send(client, names, order)
    wait_for(
        lambda: any(f.status is OrderStatus.FILLED for f in _fills(client, names, order.client_order_id)),
        timeout_s=15,
        what="the C# execution as a Fill",
    )
    fills = _fills(client, names, order.client_order_id)
    assert [f.status for f in fills] == [OrderStatus.ACCEPTED, OrderStatus.FILLED]
    assert (fills[-1].last_qty, fills[-1].last_price, fills[-1].fee) == (2.0, 21000.0, 4.3)
    assert fills[-1].venue_order_id == "TH-1"
    _send(client, names, order)  # replayed: the C# registry answers with the state, places nothing
    wait_for(lambda: client.xinfo_groups(names.orders("nt8"))[0]["entries-read"] == 2, what="replay read")
    wait_for(lambda: int(client.xpending(names.orders("nt8"), "adapter-nt8")["pending"]) == 0, what="handled")
    assert h.output().count("PLACED ") == 1
    wait_for(
        lambda: any(
            isinstance(e.body, Tick) and e.body.symbol == "NQ 03-25"
            for e in read_stream(client, names.md_raw("nt8"))
        ),
        what="ticks from C#",
    )

    # a fill that happens while the adapter is dead is journaled in C# and recovered after the restart
    resting = _order(OrderType.LIMIT, 20995.0)
    _send(client, names, resting)
    wait_for(lambda: _fills(client, names, resting.client_order_id), what="accepted by the C# host")
    adapter.sigkill()
    wait_for(
        lambda: f"FILLED {resting.client_order_id} (while disconnected)" in h.output(),
        timeout_s=10,
        what="the fill while the adapter is dead",
    )
    _adapter(services, port)
    wait_for(
        lambda: any(f.status is OrderStatus.FILLED for f in _fills(client, names, resting.client_order_id)),
        timeout_s=20,
        what="the journaled fill after the restart",
    )
    recovered = [f for f in _fills(client, names, resting.client_order_id) if f.status is OrderStatus.FILLED]
    assert len(recovered) == 1
    assert (recovered[0].last_qty, recovered[0].last_price) == (2.0, 20995.0)
    assert h.output().count("PLACED ") == 2
    assert h.proc.poll() is None, h.output()
