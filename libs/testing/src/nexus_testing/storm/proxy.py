"""A TCP proxy between each adapter and its platform that a nemesis can cut or hang on cue.

`python -m nexus_testing.storm.proxy --control-port N --events FILE` runs one process holding every
link (asyncio; it lives apart from the test so a busy test never stalls a link by accident). A link
listens on a port of its own and forwards to the real listener; whoever dials (the adapter for MT5 and
Sierra, the platform for NinjaTrader, Quantower and the Bookmap add-on) is pointed at the proxy.

Faults, one armed per link at a time (`Fault`):
- action `cut`: both sockets of every session are aborted; `hang`: the proxy stops passing bytes in
  both directions (sockets stay open, new connections are accepted and get nothing) for `hold_s`,
  then cuts. After either, new connections are refused (accepted and closed) for `down_s`.
- `at`, the boundary: `now`; `submit` (the next order on its way to the platform, seen as a client
  order id of the link's venue code, is not forwarded); `sent` (forwarded, then the fault: the
  platform took it, its answer is lost); `accept` (the platform's first bytes naming that order are
  not forwarded); `fill` (the second). A fault whose boundary does not come within `timeout_s` expires.
Every fired or expired fault is a JSON line in the events file, for the storm's report.

The control port takes one JSON object per line and answers one: `{"op": "link", ...LinkSpec}`,
`{"op": "fault", ...Fault}` (answers its id), `{"op": "stats"}`. `ProxyControl` is its client.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import re
import socket
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal

from nexus_testing.storm.wsview import WsView

Action = Literal["cut", "hang"]
At = Literal["now", "submit", "sent", "accept", "fill"]
_ULID = rb"[0-9A-HJKMNP-TV-Z]{26}"
_TAIL = 64  # bytes kept from the previous chunk, so an id split across two reads is still seen


@dataclass(frozen=True, kw_only=True, slots=True)
class LinkSpec:
    name: str  # the venue
    code: str  # its 2-character code in client order ids
    listen_host: str
    listen_port: int
    target_host: str
    target_port: int
    platform_dials: bool  # the platform is the proxy's client (else the adapter is)
    websocket: bool = False  # the client's frames are masked: look at them unmasked


@dataclass(frozen=True, kw_only=True, slots=True)
class Fault:
    link: str
    action: Action = "cut"
    at: At = "now"
    hold_s: float = 0.0
    down_s: float = 0.0
    timeout_s: float = 15.0


@dataclass(eq=False)
class _Armed:
    fault: Fault
    fault_id: int
    deadline: float
    coid: bytes = b""
    seen: int = 0  # the platform's chunks naming `coid` so far


@dataclass(eq=False)
class _Link:
    spec: LinkSpec
    events: Path
    sessions: set[asyncio.StreamWriter] = field(default_factory=set)
    flowing: asyncio.Event = field(default_factory=asyncio.Event)
    down_until: float = 0.0
    armed: _Armed | None = None
    counts: dict[str, int] = field(default_factory=lambda: {"sessions": 0, "fired": 0, "expired": 0})

    def __post_init__(self) -> None:
        self.flowing.set()
        self.order_id = re.compile(_ULID + rb"\." + re.escape(self.spec.code.encode()) + rb"[0-9a-z]")

    # ---- faults -------------------------------------------------------------------------------

    def arm(self, fault: Fault, fault_id: int) -> None:
        if self.armed is not None:
            self._log(self.armed, "replaced")
        self.armed = _Armed(fault, fault_id, time.monotonic() + fault.timeout_s)
        if fault.at == "now":
            self.fire()

    def expire(self) -> None:
        a = self.armed
        if a is not None and time.monotonic() > a.deadline:
            self.armed = None
            self.counts["expired"] += 1
            self._log(a, "expired")

    def verdict(self, seen: bytes, to_platform: bool) -> str:
        """`drop` (keep these bytes and fire), `after` (forward them, then fire) or `pass`."""
        self.expire()
        a = self.armed
        if a is None:
            return "pass"
        if to_platform and not a.coid:
            m = self.order_id.search(seen)
            if m is None:
                return "pass"
            a.coid = m.group(0)
            return {"submit": "drop", "sent": "after"}.get(a.fault.at, "pass")
        if not to_platform and a.coid and a.coid in seen:
            a.seen += 1
            if (a.fault.at, a.seen) in (("accept", 1), ("fill", 2)):
                return "drop"
        return "pass"

    def fire(self, delivered: asyncio.StreamWriter | None = None) -> None:
        """The armed fault happens; `delivered`: a session whose written bytes must still arrive (closed
        gracefully, where every other session is aborted)."""
        a, self.armed = self.armed, None
        if a is None:
            return
        self.counts["fired"] += 1
        self._log(a, "fired")
        if a.fault.action == "hang" and a.fault.hold_s > 0:
            self.flowing.clear()
            asyncio.get_running_loop().call_later(a.fault.hold_s, self._cut, a.fault.down_s)
        else:
            self._cut(a.fault.down_s, delivered)

    def _cut(self, down_s: float, delivered: asyncio.StreamWriter | None = None) -> None:
        self.down_until = time.monotonic() + down_s
        for w in list(self.sessions):
            if w is delivered:
                w.close()  # flushes what it holds, then FIN (an abort would drop it)
            else:
                w.transport.abort()
        self.sessions.clear()
        self.flowing.set()

    def _log(self, a: _Armed, outcome: str) -> None:
        line = {"ts": time.time(), "fault_id": a.fault_id, **asdict(a.fault), "outcome": outcome,
                "client_order_id": a.coid.decode(errors="replace")}  # fmt: skip
        with self.events.open("a") as f:
            f.write(json.dumps(line) + "\n")

    # ---- sessions -----------------------------------------------------------------------------

    async def serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if time.monotonic() < self.down_until:
            writer.transport.abort()
            return
        self.sessions.add(writer)
        self.counts["sessions"] += 1
        await self.flowing.wait()  # a hung link takes the connection and passes nothing
        if writer.transport.is_closing():  # cut at the end of the hang
            return
        try:
            up_reader, up_writer = await asyncio.open_connection(self.spec.target_host, self.spec.target_port)
        except OSError:
            self.sessions.discard(writer)
            writer.transport.abort()
            return
        self.sessions.add(up_writer)
        s = self.spec
        await asyncio.gather(
            self._pump(reader, up_writer, to_platform=not s.platform_dials, ws=s.websocket),
            self._pump(up_reader, writer, to_platform=s.platform_dials, ws=False),
        )
        for w in (writer, up_writer):
            self.sessions.discard(w)
            w.transport.abort()

    async def _pump(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, *, to_platform: bool, ws: bool
    ) -> None:
        view = WsView() if ws else None
        tail = b""
        try:
            while True:
                await self.flowing.wait()
                data = await reader.read(65536)
                if not data:
                    break
                await self.flowing.wait()
                if writer.transport.is_closing():
                    break
                seen = tail + (view.feed(data) if view is not None else data)
                tail = seen[-_TAIL:]
                verdict = self.verdict(seen, to_platform)
                if verdict == "drop":
                    self.fire()
                    continue  # hung: these bytes never go; cut: the sessions are gone
                if verdict == "after":
                    self.flowing.clear()  # the platform's answer must not slip back before the cut
                writer.write(data)
                await writer.drain()
                if verdict == "after":
                    self.fire(delivered=writer)
        except (ConnectionError, OSError):
            pass
        finally:
            writer.transport.abort()


class ProxyServer:
    def __init__(self, events: Path) -> None:
        self.events = events
        self.links: dict[str, _Link] = {}
        self._servers: list[asyncio.Server] = []
        self._next_fault = 1

    async def add_link(self, spec: LinkSpec) -> None:
        link = _Link(spec, self.events)
        self.links[spec.name] = link
        self._servers.append(await asyncio.start_server(link.serve, spec.listen_host, spec.listen_port))

    def fault(self, fault: Fault) -> int:
        fault_id, self._next_fault = self._next_fault, self._next_fault + 1
        self.links[fault.link].arm(fault, fault_id)
        return fault_id

    async def control(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while line := await reader.readline():
            try:
                writer.write((json.dumps(await self._command(json.loads(line))) + "\n").encode())
            except Exception as exc:  # an answer for every line, the error included
                writer.write((json.dumps({"ok": False, "error": repr(exc)}) + "\n").encode())
            await writer.drain()
        writer.close()

    async def _command(self, cmd: dict[str, Any]) -> dict[str, Any]:
        op = cmd.pop("op")
        if op == "link":
            await self.add_link(LinkSpec(**cmd))
            return {"ok": True}
        if op == "fault":
            return {"ok": True, "id": self.fault(Fault(**cmd))}
        if op == "stats":
            return {"ok": True, "links": {n: dict(lk.counts) for n, lk in self.links.items()}}
        raise ValueError(f"unknown op {op!r}")


class ProxyControl:
    """The test's side of the control port (blocking, one request at a time)."""

    def __init__(self, host: str, port: int, timeout_s: float = 30.0) -> None:
        self._sock = socket.create_connection((host, port), timeout=timeout_s)
        self._file = self._sock.makefile("rwb")

    def _ask(self, **cmd: Any) -> dict[str, Any]:
        self._file.write((json.dumps(cmd) + "\n").encode())
        self._file.flush()
        answer: dict[str, Any] = json.loads(self._file.readline())
        if not answer.get("ok"):
            raise RuntimeError(f"proxy: {answer.get('error')}")
        return answer

    def link(self, spec: LinkSpec) -> None:
        self._ask(op="link", **asdict(spec))

    def fault(self, fault: Fault) -> int:
        return int(self._ask(op="fault", **asdict(fault))["id"])

    def stats(self) -> dict[str, dict[str, int]]:
        links: dict[str, dict[str, int]] = self._ask(op="stats")["links"]
        return links

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self._file.close()
            self._sock.close()


def read_events(path: Path) -> list[dict[str, Any]]:
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


async def _main(host: str, port: int, events: Path) -> None:
    server = ProxyServer(events)
    control = await asyncio.start_server(server.control, host, port)
    async with control:
        while True:  # faults armed on an idle link expire too
            await asyncio.sleep(0.5)
            for link in server.links.values():
                link.expire()


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m nexus_testing.storm.proxy", description=__doc__)
    p.add_argument("--host", default="127.0.0.1", help="the control port's address")
    p.add_argument("--control-port", type=int, required=True)
    p.add_argument("--events", type=Path, required=True, help="JSON lines: every fault fired or expired")
    args = p.parse_args(argv)
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(_main(args.host, args.control_port, args.events))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
