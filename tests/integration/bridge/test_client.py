"""The client API against a real Redis and a bridge service on a thread: market data fan-out,
signals through the bridge, executions back (ours only, or all), slow callbacks that do not block
the reader, safe mode, and a Redis killed and restarted."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable
from typing import Any

import pytest
import redis

from nexus_bridge import AsyncNexusGatewayInterface, NexusGatewayInterface, SafeModeError
from nexus_mesh.embedded import RedisServer
from nexus_mesh.processor import StreamProcessor
from nexus_protocol import Envelope, Execution, Names, OrderStatus, Side, Signal, Tick
from nexus_protocol.codec import encode
from nexus_testing import read_stream, wait_for, xadd


def tick(client: redis.Redis, names: Names, symbol: str, price: float, n: int = 0) -> None:
    xadd(
        client,
        names.md(symbol),
        Envelope.new(Tick(venue="sim", symbol=symbol, last=price), id=f"t:{symbol}:{n}"),
    )


def final(client: redis.Redis, names: Names, sid: str, symbol: str = "NQ") -> None:
    ex = Execution(
        signal_id=sid,
        symbol=symbol,
        side=Side.BUY,
        quantity=1,
        status=OrderStatus.FILLED,
        final=True,
        filled_quantity=1,
        avg_price=21000.0,
    )
    xadd(client, names.executions, Envelope.new(ex, id=f"{sid}:final", trace=sid))


def published(client: redis.Redis, names: Names) -> list[str]:
    return [e.body.signal_id for e in read_stream(client, names.signals) if isinstance(e.body, Signal)]


class Recorder:
    def __init__(self, delay_s: float = 0.0) -> None:
        self.items: list[Any] = []
        self.delay_s = delay_s
        self.lock = threading.Lock()

    def __call__(self, item: Any) -> None:
        if self.delay_s:
            time.sleep(self.delay_s)
        with self.lock:
            self.items.append(item)


def test_threaded_client_market_data_signals_and_executions(
    redis_url: str,
    namespace: str,
    client: redis.Redis,
    names: Names,
    bridge_thread: Callable[..., StreamProcessor],
) -> None:
    bridge_thread(redis_url)
    gw = NexusGatewayInterface(redis_url, namespace=namespace, symbols=["NQ"])
    md, exs, status = Recorder(), Recorder(), Recorder()
    gw.set_market_data_callback(md)
    gw.set_execution_callback(exs)
    gw.set_status_callback(status)
    gw.connect()
    gw.start_listening()
    try:
        wait_for(lambda: status.items and status.items[-1] == "connected", what="connected")
        tick(client, names, "NQ", 21000.25)
        tick(client, names, "ES", 6000.0)  # not subscribed
        wait_for(lambda: md.items, what="a tick")
        assert md.items[0]["symbol"] == "NQ" and md.items[0]["price"] == 21000.25
        sid = gw.send_signal("NQ", "buy", 0.9, 1, mqscore={"composite": 0.8, "noise_level": 0.1})
        wait_for(lambda: sid in published(client, names), what="the bridge to publish the signal")
        final(client, names, "01JQ0000000000000000000000")  # someone else's
        final(client, names, sid)
        wait_for(lambda: exs.items, what="our execution")
        time.sleep(0.3)
        assert [e["signal_id"] for e in exs.items] == [sid]
        assert exs.items[0]["status"] == "filled" and exs.items[0]["final"] is True
        refused = gw.send_signal("NQ", "SELL", 0.5, 1)  # below the confidence floor: refused by the bridge
        wait_for(lambda: any(e["signal_id"] == refused for e in exs.items), what="the refusal")
        [r] = [e for e in exs.items if e["signal_id"] == refused]
        assert r["status"] == "rejected" and r["reason"].startswith("confidence")
        assert len(md.items) == 1
    finally:
        gw.stop()


def test_all_executions_option(
    redis_url: str,
    namespace: str,
    client: redis.Redis,
    names: Names,
    bridge_thread: Callable[..., StreamProcessor],
) -> None:
    bridge_thread(redis_url)
    gw = NexusGatewayInterface(redis_url, namespace=namespace, symbols=["NQ"], all_executions=True)
    exs = Recorder()
    gw.set_execution_callback(exs)
    gw.start_listening()
    try:
        final(client, names, "01JQ0000000000000000000000")
        wait_for(lambda: exs.items, what="any execution")
    finally:
        gw.stop()


def test_slow_market_data_callback_never_blocks_executions(
    redis_url: str,
    namespace: str,
    client: redis.Redis,
    names: Names,
    bridge_thread: Callable[..., StreamProcessor],
) -> None:
    bridge_thread(redis_url)
    gw = NexusGatewayInterface(redis_url, namespace=namespace, symbols=["NQ"], market_data_queue=10)
    md, exs = Recorder(delay_s=0.1), Recorder()
    gw.set_market_data_callback(md)
    gw.set_execution_callback(exs)
    gw.start_listening()
    try:
        wait_for(gw.is_connected, what="connected")
        sid = gw.send_signal("NQ", "BUY", 0.9, 1)
        pipe = client.pipeline(transaction=False)
        for i in range(300):
            env = Envelope.new(Tick(venue="sim", symbol="NQ", last=21000.0 + i), id=f"t{i}")
            pipe.xadd(names.md("NQ"), encode(env))  # type: ignore[arg-type]
        pipe.execute()
        started = time.monotonic()
        final(client, names, sid)
        wait_for(lambda: exs.items, timeout_s=5, what="the execution while market data is backlogged")
        assert time.monotonic() - started < 3.0  # delivered in line with 300 ticks at 0.1 s: 30 s
        wait_for(lambda: gw.dropped_market_data > 0, what="dropped ticks")
        assert len(md.items) < 50  # the slow callback saw only a few; the reader went on
        wait_for(lambda: md.items and md.items[-1]["price"] == 21299.0, what="the latest tick delivered last")
    finally:
        gw.stop()


def test_safe_mode_without_a_bridge_service(redis_url: str, namespace: str) -> None:
    gw = NexusGatewayInterface(redis_url, namespace=namespace, symbols=["NQ"])
    gw.connect()
    assert gw.status == "safe_mode"
    with pytest.raises(SafeModeError, match="no bridge service") as err:
        gw.send_signal("NQ", "BUY", 0.9, 1)
    assert err.value.status == "safe_mode"
    gw.stop()


def test_redis_killed_and_restarted(
    restartable_redis: RedisServer, namespace: str, bridge_thread: Callable[..., StreamProcessor]
) -> None:
    url = restartable_redis.url
    bridge_thread(url)
    gw = NexusGatewayInterface(url, namespace=namespace, symbols=["NQ"], max_backoff_s=0.5)
    status, exs = Recorder(), Recorder()
    gw.set_status_callback(status)
    gw.set_execution_callback(exs)
    gw.start_listening()
    try:
        wait_for(lambda: status.items and status.items[-1] == "connected", what="connected")
        restartable_redis.kill()
        wait_for(lambda: "disconnected" in status.items, what="disconnected")
        with pytest.raises(SafeModeError) as err:
            gw.send_signal("NQ", "BUY", 0.9, 1)
        assert err.value.status == "disconnected"
        restartable_redis.start()
        wait_for(lambda: status.items[-1] == "connected", timeout_s=20, what="connected again")
        assert status.items[:3] == ["connected", "disconnected", "connected"] or "safe_mode" in status.items
        sid = gw.send_signal(
            "NQ", "SELL", 0.5, 1
        )  # refused by the restarted bridge: its execution comes back
        wait_for(
            lambda: [e for e in exs.items if e["signal_id"] == sid],
            timeout_s=10,
            what="an execution after restart",
        )
    finally:
        gw.stop()


def test_async_client(
    redis_url: str,
    namespace: str,
    client: redis.Redis,
    names: Names,
    bridge_thread: Callable[..., StreamProcessor],
) -> None:
    bridge_thread(redis_url)

    async def main() -> None:
        gw = AsyncNexusGatewayInterface(redis_url, namespace=namespace, symbols=["NQ"], market_data_queue=5)
        ticks: list[dict[str, Any]] = []
        exs: list[dict[str, Any]] = []
        statuses: list[str] = []

        async def on_tick(d: dict[str, Any]) -> None:
            await asyncio.sleep(0.2)  # slow: the reader goes on
            ticks.append(d)

        def on_execution(e: dict[str, Any]) -> None:
            time.sleep(0.1)  # a blocking callback runs in a thread, not on the loop
            exs.append(e)

        gw.set_market_data_callback(on_tick)
        gw.set_execution_callback(on_execution)
        gw.set_status_callback(statuses.append)
        await gw.connect()
        await gw.start_listening()
        try:
            assert gw.status == "connected"
            sid = await gw.send_signal("NQ", "BUY", 0.9, 1, mqscore=0.8)
            for i in range(50):
                tick(client, names, "NQ", 21000.0 + i, i)
            final(client, names, sid)
            started = time.monotonic()
            while not exs and time.monotonic() - started < 3:
                await asyncio.sleep(0.02)
            assert [e["signal_id"] for e in exs] == [sid]
            assert time.monotonic() - started < 3.0  # in line behind 50 ticks at 0.2 s: 10 s
            while not ticks and time.monotonic() - started < 3:
                await asyncio.sleep(0.02)
            assert ticks and ticks[0]["symbol"] == "NQ"
            assert gw.dropped_market_data > 0
            assert sid in published(client, names)
        finally:
            await gw.stop()

    asyncio.run(main())
