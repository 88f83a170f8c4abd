"""A DTC server that plays Sierra Chart's (binary encoding, protocol 8), for tests and the demo.

Every client speaks real DTC frames over TCP to it. Its trading state (`SimulatedTradingService`)
belongs to the server, not to a connection: it outlives clients and adapter processes, so what
happened during a gap is there to be recovered. Every logged-on session receives every ORDER_UPDATE
(as a DTC server does), heartbeats at the interval its LOGON_REQUEST asked for, and the market data
it subscribed to (snapshot, then bid/ask and trade updates each market step).

Fault injection (`SimFaults`; armed in-process or over the control port, see `control.py`):
- `drop_before_ack`: the next order is processed (and may fill) but its session is closed before
  any ORDER_UPDATE for it is sent: the client cannot know the outcome.
- `drop_after_accept`: the next order's first ORDER_UPDATE (accepted) is sent, then its session is
  closed before its fills: the fills happen in the engine and wait in the fill history.
- `reject_next`: the engine rejects the next orders with a text (ORDER_UPDATE InfoText).
- heartbeats `normal` / `slow` (interval x factor) / `missing`; `freeze`: send nothing at all.
- `inject(bytes)`: raw bytes (garbage, truncated frames) into every session's stream.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from dataclasses import dataclass
from typing import Any

from nexus_sierra.dtc.codec import (
    AccountBalanceRequest,
    CancelOrder,
    CurrentPositionsRequest,
    DtcDecodeError,
    DtcHeartbeat,
    EncodingEnum,
    EncodingRequest,
    EncodingResponse,
    FrameReader,
    HistoricalOrderFillsRequest,
    Logoff,
    LogonRequest,
    LogonResponse,
    LogonStatusEnum,
    MarketDataReject,
    MarketDataRequest,
    MarketDataUpdateBidAsk,
    MarketDataUpdateTrade,
    Message,
    OpenOrdersRequest,
    OrderStatusEnum,
    OrderUpdate,
    RequestActionEnum,
    SubmitNewSingleOrder,
    TradeAccountsRequest,
    encode_binary,
)
from nexus_sierra.simulator.venue import SimulatedTradingService

log = logging.getLogger(__name__)
SERVER_NAME = "NEXUS DTC simulator"


@dataclass
class SimFaults:
    drop_before_ack: int = 0
    drop_after_accept: int = 0
    heartbeat_mode: str = "normal"  # normal | slow | missing
    slow_factor: float = 4.0
    frozen: bool = False


class _Session:
    def __init__(
        self, server: DtcSimulator, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        self.server, self.reader, self.writer = server, reader, writer
        self.peer = str(writer.get_extra_info("peername"))
        self.logged_on = False
        self.heartbeat_interval_s = 10.0
        self.subscriptions: dict[int, str] = {}
        self.closed = False
        self._beats: asyncio.Task[None] | None = None

    def send(self, msg: Message) -> None:
        if not self.closed and not self.server.faults.frozen:
            self.writer.write(encode_binary(msg))

    def send_raw(self, data: bytes) -> None:
        if not self.closed:
            self.writer.write(data)

    def close(self, reason: str) -> None:
        if self.closed:
            return
        self.closed = True
        log.info("session %s closed: %s", self.peer, reason)
        if self._beats is not None:
            self._beats.cancel()
        self.writer.close()  # what was written still goes out first

    async def run(self) -> None:
        frames = FrameReader()
        try:
            while not self.closed:
                data = await self.reader.read(65_536)
                if not data:
                    break
                for msg in frames.feed(data):
                    self.handle(msg)
                    if self.closed:
                        break
        except DtcDecodeError as exc:
            log.warning("session %s sent bytes that are not DTC: %s", self.peer, exc)
        except (ConnectionError, OSError):
            pass
        finally:
            self.close("connection ended")
            self.server.sessions.discard(self)

    async def _heartbeats(self) -> None:
        while not self.closed:
            faults = self.server.faults
            factor = faults.slow_factor if faults.heartbeat_mode == "slow" else 1.0
            await asyncio.sleep(self.heartbeat_interval_s * factor)
            if self.server.faults.heartbeat_mode != "missing":
                self.send(DtcHeartbeat(current_date_time_s=int(time.time())))

    def handle(self, msg: Message) -> None:
        venue, server = self.server.venue, self.server
        if isinstance(msg, EncodingRequest):
            self.send(EncodingResponse(encoding=EncodingEnum.BINARY))
        elif isinstance(msg, LogonRequest):
            self.logon(msg)
        elif isinstance(msg, DtcHeartbeat):
            pass
        elif isinstance(msg, Logoff):
            self.close(f"client logged off: {msg.reason!r}")
        elif not self.logged_on:
            log.info("session %s: %s before logon ignored", self.peer, type(msg).__name__)
        elif isinstance(msg, TradeAccountsRequest):
            self.send_all(venue.trade_accounts(msg.request_id))
        elif isinstance(msg, OpenOrdersRequest):
            self.send_all(venue.open_orders(msg))
        elif isinstance(msg, HistoricalOrderFillsRequest):
            self.send_all(venue.historical_fills(msg))
        elif isinstance(msg, CurrentPositionsRequest):
            self.send_all(venue.positions(msg.request_id, msg.trade_account))
        elif isinstance(msg, AccountBalanceRequest):
            self.send(venue.balance(msg.trade_account, msg.request_id))
        elif isinstance(msg, SubmitNewSingleOrder):
            server.submit(self, msg)
        elif isinstance(msg, CancelOrder):
            server.broadcast(venue.cancel(msg.server_order_id, msg.client_order_id))
        elif isinstance(msg, MarketDataRequest):
            self.market_data(msg)
        else:
            log.info("session %s: %s not simulated, ignored", self.peer, type(msg).__name__)

    def send_all(self, msgs: list[Any]) -> None:
        for m in msgs:
            self.send(m)

    def logon(self, msg: LogonRequest) -> None:
        server = self.server
        if server.username and (msg.username, msg.password) != (server.username, server.password):
            self.send(LogonResponse(result=LogonStatusEnum.ERROR, result_text="bad username or password"))
            return
        self.logged_on = True
        self.heartbeat_interval_s = float(max(1, msg.heartbeat_interval_s or 10))
        server.logons += 1
        self.send(
            LogonResponse(
                result=LogonStatusEnum.SUCCESS,
                result_text="logged on",
                server_name=SERVER_NAME,
                trading_is_supported=True,
                market_data_supported=True,
                order_cancel_replace_supported=False,
                market_depth_is_supported=False,
            )
        )
        self._beats = asyncio.get_running_loop().create_task(self._heartbeats())

    def market_data(self, msg: MarketDataRequest) -> None:
        if msg.request_action is RequestActionEnum.UNSUBSCRIBE:
            self.subscriptions.pop(msg.symbol_id, None)
        elif not self.server.venue.ensure_instrument(msg.symbol):
            self.send(MarketDataReject(symbol_id=msg.symbol_id, reject_text=f"unknown symbol {msg.symbol!r}"))
        else:
            self.subscriptions[msg.symbol_id] = msg.symbol
            self.send(self.server.venue.snapshot(msg.symbol_id, msg.symbol))


class DtcSimulator:
    """The server; run its coroutines on one event loop (`control.RunningSimulator` does it in a thread)."""

    def __init__(
        self,
        venue: SimulatedTradingService,
        *,
        md_interval_s: float = 0.25,
        username: str = "",
        password: str = "",
    ) -> None:
        self.venue = venue
        self.md_interval_s = md_interval_s
        self.username, self.password = username, password
        self.faults = SimFaults()
        self.sessions: set[_Session] = set()
        self._runs: set[asyncio.Task[Any]] = set()  # the sessions' reader tasks, awaited at close
        self.logons = 0
        self._server: asyncio.Server | None = None
        self._market: asyncio.Task[None] | None = None

    async def start(self, host: str = "127.0.0.1", port: int = 0) -> int:
        self._server = await asyncio.start_server(self._accept, host, port)
        self._market = asyncio.get_running_loop().create_task(self._market_loop())
        bound: int = self._server.sockets[0].getsockname()[1]
        log.info("DTC simulator listening on %s:%d", host, bound)
        return bound

    async def close(self) -> None:
        if self._market is not None:
            self._market.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._market
        for s in list(self.sessions):
            s.close("simulator stopping")
        if self._runs:  # their reads end at the closed transports: let them finish, not be cancelled
            await asyncio.wait(self._runs, timeout=2.0)
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        session = _Session(self, reader, writer)
        self.sessions.add(session)
        task = asyncio.current_task()
        if task is not None:
            self._runs.add(task)
            task.add_done_callback(self._runs.discard)
        await session.run()

    async def _market_loop(self) -> None:
        while True:
            await asyncio.sleep(self.md_interval_s)
            try:
                self.broadcast(self.venue.process())
                self._publish_quotes()
            except Exception:
                log.exception("market step failed")

    def _publish_quotes(self) -> None:
        for s in list(self.sessions):
            for symbol_id, symbol in s.subscriptions.items():
                q = self.venue.market.quote(symbol)
                s.send(
                    MarketDataUpdateBidAsk(
                        symbol_id=symbol_id,
                        bid_price=q.bid,
                        bid_quantity=q.bid_size,
                        ask_price=q.ask,
                        ask_quantity=q.ask_size,
                        date_time_s=q.ts_ns // 10**9,
                    )
                )
                s.send(
                    MarketDataUpdateTrade(
                        symbol_id=symbol_id, price=q.last, volume=q.last_size, date_time_s=q.ts_ns / 1e9
                    )
                )

    def broadcast(self, updates: list[OrderUpdate], *, exclude: _Session | None = None) -> None:
        """Order updates to every session, then an unsolicited balance of each account they filled in."""
        balances = [self.venue.balance(a) for a in self.venue.fill_accounts(updates)]
        for s in list(self.sessions):
            if s.logged_on and s is not exclude:
                for m in [*updates, *balances]:
                    s.send(m)

    def submit(self, session: _Session, msg: SubmitNewSingleOrder) -> None:
        updates = self.venue.submit(msg)
        f = self.faults
        accepted = bool(updates) and updates[0].order_status is not OrderStatusEnum.REJECTED
        if f.drop_before_ack > 0:
            f.drop_before_ack -= 1
            self.broadcast(updates, exclude=session)
            session.close(f"fault: dropped before acknowledging {msg.client_order_id}")
        elif f.drop_after_accept > 0 and accepted:
            f.drop_after_accept -= 1
            session.send(updates[0])
            self.broadcast(updates, exclude=session)
            session.close(f"fault: dropped after accepting {msg.client_order_id}")
        else:
            self.broadcast(updates)

    # ---- control (tests, the control port) ---------------------------------------------------

    def control(self, op: str, args: dict[str, Any]) -> Any:
        """One control operation; runs on the simulator's loop. See `control.SimulatorControl`."""
        f, count = self.faults, int(args.get("count", 1))
        if op == "drop_before_ack":
            f.drop_before_ack += count
        elif op == "drop_after_accept":
            f.drop_after_accept += count
        elif op == "reject_next":
            self.venue.engine.faults.reject_next(count, text=str(args.get("text", "injected reject")))
        elif op == "heartbeats":
            mode = str(args["mode"])
            if mode not in ("normal", "slow", "missing"):
                raise ValueError(f"heartbeat mode {mode!r}: normal, slow or missing")
            f.heartbeat_mode, f.slow_factor = mode, float(args.get("factor", f.slow_factor))
        elif op == "freeze":
            f.frozen = bool(args.get("on", True))
        elif op == "inject":
            for s in list(self.sessions):
                s.send_raw(bytes.fromhex(str(args["data"])))
        elif op == "drop_connections":
            for s in list(self.sessions):
                s.close("control: drop connections")
        elif op == "set_price":
            self.broadcast(self.venue.set_price(str(args["symbol"]), float(args["price"])))
        elif op == "clear_faults":
            self.faults = SimFaults()
            self.venue.engine.faults.clear()
        elif op == "stats":
            return {**self.venue.stats(), "sessions": len(self.sessions), "logons": self.logons}
        else:
            raise ValueError(f"unknown control operation {op!r}")
        return None
