"""The archive's tables (SQLAlchemy Core). Migrations in `migrations/versions` build exactly these.

Every message table starts with the same header: where the message was read (`namespace`, the
logical `stream` such as `signals`, `orders:nt8` or `fills:raw`, the Redis `entry_id` and its time),
the message's own header (`id`, `type`, `v`, `trace`, origin `ts_ns` and `origin_time`) and `data`,
the msgpack body exactly as it was on the bus: the typed columns are for queries, `data` is the
record (an entry read back from the archive decodes to the same message the stream held).

The primary key is (namespace, stream, id): a message id is unique within its stream (the mesh's
idempotent publish guarantees it), while one id may appear on several streams (a fill id on
`fills:raw`, `fills:normalized` and `fills`). Inserting a row whose key exists changes nothing.
Amounts (prices, quantities, money) are NUMERIC, times TIMESTAMP WITH TIME ZONE (see `types`).
"""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    Float,
    ForeignKeyConstraint,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    Table,
    Text,
    text,
)

from nexus_archive.types import Amount, UtcTime

metadata = MetaData(
    naming_convention={
        "ix": "ix_%(table_name)s_%(column_0_N_name)s",
        "pk": "pk_%(table_name)s",
        "fk": "fk_%(table_name)s_%(referred_table_name)s",
    }
)

KEY = ("namespace", "stream", "id")


def _message_table(name: str, *columns: Column[object], signal: bool = True, coid: bool = False) -> Table:
    """A table of one message kind: the common header, the kind's columns, the common indexes."""
    t = Table(
        name,
        metadata,
        Column("namespace", Text, primary_key=True),
        Column("stream", Text, primary_key=True),
        Column("id", Text, primary_key=True),
        Column("type", Text, nullable=False),
        Column("v", Integer, nullable=False),
        Column("trace", Text, nullable=False),
        Column("ts_ns", BigInteger, nullable=False),
        Column("origin_time", UtcTime, nullable=False),
        Column("entry_id", Text, nullable=False),
        Column("entry_time", UtcTime, nullable=False),
        Column("entry_seq", BigInteger, nullable=False),
        Column("recorded_at", UtcTime, nullable=False),
        *columns,
        Column("data", LargeBinary, nullable=False),
    )
    Index(None, t.c.namespace, t.c.stream, t.c.entry_time)
    if signal:
        Index(None, t.c.namespace, t.c.signal_id)
    if coid:
        Index(None, t.c.namespace, t.c.client_order_id)
    return t


def _leg_table(name: str, parent: str, *columns: Column[object]) -> Table:
    t = Table(
        name,
        metadata,
        Column("namespace", Text, primary_key=True),
        Column("stream", Text, primary_key=True),
        Column("id", Text, primary_key=True),
        Column("leg", Integer, primary_key=True),
        Column("signal_id", Text, nullable=False),
        Column("venue", Text, nullable=False),
        Column("client_order_id", Text, nullable=False),
        Column("status", Text, nullable=False),
        *columns,
        Column("reason", Text),
        ForeignKeyConstraint(list(KEY), [f"{parent}.{c}" for c in KEY], ondelete="CASCADE"),
    )
    Index(None, t.c.namespace, t.c.client_order_id)
    return t


def _order_columns() -> list[Column[object]]:
    return [
        Column("side", Text, nullable=False),
        Column("quantity", Amount, nullable=False),
        Column("order_type", Text, nullable=False),
        Column("limit_price", Amount),
        Column("stop_price", Amount),
        Column("time_in_force", Text, nullable=False),
        Column("reference_price", Amount),
        Column("reduce_only", Boolean, nullable=False),
        Column("contract", Text),
    ]


signals = _message_table(
    "signals",
    Column("signal_id", Text, nullable=False),
    Column("symbol", Text, nullable=False),
    *_order_columns(),
    Column("confidence", Float),
    Column("mqscore", Float),
    Column("strategy", Text, nullable=False),
    Column("venues", Text, nullable=False),  # comma-separated; empty: every venue listing the symbol
    Column("noise", Float),
    Column("stop_loss", Amount),  # risk sizing's distance
)

orders = _message_table(
    "orders",
    Column("client_order_id", Text, nullable=False),
    Column("signal_id", Text, nullable=False),
    Column("venue", Text, nullable=False),
    Column("symbol", Text, nullable=False),
    *_order_columns(),
    Column("attempt", Integer, nullable=False),
    Column("purpose", Text, nullable=False),
    # venue orders (orders:{venue}) only
    Column("venue_symbol", Text),
    Column("venue_quantity", Amount),
    Column("qty_factor", Amount),
    Column("rounding_residual", Amount),
    Column("currency", Text),
    Column("point_value", Amount),
    Column("venue_reference_price", Amount),
    coid=True,
)

fills = _message_table(
    "fills",
    Column("fill_id", Text, nullable=False),
    Column("client_order_id", Text, nullable=False),
    Column("signal_id", Text, nullable=False),
    Column("venue", Text, nullable=False),
    Column("status", Text, nullable=False),
    Column("venue_symbol", Text, nullable=False),
    Column("side", Text, nullable=False),
    Column("last_qty", Amount, nullable=False),
    Column("last_price", Amount),
    Column("cum_qty", Amount, nullable=False),
    Column("avg_price", Amount),
    Column("leaves_qty", Amount),
    Column("fee", Amount, nullable=False),
    Column("currency", Text, nullable=False),
    Column("reason", Text),
    Column("venue_order_id", Text),
    Column("venue_time", UtcTime),
    Column("synthetic", Boolean, nullable=False),
    # normalizer (fills:normalized, fills)
    Column("symbol", Text),
    Column("contract", Text),
    Column("qty_factor", Amount),
    Column("point_value", Amount),
    Column("venue_reference_price", Amount),
    # fx (fills)
    Column("usd_rate", Amount),
    Column("fee_usd", Amount),
    coid=True,
)

routes = _message_table(
    "routes",
    Column("signal_id", Text, nullable=False),
    Column("symbol", Text, nullable=False),
    Column("side", Text, nullable=False),
    Column("quantity", Amount, nullable=False),
    Column("reference_price", Amount),
    Column("legs", Integer, nullable=False),
    Column("reason", Text),
)

route_legs = _leg_table(
    "route_legs",
    "routes",
    Column("quantity", Amount),  # universal units this venue's sizing gave (NULL: the signal's)
    Column("rounding_residual", Amount, nullable=False, server_default=text("0")),
    Column("symbol", Text),  # the root this venue trades for the signal's (NULL: the same)
    Column("ratio", Amount, nullable=False, server_default=text("1")),
)

executions = _message_table(
    "executions",
    Column("signal_id", Text, nullable=False),
    Column("symbol", Text, nullable=False),
    Column("side", Text, nullable=False),
    Column("quantity", Amount, nullable=False),
    Column("status", Text, nullable=False),
    Column("final", Boolean, nullable=False),
    Column("filled_quantity", Amount, nullable=False),
    Column("avg_price", Amount),
    Column("reference_price", Amount),
    Column("realized_pnl_usd", Amount, nullable=False),
    Column("fees_usd", Amount, nullable=False),
    Column("legs", Integer, nullable=False),
    Column("reason", Text),
)

execution_legs = _leg_table(
    "execution_legs",
    "executions",
    Column("venue_symbol", Text),
    Column("contract", Text),
    Column("quantity", Amount, nullable=False),
    Column("filled_quantity", Amount, nullable=False),
    Column("venue_filled_qty", Amount, nullable=False),
    Column("avg_price", Amount),
    Column("currency", Text, nullable=False),
    Column("slippage_points", Amount),
    Column("slippage_usd", Amount),
    Column("fees_usd", Amount, nullable=False),
    Column("realized_pnl_usd", Amount, nullable=False),
    Column("rounding_residual", Amount, nullable=False),
)

events = _message_table(
    "events",
    Column("kind", Text, nullable=False),
    Column("severity", Text, nullable=False),
    Column("source", Text, nullable=False),
    Column("message", Text, nullable=False),
    Column("symbol", Text),
    Column("venue", Text),
    Column("signal_id", Text),
    Column("client_order_id", Text),
    Column("details", JSON, nullable=False),
    coid=True,
)

dead_letters = _message_table(
    "dead_letters",
    Column("reason", Text, nullable=False),
    Column("source_stream", Text, nullable=False),
    Column("source_entry_id", Text, nullable=False),
    Column("group_name", Text, nullable=False),
    Column("consumer", Text, nullable=False),
    Column("deliveries", Integer, nullable=False),
    Column("size", BigInteger, nullable=False, server_default=text("0")),
    Column("sha256", Text),  # set: dead-lettered by reference (its fields are only the short header)
    signal=False,
)

# Any other kind on a recorded stream (a cancel, a roll...), and an entry whose typed row the database
# refused (`problem` says why): the header and body are kept, nothing is dropped.
messages = _message_table("messages", Column("problem", Text), signal=False)

# An operator's explanation of a dead letter or another end-of-day finding (`nexusctl eod --explain`).
notes = Table(
    "notes",
    metadata,
    Column("namespace", Text, primary_key=True),
    Column("subject", Text, primary_key=True),
    Column("note", Text, nullable=False),
    Column("author", Text, nullable=False),
    Column("noted_at", UtcTime, nullable=False),
)

MESSAGE_TABLES = (signals, orders, fills, routes, executions, events, dead_letters, messages)
LEG_TABLES = {routes.name: route_legs, executions.name: execution_legs}
