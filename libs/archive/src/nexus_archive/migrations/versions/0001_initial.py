"""The first archive schema: messages by kind, legs, notes.

Revision ID: 0001
Revises:
Create Date: 2026-12-06

A frozen snapshot: later changes to `nexus_archive.schema` come as new revisions, never edits here
(tests/integration/archive/test_migrations.py checks that head builds exactly the schema module).
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from alembic import op

from nexus_archive.types import Amount, UtcTime

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

KEY = ["namespace", "stream", "id"]


def _c(name: str, kind: Any, null: bool = False) -> sa.Column[Any]:
    return sa.Column(name, kind, nullable=null)


def _messages(name: str, *columns: sa.Column[Any], signal: bool = True, coid: bool = False) -> None:
    op.create_table(
        name,
        _c("namespace", sa.Text()),
        _c("stream", sa.Text()),
        _c("id", sa.Text()),
        _c("type", sa.Text()),
        _c("v", sa.Integer()),
        _c("trace", sa.Text()),
        _c("ts_ns", sa.BigInteger()),
        _c("origin_time", UtcTime()),
        _c("entry_id", sa.Text()),
        _c("entry_time", UtcTime()),
        _c("entry_seq", sa.BigInteger()),
        _c("recorded_at", UtcTime()),
        *columns,
        _c("data", sa.LargeBinary()),
        sa.PrimaryKeyConstraint(*KEY, name=f"pk_{name}"),
    )
    op.create_index(f"ix_{name}_namespace_stream_entry_time", name, ["namespace", "stream", "entry_time"])
    if signal:
        op.create_index(f"ix_{name}_namespace_signal_id", name, ["namespace", "signal_id"])
    if coid:
        op.create_index(f"ix_{name}_namespace_client_order_id", name, ["namespace", "client_order_id"])


def _legs(name: str, parent: str, *columns: sa.Column[Any]) -> None:
    op.create_table(
        name,
        *(_c(k, sa.Text()) for k in KEY),
        _c("leg", sa.Integer()),
        _c("signal_id", sa.Text()),
        _c("venue", sa.Text()),
        _c("client_order_id", sa.Text()),
        _c("status", sa.Text()),
        *columns,
        _c("reason", sa.Text(), True),
        sa.ForeignKeyConstraint(
            KEY, [f"{parent}.{k}" for k in KEY], name=f"fk_{name}_{parent}", ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint(*KEY, "leg", name=f"pk_{name}"),
    )
    op.create_index(f"ix_{name}_namespace_client_order_id", name, ["namespace", "client_order_id"])


def _order() -> list[sa.Column[Any]]:
    return [
        _c("side", sa.Text()),
        _c("quantity", Amount()),
        _c("order_type", sa.Text()),
        _c("limit_price", Amount(), True),
        _c("stop_price", Amount(), True),
        _c("time_in_force", sa.Text()),
        _c("reference_price", Amount(), True),
        _c("reduce_only", sa.Boolean()),
        _c("contract", sa.Text(), True),
    ]


def upgrade() -> None:
    text, amount, maybe_text, maybe_amount = sa.Text(), Amount(), (sa.Text(), True), (Amount(), True)
    _messages(
        "signals",
        _c("signal_id", text),
        _c("symbol", text),
        *_order(),
        _c("confidence", sa.Float(), True),
        _c("mqscore", sa.Float(), True),
        _c("strategy", text),
        _c("venues", text),
    )
    _messages(
        "orders",
        _c("client_order_id", text),
        _c("signal_id", text),
        _c("venue", text),
        _c("symbol", text),
        *_order(),
        _c("attempt", sa.Integer()),
        _c("purpose", text),
        _c("venue_symbol", *maybe_text),
        *(_c(n, *maybe_amount) for n in ("venue_quantity", "qty_factor", "rounding_residual")),
        _c("currency", *maybe_text),
        *(_c(n, *maybe_amount) for n in ("point_value", "venue_reference_price")),
        coid=True,
    )
    _messages(
        "fills",
        *(
            _c(n, text)
            for n in ("fill_id", "client_order_id", "signal_id", "venue", "status", "venue_symbol", "side")
        ),
        _c("last_qty", amount),
        _c("last_price", *maybe_amount),
        _c("cum_qty", amount),
        _c("avg_price", *maybe_amount),
        _c("leaves_qty", *maybe_amount),
        _c("fee", amount),
        _c("currency", text),
        _c("reason", *maybe_text),
        _c("venue_order_id", *maybe_text),
        _c("venue_time", UtcTime(), True),
        _c("synthetic", sa.Boolean()),
        _c("symbol", *maybe_text),
        _c("contract", *maybe_text),
        *(
            _c(n, *maybe_amount)
            for n in ("qty_factor", "point_value", "venue_reference_price", "usd_rate", "fee_usd")
        ),
        coid=True,
    )
    _messages(
        "routes",
        *(_c(n, text) for n in ("signal_id", "symbol", "side")),
        _c("quantity", amount),
        _c("reference_price", *maybe_amount),
        _c("legs", sa.Integer()),
        _c("reason", *maybe_text),
    )
    _legs("route_legs", "routes")
    _messages(
        "executions",
        *(_c(n, text) for n in ("signal_id", "symbol", "side")),
        _c("quantity", amount),
        _c("status", text),
        _c("final", sa.Boolean()),
        _c("filled_quantity", amount),
        _c("avg_price", *maybe_amount),
        _c("reference_price", *maybe_amount),
        _c("realized_pnl_usd", amount),
        _c("fees_usd", amount),
        _c("legs", sa.Integer()),
        _c("reason", *maybe_text),
    )
    _legs(
        "execution_legs",
        "executions",
        _c("venue_symbol", *maybe_text),
        _c("contract", *maybe_text),
        *(_c(n, amount) for n in ("quantity", "filled_quantity", "venue_filled_qty")),
        _c("avg_price", *maybe_amount),
        _c("currency", text),
        _c("slippage_points", *maybe_amount),
        _c("slippage_usd", *maybe_amount),
        *(_c(n, amount) for n in ("fees_usd", "realized_pnl_usd", "rounding_residual")),
    )
    _messages(
        "events",
        *(_c(n, text) for n in ("kind", "severity", "source", "message")),
        *(_c(n, *maybe_text) for n in ("symbol", "venue", "signal_id", "client_order_id")),
        _c("details", sa.JSON()),
        coid=True,
    )
    _messages(
        "dead_letters",
        *(_c(n, text) for n in ("reason", "source_stream", "source_entry_id", "group_name", "consumer")),
        _c("deliveries", sa.Integer()),
        signal=False,
    )
    _messages("messages", _c("problem", *maybe_text), signal=False)
    op.create_table(
        "notes",
        *(_c(n, text) for n in ("namespace", "subject", "note", "author")),
        _c("noted_at", UtcTime()),
        sa.PrimaryKeyConstraint("namespace", "subject", name="pk_notes"),
    )


def downgrade() -> None:
    for name in (
        "notes", "messages", "dead_letters", "events", "execution_legs", "executions",
        "route_legs", "routes", "fills", "orders", "signals",
    ):  # fmt: skip
        op.drop_table(name)
