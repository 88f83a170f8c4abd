"""The C# BridgeCore (NinjaTrader 8 AddOn / Quantower plugin side) against the Python definition.

Compiles services/adapter-nt8/csharp/BridgeCore and its test program with Debian's mono `mcs` at the
C# 7 level (NinjaTrader 8 runs .NET Framework 4.8; no NuGet), then:

* runs every vector of vectors.json through it (byte-exact encode, decode, error kinds, schema table);
* cross-checks float text and float reading on tens of thousands of doubles against Python;
* plays a live session: this test is the adapter (a TCP server using the Python framing), the C#
  program connects through the real BridgeClient and OrderRegistry, is dropped and reconnects, sees a
  replayed submit, answers open_orders_query, heartbeats, and reports a garbage frame as bad_frame.
"""

from __future__ import annotations

import math
import random
import shutil
import socket
import struct
import subprocess
import time
from collections import deque
from collections.abc import Iterator
from importlib import resources
from pathlib import Path

import pytest

from nexus_protocol.bridge import (
    BridgeErrorCode,
    BridgeHeartbeat,
    BridgeMessage,
    ErrorMessage,
    ExecutionUpdate,
    FrameDecoder,
    FrameEncoder,
    Hello,
    HelloAck,
    OpenOrdersQuery,
    OpenOrdersSnapshot,
    OrderCancel,
    OrderSubmit,
    OrderUpdate,
    Platform,
    format_float,
)
from nexus_protocol.enums import OrderStatus, OrderType, Side, TimeInForce

REPO = Path(__file__).resolve().parents[2]
CSHARP = REPO / "services" / "adapter-nt8" / "csharp"
MCS = shutil.which("mcs") or "/usr/bin/mcs"
MONO = shutil.which("mono") or "/usr/bin/mono"
COID = "01JGZ8Y5E3V7Q2M4N6P8R0S2T4.N80"

needs_mono = pytest.mark.tool("mcs", "mono", apt="mono-mcs")
pytestmark = needs_mono


def _compile(out: Path, target: str, sources: list[Path], *refs: str) -> None:
    cmd = [MCS, "-langversion:7", f"-target:{target}", "-warnaserror+", "-r:System.Numerics.dll"]
    cmd += [f"-r:{r}" for r in refs] + [f"-out:{out}"] + [str(s) for s in sources]
    result = subprocess.run(cmd, capture_output=True, text=True, timeout=120, check=False)
    assert result.returncode == 0, f"mcs failed:\n{result.stdout}\n{result.stderr}"


@pytest.fixture(scope="module")
def exe(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("bridgecore")
    lib = out / "BridgeCore.dll"
    _compile(lib, "library", sorted((CSHARP / "BridgeCore").glob("*.cs")))
    program = out / "BridgeCore.Tests.exe"
    _compile(program, "exe", sorted((CSHARP / "BridgeCore.Tests").glob("*.cs")), str(lib))
    return program


@pytest.fixture(scope="module")
def vectors_path() -> Iterator[Path]:
    with resources.as_file(resources.files("nexus_protocol.bridge").joinpath("vectors.json")) as path:
        yield path


def _run(exe: Path, *args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [MONO, str(exe), *args], capture_output=True, text=True, timeout=timeout, check=False
    )


def test_csharp_passes_every_vector(exe: Path, vectors_path: Path) -> None:
    result = _run(exe, "vectors", str(vectors_path))
    assert result.returncode == 0, result.stdout + result.stderr
    assert " 0 failed" in result.stdout


def _doubles() -> list[float]:
    rng = random.Random(20261125)
    values: list[float] = []
    while len(values) < 8000:  # uniformly random bit patterns: every exponent, subnormals
        x = struct.unpack(">d", rng.getrandbits(64).to_bytes(8, "big"))[0]
        if math.isfinite(x):
            values.append(x)
    for e in range(-1074, 1024):  # powers of two: the asymmetric rounding interval
        p = math.ldexp(1.0, e)
        values += [p, math.nextafter(p, 0.0), math.nextafter(p, math.inf)]
    for _ in range(8000):  # what prices, quantities and P&L look like
        values.append(round(rng.uniform(-1e5, 1e5), rng.randint(0, 8)))
        values.append(rng.randint(1, 10**6) * 10.0 ** rng.randint(-30, 30))
    return values


def test_csharp_float_text_matches_python(exe: Path, tmp_path: Path) -> None:
    values = _doubles()
    bits = [struct.pack(">d", x).hex() for x in values]
    (tmp_path / "in.txt").write_text("\n".join(bits) + "\n")
    result = _run(exe, "numbers", str(tmp_path / "in.txt"), str(tmp_path / "out.txt"))
    assert result.returncode == 0, result.stderr
    lines = (tmp_path / "out.txt").read_text().splitlines()
    assert len(lines) == len(values)
    wrong = []
    for value, hexbits, line in zip(values, bits, lines, strict=True):
        echoed, text, read_back = line.split(" ")
        # -0.0 is written "0", which reads back as +0.0
        if echoed != hexbits or text != format_float(value) or (read_back != hexbits and value != 0):
            wrong.append((value, line))
    assert not wrong, wrong[:5]


def test_csharp_float_reading_matches_python(exe: Path, tmp_path: Path) -> None:
    rng = random.Random(7)
    tokens = []
    for _ in range(10000):
        digits = "".join(rng.choice("0123456789") for _ in range(rng.randint(1, 25))).lstrip("0") or "1"
        cut = rng.randint(0, len(digits))
        token = (digits[:cut] or "0") + (f".{digits[cut:]}" if digits[cut:] else "")
        if rng.random() < 0.5:
            token += f"e{rng.randint(-340, 300)}"
        tokens.append(("-" if rng.random() < 0.3 else "") + token)
    (tmp_path / "in.txt").write_text("\n".join(tokens) + "\n")
    result = _run(exe, "parse", str(tmp_path / "in.txt"), str(tmp_path / "out.txt"))
    assert result.returncode == 0, result.stderr
    got = [line.split(" ")[1] for line in (tmp_path / "out.txt").read_text().splitlines()]
    expected = [struct.pack(">d", float(t)).hex() for t in tokens]
    wrong = [(t, g, e) for t, g, e in zip(tokens, got, expected, strict=True) if g != e]
    assert not wrong, wrong[:5]


# -- live session: this test is the adapter ---------------------------------------------------------


class Peer:
    """One accepted connection, spoken to with the Python framing."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.rx = FrameDecoder()
        self.tx = FrameEncoder()
        self.inbox: deque[BridgeMessage] = deque()
        self.heartbeats = 0

    def send(self, msg: BridgeMessage) -> int:
        self.sock.sendall(self.tx.encode(msg))
        return self.tx.last_seq

    def _fill(self, deadline: float) -> None:
        self.sock.settimeout(max(0.01, deadline - time.monotonic()))
        data = self.sock.recv(65536)
        if not data:
            raise EOFError("the C# side closed the connection")
        self.inbox.extend(self.rx.feed(data))

    def recv(self, timeout_s: float = 15.0) -> BridgeMessage:
        """The next message that is not a heartbeat (heartbeats are counted)."""
        deadline = time.monotonic() + timeout_s
        while True:
            while self.inbox:
                msg = self.inbox.popleft()
                if isinstance(msg, BridgeHeartbeat):
                    self.heartbeats += 1
                    continue
                return msg
            self._fill(deadline)

    def wait_heartbeat(self, timeout_s: float = 5.0) -> None:
        deadline = time.monotonic() + timeout_s
        while self.heartbeats == 0:
            while self.inbox:
                msg = self.inbox.popleft()
                assert isinstance(msg, BridgeHeartbeat), f"unexpected {msg!r}"
                self.heartbeats += 1
            if self.heartbeats == 0:
                self._fill(deadline)


SUBMIT = OrderSubmit(
    client_order_id=COID, account="Sim101", instrument="NQ 03-25", side=Side.BUY, quantity=2,
    order_type=OrderType.LIMIT, limit_price=16250.75, time_in_force=TimeInForce.DAY,
)  # fmt: skip


def _handshake(server: socket.socket) -> Peer:
    conn, _ = server.accept()
    peer = Peer(conn)
    hello = peer.recv()
    assert isinstance(hello, Hello)
    assert hello.seq == 1, "every connection starts at seq 1"
    assert (hello.platform, hello.protocol_version, hello.accounts) == (Platform.NT8, 1, ["Sim101"])
    assert hello.auth_token == "test-token"
    peer.send(HelloAck(accepted=True, heartbeat_interval_ms=1000))
    return peer


def _session_one(peer: Peer) -> None:
    peer.send(SUBMIT)
    accepted = peer.recv()
    assert isinstance(accepted, OrderUpdate)
    assert (accepted.client_order_id, accepted.account, accepted.platform_order_id) == (
        COID,
        "Sim101",
        "NT-1",
    )
    assert (accepted.status, accepted.filled_quantity, accepted.avg_fill_price) == (
        OrderStatus.ACCEPTED,
        0,
        None,
    )
    fill = peer.recv()
    assert isinstance(fill, ExecutionUpdate)
    assert (fill.execution_id, fill.client_order_id, fill.platform_order_id) == ("EX-1", COID, "NT-1")
    assert (fill.instrument, fill.side, fill.quantity, fill.price) == ("NQ 03-25", Side.BUY, 2, 16250.75)
    assert fill.commission == 4.3
    assert fill.time_ns > 1_700_000_000 * 10**9
    filled = peer.recv()
    assert isinstance(filled, OrderUpdate)
    assert (filled.status, filled.filled_quantity, filled.avg_fill_price) == (OrderStatus.FILLED, 2, 16250.75)
    assert peer.rx.last_seq == 4


def _session_two(peer: Peer) -> None:
    peer.send(SUBMIT)  # replayed after the reconnect: must not be placed twice
    again = peer.recv()
    assert isinstance(again, OrderUpdate)
    assert (again.client_order_id, again.status, again.filled_quantity) == (COID, OrderStatus.FILLED, 2)
    peer.send(OpenOrdersQuery(request_id="q-1", accounts=[], client_order_ids=[COID, "NEVER.N80"]))
    snap = peer.recv()
    assert isinstance(snap, OpenOrdersSnapshot), (
        "a second execution_update would mean the order was placed twice"
    )
    assert snap.request_id == "q-1"
    assert snap.unknown_client_order_ids == ["NEVER.N80"]
    [order] = snap.orders
    assert (order.client_order_id, order.platform_order_id, order.status) == (
        COID,
        "NT-1",
        OrderStatus.FILLED,
    )
    assert (order.quantity, order.order_type, order.limit_price, order.stop_price) == (
        2,
        OrderType.LIMIT,
        16250.75,
        None,
    )
    assert (order.filled_quantity, order.avg_fill_price, order.time_in_force) == (
        2,
        16250.75,
        TimeInForce.DAY,
    )
    assert [x.execution_id for x in snap.executions] == ["EX-1"]
    cancel_seq = peer.send(OrderCancel(client_order_id="NEVER.N80"))
    error = peer.recv()
    assert isinstance(error, ErrorMessage)
    assert (error.code, error.ref_seq, error.client_order_id) == (
        BridgeErrorCode.UNKNOWN_ORDER,
        cancel_seq,
        "NEVER.N80",
    )
    peer.send(BridgeHeartbeat(time_ns=time.time_ns()))
    peer.wait_heartbeat()  # idle for one interval, the C# side heartbeats
    peer.sock.sendall(b"HTTP/1.1 400 Bad Request\r\n\r\n")  # out of sync: C# must say so and hang up
    bad = peer.recv()
    assert isinstance(bad, ErrorMessage)
    assert bad.code == BridgeErrorCode.BAD_FRAME
    assert "bad_magic" in bad.message
    with pytest.raises(EOFError):
        peer.recv(timeout_s=5)


def test_csharp_live_session_with_reconnect(exe: Path) -> None:
    with socket.create_server(("127.0.0.1", 0)) as server:
        server.settimeout(30)
        port = server.getsockname()[1]
        proc = subprocess.Popen(
            [MONO, str(exe), "live", "127.0.0.1", str(port)],
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        )  # fmt: skip
        try:
            first = _handshake(server)
            _session_one(first)
            first.sock.close()  # the adapter drops the connection; the platform side must come back
            second = _handshake(server)
            _session_two(second)
            second.sock.close()
            out, _ = proc.communicate(timeout=30)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.communicate()
    assert proc.returncode == 0, out
    assert "LIVE OK sessions=2" in out, out
    assert "reconnecting in" in out, out
