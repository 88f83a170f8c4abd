"""The storm's link proxy between an adapter and a platform: bytes pass both ways until a fault, which
fires at its boundary (the next order on its way, the platform's acceptance or fill of it), cuts or
hangs the link, refuses reconnects for a while, and is written to the events file."""

from __future__ import annotations

import socket
import socketserver
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from nexus_mesh.embedded import free_port
from nexus_testing import wait_for
from nexus_testing.storm.proxy import Fault, LinkSpec, ProxyControl, read_events

COID = b"01JQ0000000000000000000000.sc0"


@dataclass
class Platform:
    """A line-based platform: `ORDER <coid>` gets `ACK <coid>`, then, a little later, `FILL <coid>`."""

    port: int
    received: list[bytes] = field(default_factory=list)


def _platform() -> tuple[socketserver.ThreadingTCPServer, Platform]:
    platform = Platform(free_port())

    class Handler(socketserver.StreamRequestHandler):
        def handle(self) -> None:
            for line in self.rfile:
                platform.received.append(line.strip())
                coid = line.split()[-1]
                self.wfile.write(b"ACK " + coid + b"\n")
                self.wfile.flush()
                time.sleep(0.2)
                self.wfile.write(b"FILL " + coid + b"\n")
                self.wfile.flush()

    server = socketserver.ThreadingTCPServer(("127.0.0.1", platform.port), Handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, platform


@dataclass
class Rig:
    control: ProxyControl
    platform: Platform
    port: int
    events: Path

    def dial(self) -> socket.socket:
        return socket.create_connection(("127.0.0.1", self.port), timeout=3)


@pytest.fixture
def rig(tmp_path: Path) -> Iterator[Rig]:
    server, platform = _platform()
    control_port, port, events = free_port(), free_port(), tmp_path / "faults.jsonl"
    proc = subprocess.Popen(
        [sys.executable, "-m", "nexus_testing.storm.proxy", "--control-port", str(control_port),
         "--events", str(events)]
    )  # fmt: skip
    control = wait_for(lambda: _control(control_port), timeout_s=30, what="the proxy's control port")
    control.link(
        LinkSpec(name="sierra", code="sc", listen_host="127.0.0.1", listen_port=port,
                 target_host="127.0.0.1", target_port=platform.port, platform_dials=False)
    )  # fmt: skip
    yield Rig(control, platform, port, events)
    control.close()
    proc.kill()
    proc.wait()
    server.shutdown()


def _control(port: int) -> ProxyControl | None:
    try:
        return ProxyControl("127.0.0.1", port)
    except OSError:
        return None


def read_lines(sock: socket.socket, timeout_s: float = 1.0) -> list[bytes]:
    """Lines until the peer closes or `timeout_s` passes with nothing new."""
    sock.settimeout(timeout_s)
    data = b""
    try:
        while chunk := sock.recv(4096):
            data += chunk
    except TimeoutError:
        pass
    except ConnectionResetError:
        pass
    return data.split()


def closed(sock: socket.socket) -> bool:
    sock.settimeout(2)
    try:
        return sock.recv(1) == b""
    except (ConnectionResetError, TimeoutError):
        return True


def test_bytes_pass_both_ways_without_a_fault(rig: Rig) -> None:
    s = rig.dial()
    s.sendall(b"ORDER " + COID + b"\n")
    assert read_lines(s) == [b"ACK", COID, b"FILL", COID]
    assert rig.platform.received == [b"ORDER " + COID]


def test_at_submit_the_order_never_reaches_the_platform_and_reconnects_wait(rig: Rig) -> None:
    rig.control.fault(Fault(link="sierra", at="submit", down_s=1.0))
    s = rig.dial()
    s.sendall(b"HELLO x\n")  # no client order id: passes
    assert read_lines(s, 0.5)[:2] == [b"ACK", b"x"]
    s.sendall(b"ORDER " + COID + b"\n")
    assert closed(s)
    assert rig.platform.received == [b"HELLO x"]
    assert closed(rig.dial())  # refused while the link is down
    time.sleep(1.1)
    again = rig.dial()
    again.sendall(b"ORDER " + COID + b"\n")
    assert read_lines(again)[:2] == [b"ACK", COID]
    [event] = read_events(rig.events)
    assert (event["at"], event["outcome"], event["client_order_id"]) == ("submit", "fired", COID.decode())


@pytest.mark.parametrize(("at", "got"), [("sent", []), ("accept", []), ("fill", [b"ACK", COID])])
def test_the_platform_has_the_order_and_its_answer_is_lost(rig: Rig, at: str, got: list[bytes]) -> None:
    rig.control.fault(Fault(link="sierra", at=at))  # type: ignore[arg-type]
    s = rig.dial()
    s.sendall(b"ORDER " + COID + b"\n")
    assert read_lines(s, 1.5) == got
    assert closed(s)
    wait_for(lambda: rig.platform.received == [b"ORDER " + COID], timeout_s=10, what="the order there")


def test_a_hung_link_passes_nothing_then_is_cut(rig: Rig) -> None:
    s = rig.dial()
    s.sendall(b"ORDER a\n")
    assert read_lines(s, 0.5) == [b"ACK", b"a", b"FILL", b"a"]
    rig.control.fault(Fault(link="sierra", action="hang", hold_s=1.5))
    s.sendall(b"ORDER " + COID + b"\n")
    late = rig.dial()  # taken, and given nothing
    late.sendall(b"ORDER b\n")
    assert read_lines(s, 1.0) == []
    assert closed(s)
    assert closed(late)
    assert rig.platform.received == [b"ORDER a"]


def test_a_fault_whose_boundary_never_comes_expires(rig: Rig) -> None:
    rig.control.fault(Fault(link="sierra", at="submit", timeout_s=0.3))
    wait_for(lambda: read_events(rig.events), timeout_s=5, what="the expiry")
    assert read_events(rig.events)[0]["outcome"] == "expired"
    assert rig.control.stats()["sierra"]["expired"] == 1
