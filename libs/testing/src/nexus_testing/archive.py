"""Archive test support: fixtures for a fresh database per test on the real PostgreSQL and on SQLite,
and a day of messages with known contents.

PostgreSQL: NX_TEST_PG_URL (default `postgresql://postgres@127.0.0.1:5432/postgres`, the machine's
server with trust auth); each test gets its own database, created and dropped here. Without a
reachable server the PostgreSQL cases are skipped with the reason, except under CI=true, where
they fail: CI must prove both databases.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from sqlalchemy import create_engine, func, select, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError, OperationalError

from nexus_protocol.codec import Envelope
from nexus_protocol.enums import OrderStatus, Severity, Side
from nexus_protocol.messages import (
    DeadLetter,
    Event,
    Execution,
    Fill,
    Leg,
    Message,
    Order,
    Route,
    RouteLeg,
    Signal,
    VenueOrder,
)

PG_URL = os.environ.get("NX_TEST_PG_URL", "postgresql://postgres@127.0.0.1:5432/postgres")


def _admin_url() -> str:
    return make_url(PG_URL).set(drivername="postgresql+psycopg").render_as_string(hide_password=False)


def pg_available() -> str | None:
    """None when the server answers, else why not."""
    try:
        engine = create_engine(_admin_url(), connect_args={"connect_timeout": 3})
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
        engine.dispose()
        return None
    except OperationalError as exc:
        return f"PostgreSQL at {make_url(PG_URL).render_as_string()} unreachable: {exc.orig}"


def create_database(name: str) -> str:
    engine = create_engine(_admin_url(), isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    engine.dispose()
    return make_url(_admin_url()).set(database=name).render_as_string(hide_password=False)


def drop_database(name: str) -> None:
    engine = create_engine(_admin_url(), isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    engine.dispose()


@pytest.fixture(scope="session")
def pg_server() -> str:
    """The PostgreSQL admin URL, or skip (fail under CI=true) when no server answers."""
    why = pg_available()
    if why is not None:
        if os.environ.get("CI") == "true":
            pytest.fail(why)
        pytest.skip(why)
    return _admin_url()


@pytest.fixture
def pg_database(pg_server: str) -> Iterator[str]:
    """A new, empty PostgreSQL database for this test; dropped afterwards."""
    name = f"nxtest_{uuid.uuid4().hex[:12]}"
    url = create_database(name)
    yield url
    drop_database(name)


@pytest.fixture(params=["sqlite", "postgresql"])
def archive_url(request: pytest.FixtureRequest, tmp_path: object) -> str:
    """An empty archive database: an SQLite file, then a PostgreSQL database."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path}/archive.db"
    url: str = request.getfixturevalue("pg_database")
    return url


def archived_rows(url: str) -> int:
    """Message rows in the archive at `url` (0 before the recorder made its tables)."""
    from nexus_archive import schema
    from nexus_archive.engine import open_engine

    engine = open_engine(url)
    try:
        with engine.connect() as conn:
            return sum(
                int(conn.execute(select(func.count()).select_from(t)).scalar_one())
                for t in schema.MESSAGE_TABLES
            )
    except DBAPIError:
        return 0
    finally:
        engine.dispose()


# ---- a day of messages ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Sample:
    stream: str
    entry_id: str
    env: Envelope[Message]


def signal_life(
    sid: str, ms: int, *, pnl: float = 0.0, venue: str = "nt8", symbol: str = "NQ"
) -> list[Sample]:
    """Everything one signal causes on the bus, on every recorded stream, at entry times from `ms`."""
    coid = f"{sid}.{venue[:2]}0"
    ts = ms * 1_000_000
    sig = Signal(signal_id=sid, symbol=symbol, side=Side.BUY, quantity=1, reference_price=21000.25)
    order = Order(client_order_id=coid, signal_id=sid, venue=venue, symbol=symbol, side=Side.BUY, quantity=1)
    vorder = VenueOrder(
        **{
            k: getattr(order, k)
            for k in ("client_order_id", "signal_id", "venue", "symbol", "side", "quantity")
        },
        venue_symbol=f"{symbol} 12-26",
        venue_quantity=1,
        point_value=20.0,
        venue_reference_price=21000.5,
    )
    fill: dict[str, Any] = {
        "fill_id": f"{coid}:f1",
        "client_order_id": coid,
        "signal_id": sid,
        "venue": venue,
        "status": OrderStatus.FILLED,
        "venue_symbol": f"{symbol} 12-26",
        "side": Side.BUY,
        "last_qty": 1,
        "last_price": 21000.75,
        "cum_qty": 1,
        "avg_price": 21000.75,
        "fee": 2.1,
    }
    raw = Fill(**fill)
    fill |= {"symbol": symbol, "qty_factor": 1.0, "point_value": 20.0}
    norm = Fill(**fill)
    usd = Fill(**fill, usd_rate=1.0, fee_usd=2.1)
    route = Route(
        signal_id=sid,
        symbol=symbol,
        side=Side.BUY,
        quantity=1,
        legs=(RouteLeg(venue=venue, client_order_id=coid, status=OrderStatus.PENDING),),
    )
    leg = Leg(
        venue=venue,
        client_order_id=coid,
        status=OrderStatus.FILLED,
        venue_symbol=f"{symbol} 12-26",
        quantity=1,
        filled_quantity=1,
        venue_filled_qty=1,
        avg_price=21000.75,
        slippage_points=0.25,
        slippage_usd=5.0,
        fees_usd=2.1,
        realized_pnl_usd=pnl,
    )
    ex = Execution(
        signal_id=sid,
        symbol=symbol,
        side=Side.BUY,
        quantity=1,
        status=OrderStatus.FILLED,
        final=True,
        filled_quantity=1,
        avg_price=21000.5,
        reference_price=21000.25,
        realized_pnl_usd=pnl,
        fees_usd=2.1,
        legs=(leg,),
    )
    items: list[tuple[str, str, Message]] = [
        ("signals", sid, sig),
        ("orders:routed", coid, order),
        (f"orders:{venue}", coid, vorder),
        ("fills", f"route:{sid}", route),
        ("fills:raw", raw.fill_id, raw),
        ("fills:normalized", raw.fill_id, norm),
        ("fills", raw.fill_id, usd),
        ("executions", f"{sid}:{raw.fill_id}", ex),
    ]
    return [
        Sample(stream, f"{ms + i}-{i}", Envelope(id=mid, trace=sid, ts=ts, body=body))
        for i, (stream, mid, body) in enumerate(items)
    ]


def event_sample(ms: int, n: int = 0) -> Sample:
    ev = Event(
        kind="venue_down",
        severity=Severity.WARNING,
        source="adapter-nt8",
        message="link lost",
        venue="nt8",
        data={"attempt": n, "raw": b"\x01\x02"},
    )
    return Sample(
        "events", f"{ms}-0", Envelope(id=f"venue_down:{n}", trace=f"venue_down:{n}", ts=ms * 10**6, body=ev)
    )


def dead_letter_sample(ms: int, n: int = 0) -> Sample:
    dl = DeadLetter(
        reason="invalid entry: missing header field (field 'type')",
        stream="nx:{signals}",
        entry_id=f"{ms}-{n}",
        group="router",
        consumer="router-1",
        deliveries=1,
        fields={"junk": b"\xff"},
    )
    mid = f"nx:{{signals}}/{ms}-{n}/router"
    return Sample("dlq", f"{ms}-{n}", Envelope(id=mid, trace=mid, ts=ms * 10**6, body=dl))
