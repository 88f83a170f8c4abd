"""NEXUS mesh add-on for Bookmap: streams market data and executes orders for the NEXUS adapter.

Bookmap starts this script with its own Python (3.7+) and a TCP port as sys.argv[1]; the `bookmap`
package connects back to Bookmap on that port. The script connects out to the NEXUS Bookmap adapter over
a WebSocket and speaks the JSON protocol of `nexus_bookmap.addon_protocol` (it cannot import that module:
only `bookmap` and `websocket-client` are available here; `addon_vectors.json` keeps both in step).

Guarantees:
- Bookmap's callback thread never waits on the network: handlers update local state under a short lock
  and put messages on a queue; one sender thread writes the WebSocket, one link thread reads it.
- The link reconnects forever with capped exponential backoff (with jitter). While it is down, order
  events are held and sent after the next hello; market data is dropped and replaced by a book snapshot.
- Our client order id travels in Bookmap's clientId; Bookmap's order ids are mapped back to it. A client
  id is sent to Bookmap at most once per add-on process; a repeat gets the order's current state.
- An order is acknowledged only by what Bookmap says about it (its first update, with Bookmap's order
  id) or refused by the add-on itself; the add-on never answers for Bookmap.
- If the connection to Bookmap itself closes, the adapter is told (error bookmap_disconnected) and the
  process exits, since the `bookmap` package cannot recover from that.

Settings: edit the block below or set the environment variables it names.
"""

# Bookmap calls handlers with positional arguments; the builders mirror the schema field for field.

from __future__ import annotations

import contextlib
import json
import math
import os
import queue
import random
import socket
import sys
import threading
import time
import traceback
import uuid
from collections import OrderedDict, deque
from decimal import Decimal

import bookmap as bm
import websocket

# ---- settings ------------------------------------------------------------------------------------------
ADAPTER_URL = os.environ.get("NX_BOOKMAP_URL", "ws://127.0.0.1:9003/addon")
TOKEN = os.environ.get("NX_BOOKMAP_TOKEN", "")
ALLOW_TRADING = os.environ.get("NX_BOOKMAP_TRADING", "1").lower() not in ("0", "false", "no", "off")
BACKOFF_INITIAL_S = float(os.environ.get("NX_BOOKMAP_BACKOFF_INITIAL_S", "0.5"))
BACKOFF_MAX_S = float(os.environ.get("NX_BOOKMAP_BACKOFF_MAX_S", "30"))
HEARTBEAT_S = float(os.environ.get("NX_BOOKMAP_HEARTBEAT_S", "5"))
MARKET_BACKLOG_MAX = 50000  # queued depth/trade messages before market data is dropped and resynced
# ---------------------------------------------------------------------------------------------------------

ADDON_VERSION = "0.1.0"
PROTOCOL_VERSION = 1
MAX_ORDERS = 5000
MAX_EXECUTIONS = 5000
# held while the link is down (instrument messages are not: every hello re-sends them with a snapshot)
_HELD = (
    "order_update",
    "execution",
    "position",
    "balance",
    "open_orders_snapshot",
    "error",
    "instrument_removed",
)
_STATUS = {"PENDING_SUBMIT": "pending", "FILLED": "filled", "CANCELLED": "cancelled", "REJECTED": "rejected"}
_TYPES = {"LMT": "limit", "MKT": "market", "STP": "stop"}
_DURATIONS = {"gtc": "GTC", "day": "DAY", "ioc": "IOC", "fok": "FOK"}


def log(text):
    try:
        sys.stderr.write("[nexus] " + text + "\n")  # one write: threads do not interleave inside a line
        sys.stderr.flush()
    except (OSError, ValueError):
        pass  # Bookmap died and took stderr's reader with it: the watchdog must still get to exit


# ---- message builders (mirror nexus_bookmap.addon_protocol field for field) -----------------------------


def encode(msg):
    return json.dumps(msg, sort_keys=True, separators=(",", ":"), allow_nan=False)


def finite(value):
    """A JSON-safe float, or None for Bookmap's NaN / missing values."""
    if value is None:
        return None
    value = float(value)
    return value if math.isfinite(value) else None


def build_hello(token, addon_version, instance_id, can_trade):
    return {
        "type": "hello",
        "protocol": PROTOCOL_VERSION,
        "token": token,
        "addon_version": addon_version,
        "instance_id": instance_id,
        "can_trade": bool(can_trade),
    }


def build_instrument(
    alias, full_name, pips, size_multiplier, instrument_multiplier, is_crypto, can_trade, seq
):
    return {
        "type": "instrument",
        "alias": alias,
        "full_name": full_name,
        "pips": float(pips),
        "size_multiplier": float(size_multiplier),
        "instrument_multiplier": float(instrument_multiplier),
        "is_crypto": bool(is_crypto),
        "can_trade": bool(can_trade),
        "seq": int(seq),
    }


def build_instrument_removed(alias):
    return {"type": "instrument_removed", "alias": alias}


def build_depth(alias, is_bid, price, size, seq, snapshot=False):
    return {
        "type": "depth",
        "alias": alias,
        "is_bid": bool(is_bid),
        "price": float(price),
        "size": float(size),
        "seq": int(seq),
        "snapshot": bool(snapshot),
    }


def build_trade(alias, price, size, is_bid_aggressor, seq):
    return {
        "type": "trade",
        "alias": alias,
        "price": float(price),
        "size": float(size),
        "is_bid_aggressor": bool(is_bid_aggressor),
        "seq": int(seq),
    }


def build_order_update(
    client_id,
    order_id,
    alias,
    is_buy,
    status,
    venue_status,
    order_type,
    size,
    filled,
    avg_price,
    limit_price,
    stop_price,
    reason,
    time_ms,
):
    return {
        "type": "order_update",
        "client_id": client_id,
        "order_id": order_id,
        "alias": alias,
        "is_buy": bool(is_buy),
        "status": status,
        "venue_status": venue_status,
        "order_type": order_type,
        "size": float(size),
        "filled": float(filled),
        "avg_price": finite(avg_price),
        "limit_price": finite(limit_price),
        "stop_price": finite(stop_price),
        "reason": reason,
        "time_ms": int(time_ms),
    }


def build_execution(client_id, order_id, exec_id, alias, is_buy, price, size, time_ms):
    return {
        "type": "execution",
        "client_id": client_id,
        "order_id": order_id,
        "exec_id": exec_id,
        "alias": alias,
        "is_buy": None if is_buy is None else bool(is_buy),
        "price": float(price),
        "size": float(size),
        "time_ms": int(time_ms),
    }


def build_position(
    alias, position, avg_price, realized_pnl, unrealized_pnl, working_buys, working_sells, currency
):
    return {
        "type": "position",
        "alias": alias,
        "position": float(position),
        "avg_price": finite(avg_price),
        "realized_pnl": finite(realized_pnl),
        "unrealized_pnl": finite(unrealized_pnl),
        "working_buys": float(working_buys),
        "working_sells": float(working_sells),
        "currency": currency,
    }


def build_balance(currency, balance, realized_pnl, unrealized_pnl, net_liquidity):
    return {
        "type": "balance",
        "currency": currency,
        "balance": finite(balance),
        "realized_pnl": finite(realized_pnl),
        "unrealized_pnl": finite(unrealized_pnl),
        "net_liquidity": finite(net_liquidity),
    }


def build_open_orders_snapshot(request_id, complete, orders, executions, positions):
    return {
        "type": "open_orders_snapshot",
        "request_id": request_id,
        "complete": bool(complete),
        "orders": list(orders),
        "executions": list(executions),
        "positions": list(positions),
    }


def build_heartbeat(ts_ms):
    return {"type": "heartbeat", "ts_ms": int(ts_ms)}


def build_error(code, message, client_id=None):
    return {"type": "error", "code": code, "message": message, "client_id": client_id}


def now_ms():
    return int(time.time() * 1000)


# ---- state -----------------------------------------------------------------------------------------------


class Instrument:
    """One attached alias: its grid, its book (price level -> size level) and its market-data seq."""

    def __init__(self, alias, full_name, is_crypto, pips, size_multiplier, instrument_multiplier, features):
        self.alias, self.full_name, self.is_crypto = alias, full_name, is_crypto
        self.pips, self.size_multiplier, self.instrument_multiplier = (
            pips,
            size_multiplier,
            instrument_multiplier,
        )
        self.pips_d, self.mult_d = Decimal(repr(float(pips))), Decimal(repr(float(size_multiplier)))
        self.can_trade = bool((features or {}).get("trading", False))
        self.seq = 0
        self.bids, self.asks = {}, {}
        self.order_req_id = None
        self.orders_synced = False

    def price(self, level):
        return float(Decimal(repr(float(level))) * self.pips_d)

    def size(self, level):
        return float(Decimal(int(level)) / self.mult_d)

    def price_level(self, price):
        """The integer level of a real price, or None when it is off the tick grid."""
        exact = Decimal(repr(float(price))) / self.pips_d
        level = int(exact.to_integral_value())
        return level if abs(exact - level) < Decimal("1e-9") else None

    def size_level(self, size):
        exact = Decimal(repr(float(size))) * self.mult_d
        level = int(exact.to_integral_value())
        return level if level > 0 and abs(exact - level) < Decimal("1e-9") else None

    def message(self):
        return build_instrument(
            self.alias,
            self.full_name,
            self.pips,
            self.size_multiplier,
            self.instrument_multiplier,
            self.is_crypto,
            self.can_trade,
            self.seq,
        )


class AddonOrder:
    """What the add-on knows about one order (ours, or one Bookmap reported)."""

    def __init__(self, client_id, alias, is_buy, size, order_type, limit_price, stop_price):
        self.client_id, self.alias, self.is_buy, self.size = client_id, alias, is_buy, size
        self.order_type, self.limit_price, self.stop_price = order_type, limit_price, stop_price
        self.order_id = None
        self.status, self.venue_status = "pending", "SENT"
        self.filled, self.avg_price, self.reason = 0.0, None, None
        self.time_ms = now_ms()
        self.cancel_wanted = False

    def message(self):
        return build_order_update(
            self.client_id,
            self.order_id,
            self.alias,
            self.is_buy,
            self.status,
            self.venue_status,
            self.order_type,
            self.size,
            self.filled,
            self.avg_price,
            self.limit_price,
            self.stop_price,
            self.reason,
            self.time_ms,
        )


class State:
    def __init__(self):
        self.lock = threading.Lock()
        self.instruments = {}
        self.orders = OrderedDict()  # key: client id (ours) or "bm:" + order id (Bookmap's own orders)
        self.by_order_id = {}
        self.executions = deque(maxlen=MAX_EXECUTIONS)
        self.positions = {}
        self.seqs = {}  # alias -> last seq, so a re-attached alias continues its sequence
        self.req_id = 0

    def next_req_id(self):
        self.req_id += 1
        return self.req_id

    def remember(self, key, order):
        self.orders[key] = order
        while len(self.orders) > MAX_ORDERS:
            _, old = self.orders.popitem(last=False)
            self.by_order_id.pop(old.order_id, None)

    def can_trade(self):
        return ALLOW_TRADING and any(i.can_trade for i in self.instruments.values())


# ---- the WebSocket link ------------------------------------------------------------------------------------


class Link:
    """The connection to the adapter: a link thread connects and reads, a sender thread writes."""

    def __init__(self, state, url, token, on_command):
        self.state, self.url, self.token, self.on_command = state, url, token, on_command
        self.instance_id = uuid.uuid4().hex
        self.outbox = queue.Queue()
        self.held = deque()
        self.ws = None
        self.fresh = False  # a new connection that has not had its hello yet
        self.counter_lock = threading.Lock()
        self.market_backlog = 0
        self.resync = set()
        self.snapshot_seq = {}
        self.dropped = 0
        self.running = True
        self.sending = False
        self.first_instrument = threading.Event()

    # called from any thread; never blocks
    def put(self, msg):
        if msg["type"] in ("depth", "trade"):
            with self.counter_lock:
                if self.market_backlog >= MARKET_BACKLOG_MAX:
                    self.dropped += 1
                    self.resync.add(msg["alias"])
                    return
                self.market_backlog += 1
        self.outbox.put(msg)

    def start(self):
        for target, name in ((self._link_loop, "nexus-link"), (self._send_loop, "nexus-sender")):
            threading.Thread(target=target, name=name, daemon=True).start()

    def idle(self):
        return self.outbox.empty() and not self.sending and (self.ws is None or not self.held)

    # -- link thread: connect, read, reconnect ---------------------------------------------------------
    def _link_loop(self):
        self.first_instrument.wait(2.0)  # so the first hello already knows whether we can trade
        attempt = 0
        while self.running:
            ws, connected_at = None, None
            try:
                headers = ["Authorization: Bearer " + self.token] if self.token else []
                ws = websocket.WebSocket(enable_multithread=True)
                ws.connect(self.url, timeout=10, header=headers)
                ws.settimeout(1.0)
                log("connected to " + self.url)
                connected_at = time.monotonic()
                self.fresh, self.ws = True, ws
                self._read(ws)
            except Exception as exc:
                log("link: " + repr(exc))
            self.ws = None
            if ws is not None:
                with contextlib.suppress(Exception):
                    ws.shutdown()  # no closing handshake: the peer is gone or already said goodbye
            if connected_at is not None and time.monotonic() - connected_at > 10:
                attempt = 0  # a connection that held resets the backoff; a flapping one does not
            delay = min(BACKOFF_MAX_S, BACKOFF_INITIAL_S * (2 ** min(attempt, 30)))
            delay *= random.uniform(0.8, 1.0)
            attempt += 1
            time.sleep(delay)

    def _read(self, ws):
        last_seen = time.monotonic()
        while self.running:
            try:
                opcode, data = ws.recv_data(control_frame=True)
            except websocket.WebSocketTimeoutException:
                if time.monotonic() - last_seen > 3 * HEARTBEAT_S + 1:
                    raise OSError("no traffic from the adapter") from None
                continue
            last_seen = time.monotonic()
            if opcode == websocket.ABNF.OPCODE_CLOSE:
                raise OSError("closed by the adapter")
            if opcode != websocket.ABNF.OPCODE_TEXT:
                continue
            text = data.decode("utf-8") if isinstance(data, bytes) else data
            try:
                msg = json.loads(text)
                if not isinstance(msg, dict) or not isinstance(msg.get("type"), str):
                    raise ValueError("not a message object")
            except ValueError as exc:
                self.put(build_error("bad_message", "cannot parse: " + str(exc)))
                continue
            try:
                self.on_command(msg)
            except Exception as exc:
                traceback.print_exc()
                self.put(build_error("bad_message", f"{msg.get('type')}: {exc!r}", msg.get("client_id")))

    # -- sender thread: the only writer --------------------------------------------------------------------
    def _send_loop(self):
        last_sent = last_ping = time.monotonic()
        while self.running:
            ws = self.ws
            if ws is not None and self.fresh:
                self.fresh = False
                if not self._send_all(ws, self._greeting()):
                    continue
                last_sent = time.monotonic()
            if ws is not None and self.resync and self.market_backlog == 0:
                with self.counter_lock:
                    aliases, self.resync = self.resync, set()
                if not self._send_all(ws, self._snapshots(aliases)):
                    continue
            try:
                msg = self.outbox.get(timeout=0.2)
            except queue.Empty:
                msg = None
            if msg is not None and msg["type"] in ("depth", "trade"):
                with self.counter_lock:
                    self.market_backlog -= 1
                if msg["type"] == "depth" and msg["seq"] <= self.snapshot_seq.get(msg["alias"], -1):
                    continue  # already in the snapshot we sent
            ws = self.ws
            if ws is None or self.fresh:
                if msg is not None and msg["type"] in _HELD:
                    self.held.append(msg)
                continue
            if msg is None and time.monotonic() - last_sent >= HEARTBEAT_S:
                msg = build_heartbeat(now_ms())
            if msg is not None and self._send_all(ws, [msg]):
                last_sent = time.monotonic()
            if time.monotonic() - last_ping >= HEARTBEAT_S:
                last_ping = time.monotonic()
                with contextlib.suppress(Exception):
                    ws.ping()  # the pong keeps the link thread's idle check quiet under any load

    def _send_all(self, ws, msgs):
        self.sending = True
        try:
            for i, msg in enumerate(msgs):
                try:
                    ws.send(encode(msg))
                except Exception as exc:
                    log("send failed: " + repr(exc))
                    self.held.extendleft(reversed([m for m in msgs[i:] if m["type"] in _HELD]))
                    with contextlib.suppress(Exception):
                        ws.abort()
                    return False
            return True
        finally:
            self.sending = False

    def _greeting(self):
        with self.state.lock:
            hello = build_hello(self.token, ADDON_VERSION, self.instance_id, self.state.can_trade())
            aliases = list(self.state.instruments)
        msgs = [hello, *self._snapshots(aliases)]
        with self.state.lock:
            msgs.extend(self.state.positions.values())
        while self.held:
            msg = self.held.popleft()
            if msg["type"] != "position":  # the latest positions are already in
                msgs.append(msg)
        return msgs

    def _snapshots(self, aliases):
        msgs = []
        with self.state.lock:
            for alias in aliases:
                inst = self.state.instruments.get(alias)
                if inst is None:
                    continue
                self.snapshot_seq[alias] = inst.seq
                msgs.append(inst.message())
                for is_bid, book in ((True, inst.bids), (False, inst.asks)):
                    for level in sorted(book, reverse=is_bid):
                        msgs.append(
                            build_depth(
                                alias, is_bid, inst.price(level), inst.size(book[level]), inst.seq, True
                            )
                        )
        return msgs


# ---- Bookmap callbacks (Bookmap's thread: never block, never raise) ----------------------------------------


def guarded(fn):
    def wrapper(*args):
        try:
            fn(*args)
        except Exception:
            # an exception escaping a handler makes the bookmap package stop the add-on
            traceback.print_exc()

    wrapper.__name__ = fn.__name__
    return wrapper


class Addon:
    def __init__(self, addon, url=ADAPTER_URL, token=TOKEN):
        self.addon = addon
        self.state = State()
        self.link = Link(self.state, url, token, self.on_command)

    # -- instruments and market data --
    @guarded
    def on_instrument(
        self,
        addon,
        alias,
        full_name,
        is_crypto,
        pips,
        size_multiplier,
        instrument_multiplier,
        supported_features,
    ):
        st = self.state
        with st.lock:
            inst = Instrument(
                alias, full_name, is_crypto, pips, size_multiplier, instrument_multiplier, supported_features
            )
            inst.seq = st.seqs.get(alias, 0)
            st.instruments[alias] = inst
            inst.order_req_id = st.next_req_id()
            reqs = [
                (bm.subscribe_to_depth, st.next_req_id()),
                (bm.subscribe_to_trades, st.next_req_id()),
                (bm.subscribe_to_order_info, inst.order_req_id),
                (bm.subscribe_to_position_updates, st.next_req_id()),
                (bm.subscribe_to_balance_updates, st.next_req_id()),
            ]
        for subscribe, req_id in reqs:
            subscribe(addon, alias, req_id)
        self.link.put(inst.message())
        self.link.first_instrument.set()
        log(f"instrument {alias} pips={pips} size_multiplier={size_multiplier} trading={inst.can_trade}")

    @guarded
    def on_detached(self, addon, alias):
        with self.state.lock:
            inst = self.state.instruments.pop(alias, None)
            if inst is not None:
                self.state.seqs[alias] = inst.seq
        self.link.put(build_instrument_removed(alias))

    @guarded
    def on_response(self, addon, req_id):
        with self.state.lock:
            for inst in self.state.instruments.values():
                if inst.order_req_id == req_id:
                    inst.orders_synced = True

    @guarded
    def on_depth(self, addon, alias, is_bid, price_level, size_level):
        with self.state.lock:
            inst = self.state.instruments.get(alias)
            if inst is None:
                return
            book = inst.bids if is_bid else inst.asks
            if size_level == 0:
                book.pop(price_level, None)
            else:
                book[price_level] = size_level
            inst.seq += 1
            msg = build_depth(alias, is_bid, inst.price(price_level), inst.size(size_level), inst.seq)
        self.link.put(msg)

    @guarded
    def on_trade(self, addon, alias, price_level, size_level, is_otc, is_bid_aggressor, *_rest):
        with self.state.lock:
            inst = self.state.instruments.get(alias)
            if inst is None:
                return
            inst.seq += 1
            msg = build_trade(
                alias, inst.price(price_level), inst.size(size_level), is_bid_aggressor, inst.seq
            )
        self.link.put(msg)

    # -- orders --
    @guarded
    def on_order_updated(self, addon, info):
        st, cancel = self.state, None
        with st.lock:
            order_id = str(info.get("orderId"))
            alias = info.get("instrumentAlias", "")
            inst = st.instruments.get(alias)
            mult = inst.size if inst is not None else float
            order = st.by_order_id.get(order_id) or self._match_pending(info)
            if order is None:  # not ours (manual) or older than this process: keep Bookmap's clientId
                client_id = info.get("clientId") or None
                order = AddonOrder(
                    client_id, alias, bool(info.get("isBuy")), 0.0, _TYPES.get(info.get("type")), None, None
                )
                st.remember(client_id if client_id else "bm:" + order_id, order)
            order.order_id = order_id
            st.by_order_id[order_id] = order
            filled, unfilled = int(info.get("filled") or 0), int(info.get("unfilled") or 0)
            order.filled = mult(filled)
            if order.size == 0.0 or order.status == "pending":
                order.size = max(order.size, mult(filled + unfilled))
            venue = str(info.get("status"))
            order.venue_status = venue
            order.status = _STATUS.get(venue) or ("partially_filled" if filled > 0 else "accepted")
            if venue == "REJECTED" and order.reason is None:
                order.reason = "rejected by Bookmap (the provider's reason is in Bookmap's log)"
            order.avg_price = finite(info.get("averageFillPrice")) if filled > 0 else None
            order.limit_price = finite(info.get("limitPrice"))
            order.stop_price = finite(info.get("stopPrice"))
            order.time_ms = int(info.get("modificationUtcTime") or now_ms())
            if order.cancel_wanted and venue in ("WORKING", "SUSPENDED", "INACTIVE"):
                order.cancel_wanted, cancel = False, (alias, order_id)
            msg = order.message()
        self.link.put(msg)
        if cancel is not None:
            bm.cancel_order(self.addon, cancel[0], cancel[1])

    def _match_pending(self, info):
        """Our order whose first update Bookmap sent without its clientId: oldest matching pending one."""
        client_id = info.get("clientId")
        order = self.state.orders.get(client_id) if client_id else None
        if order is not None:
            return order
        for order in self.state.orders.values():
            if (
                order.order_id is None
                and order.status == "pending"
                and order.client_id is not None
                and order.alias == info.get("instrumentAlias")
                and order.is_buy == bool(info.get("isBuy"))
            ):
                return order
        return None

    @guarded
    def on_order_executed(self, addon, alias, info):
        with self.state.lock:
            order_id = str(info.get("orderId"))
            order = self.state.by_order_id.get(order_id)
            inst = self.state.instruments.get(alias)
            size = inst.size(info.get("size") or 0) if inst is not None else float(info.get("size") or 0)
            msg = build_execution(
                order.client_id if order else None,
                order_id,
                str(info.get("executionId")),
                alias,
                order.is_buy if order else None,
                info.get("price"),
                size,
                info.get("time") or now_ms(),
            )
            self.state.executions.append(msg)
        self.link.put(msg)

    @guarded
    def on_position(self, addon, info):
        with self.state.lock:
            alias = info.get("instrumentAlias", "")
            inst = self.state.instruments.get(alias)
            size = inst.size if inst is not None else float
            msg = build_position(
                alias,
                size(info.get("position") or 0),
                info.get("averagePrice"),
                info.get("realizedPnl"),
                info.get("unrealizedPnl"),
                size(info.get("workingBuys") or 0),
                size(info.get("workingSells") or 0),
                info.get("currency"),
            )
            if self.state.positions.get(alias) == msg:
                return  # Bookmap repeats positions on an interval; forward changes only
            self.state.positions[alias] = msg
        self.link.put(msg)

    @guarded
    def on_balance(self, addon, info):
        for entry in info.get("balancesInCurrency") or []:
            self.link.put(
                build_balance(
                    entry.get("currency"),
                    entry.get("balance"),
                    entry.get("realizedPnl"),
                    entry.get("unrealizedPnl"),
                    entry.get("netLiquidityValue"),
                )
            )

    # ---- commands from the adapter (link thread) --------------------------------------------------------
    def on_command(self, msg):
        kind = msg["type"]
        if kind == "order_submit":
            self.submit(msg)
        elif kind == "order_cancel":
            self.cancel(msg)
        elif kind == "open_orders_query":
            with self.state.lock:
                st = self.state
                complete = all(i.orders_synced for i in st.instruments.values())
                reply = build_open_orders_snapshot(
                    str(msg.get("request_id", "")),
                    complete,
                    [o.message() for o in st.orders.values()],
                    list(st.executions),
                    list(st.positions.values()),
                )
            self.link.put(reply)
        elif kind == "heartbeat":
            pass
        elif kind == "error":
            log(f"adapter error: {msg.get('code')} {msg.get('message')}")
        else:
            self.link.put(build_error("bad_message", "unknown message type " + repr(kind)))

    def submit(self, msg):
        client_id, alias = str(msg["client_id"]), str(msg["alias"])
        is_buy, order_type = bool(msg["is_buy"]), str(msg.get("order_type") or "market")
        limit_price, stop_price = msg.get("limit_price"), msg.get("stop_price")
        params = None
        with self.state.lock:
            existing = self.state.orders.get(client_id)
            if existing is not None:  # never send a client id to Bookmap twice
                self.link.put(existing.message())
                return
            inst = self.state.instruments.get(alias)
            order = AddonOrder(
                client_id, alias, is_buy, float(msg["size"]), order_type, limit_price, stop_price
            )
            self.state.remember(client_id, order)
            reason = self._refusal(inst, msg)
            if reason is not None:
                order.status, order.venue_status, order.reason = "rejected", "REFUSED", reason
            else:
                params = bm.OrderSendParameters(alias, is_buy, inst.size_level(msg["size"]))
                params.client_id = client_id
                params.duration = _DURATIONS.get(str(msg.get("time_in_force") or "gtc"), "GTC")
                if limit_price is not None:
                    params.limit_price = inst.price(inst.price_level(limit_price))
                if stop_price is not None:
                    params.stop_price = inst.price(inst.price_level(stop_price))
            update = order.message()
        if params is None:
            self.link.put(update)  # refused here: answered at once
        else:
            # Answered by Bookmap's own first update (on_order_updated, with its order id), never by a
            # "pending" of ours: if Bookmap drops us now, the adapter looks the order up instead.
            bm.send_order(self.addon, params)

    def _refusal(self, inst, msg):
        if inst is None:
            return f"unknown alias {msg['alias']!r}: enable the add-on for it in Bookmap"
        if not ALLOW_TRADING:
            return "trading is disabled in the add-on settings (NX_BOOKMAP_TRADING)"
        if not inst.can_trade:
            return f"data-only connection: Bookmap reports that {inst.alias} cannot be traded here"
        if inst.size_level(msg["size"]) is None:
            return f"size {msg['size']} is not a positive multiple of 1/{inst.size_multiplier}"
        order_type = msg.get("order_type") or "market"
        if order_type not in ("market", "limit", "stop"):
            return f"unsupported order type {order_type!r}"
        for field in ("limit_price", "stop_price"):
            price = msg.get(field)
            if price is not None and inst.price_level(price) is None:
                return f"{field} {price} is not on the tick grid ({inst.pips})"
        if (order_type == "limit") != (msg.get("limit_price") is not None) or (
            (order_type == "stop") != (msg.get("stop_price") is not None)
        ):
            return f"prices do not match order type {order_type}"
        return None

    def cancel(self, msg):
        client_id, cancel = str(msg["client_id"]), None
        with self.state.lock:
            order = self.state.orders.get(client_id)
            if order is None:
                reply = build_error("unknown_order", "no order with client id " + client_id, client_id)
            else:
                reply = order.message()
                if order.status in ("pending", "accepted", "partially_filled"):
                    if order.order_id is None:
                        order.cancel_wanted = True
                    else:
                        cancel = (order.alias, order.order_id)
        if cancel is not None:
            bm.cancel_order(self.addon, cancel[0], cancel[1])
        else:
            self.link.put(reply)


def watch_bookmap(sock, link):
    """Exit when Bookmap closes its socket (peeking never takes data from the package's reader)."""
    while True:
        try:
            data = sock.recv(1, socket.MSG_PEEK)
        except OSError:
            data = b""
        if not data:
            break
        time.sleep(0.5)
    log("Bookmap closed the connection; exiting")
    link.put(build_error("bookmap_disconnected", "the add-on lost its connection to Bookmap and exits"))
    deadline = time.monotonic() + 2.0
    while not link.idle() and time.monotonic() < deadline:
        time.sleep(0.05)
    ws = link.ws
    if ws is not None:
        with contextlib.suppress(Exception):
            ws.close(timeout=1)
    os._exit(2)


def main():
    addon = bm.create_addon()
    app = Addon(addon)
    bm.add_depth_handler(addon, app.on_depth)
    bm.add_trades_handler(addon, app.on_trade)
    bm.add_response_data_handler(addon, app.on_response)
    bm.add_on_order_updated_handler(addon, app.on_order_updated)
    bm.add_on_order_executed_handler(addon, app.on_order_executed)
    bm.add_on_position_update_handler(addon, app.on_position)
    bm.add_on_balance_update_handler(addon, app.on_balance)
    app.link.start()
    if addon.get("socket") is not None:
        threading.Thread(
            target=watch_bookmap, args=(addon["socket"], app.link), name="nexus-watch", daemon=True
        ).start()
    bm.start_addon(addon, app.on_instrument, app.on_detached)
    log("started; adapter " + ADAPTER_URL)
    bm.wait_until_addon_is_turned_off(addon)


if __name__ == "__main__":
    main()
