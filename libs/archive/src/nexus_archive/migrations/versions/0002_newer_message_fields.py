"""Typed columns for message fields added after 0001: a signal's noise and stop loss, a route leg's
sized quantity, rounding residual, mapped symbol and ratio, a dead letter's size and SHA-256.

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-06

Rows recorded before this revision get their values from `data`, the body as it travelled (a body
written before a field existed has none: the field's default, as decoding it would give).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from typing import Any

import msgspec
import sqlalchemy as sa
from alembic import op

from nexus_archive.types import Amount

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

KEY = ("namespace", "stream", "id")
PAGE = 2000


def _columns() -> dict[str, list[sa.Column[Any]]]:
    return {
        "signals": [
            sa.Column("noise", sa.Float(), nullable=True),
            sa.Column("stop_loss", Amount(), nullable=True),
        ],
        "route_legs": [
            sa.Column("quantity", Amount(), nullable=True),
            sa.Column("rounding_residual", Amount(), nullable=False, server_default=sa.text("0")),
            sa.Column("symbol", sa.Text(), nullable=True),
            sa.Column("ratio", Amount(), nullable=False, server_default=sa.text("1")),
        ],
        "dead_letters": [
            sa.Column("size", sa.BigInteger(), nullable=False, server_default=sa.text("0")),
            sa.Column("sha256", sa.Text(), nullable=True),
        ],
    }


def _pages(table: str) -> Iterator[Sequence[sa.Row[Any]]]:
    """Each row's key and body, a page at a time in key order (no cursor held across the updates)."""
    t = sa.table(table, *(sa.column(k) for k in (*KEY, "data")))
    conn, last = op.get_bind(), None
    while True:
        q = sa.select(t).order_by(*(t.c[k] for k in KEY)).limit(PAGE)
        if last is not None:
            q = q.where(sa.tuple_(*(t.c[k] for k in KEY)) > sa.tuple_(*last))
        page = conn.execute(q).all()
        if not page:
            return
        yield page
        last = tuple(page[-1][: len(KEY)])


# A value equal to the new column's default (what the rows got when it was added) needs no update.
DEFAULTS: dict[str, Any] = {"rounding_residual": 0.0, "ratio": 1.0, "size": 0}
Update = dict[str, Any]  # the row's key as k_<column>, the new values as v_<column>
Mapper = Callable[[Any, dict[str, Any]], list[Update]]


def _backfill(source: str, target: str, key: Sequence[str], typed: dict[str, Any], values: Mapper) -> None:
    """UPDATE `target` with what `values(row, body)` finds in each `source` row's body."""
    t = sa.table(target, *(sa.column(k) for k in key), *(sa.column(k, v) for k, v in typed.items()))
    stmt = (
        t.update()
        .where(sa.and_(*(t.c[k] == sa.bindparam(f"k_{k}") for k in key)))
        .values({k: sa.bindparam(f"v_{k}") for k in typed})
    )
    conn = op.get_bind()
    for page in _pages(source):
        updates = [
            u
            for row in page
            for u in values(row, msgspec.msgpack.decode(row.data))
            if any(u[f"v_{k}"] != DEFAULTS.get(k) for k in typed)
        ]
        if updates:
            conn.execute(stmt, updates)


def _key(row: Any, **more: Any) -> Update:
    return {**{f"k_{k}": getattr(row, k) for k in KEY}, **{f"k_{k}": v for k, v in more.items()}}


def _signal(row: Any, body: dict[str, Any]) -> list[Update]:
    return [{**_key(row), "v_noise": body.get("noise"), "v_stop_loss": body.get("stop_loss")}]


def _route_legs(row: Any, body: dict[str, Any]) -> list[Update]:
    return [
        {
            **_key(row, leg=i),
            "v_quantity": leg.get("quantity"),
            "v_rounding_residual": leg.get("rounding_residual", 0.0),
            "v_symbol": leg.get("symbol"),
            "v_ratio": leg.get("ratio", 1.0),
        }
        for i, leg in enumerate(body.get("legs") or ())
    ]


def _dead_letter(row: Any, body: dict[str, Any]) -> list[Update]:
    return [{**_key(row), "v_size": body.get("size", 0), "v_sha256": body.get("sha256") or None}]


def upgrade() -> None:
    for table, columns in _columns().items():
        with op.batch_alter_table(table) as batch:
            for c in columns:
                batch.add_column(c)
    amount, text = Amount(), sa.Text()
    _backfill("signals", "signals", KEY, {"noise": sa.Float(), "stop_loss": amount}, _signal)
    legs = {"quantity": amount, "rounding_residual": amount, "symbol": text, "ratio": amount}
    _backfill("routes", "route_legs", (*KEY, "leg"), legs, _route_legs)
    _backfill("dead_letters", "dead_letters", KEY, {"size": sa.BigInteger(), "sha256": text}, _dead_letter)


def downgrade() -> None:
    for table, columns in _columns().items():
        with op.batch_alter_table(table) as batch:
            for c in columns:
                batch.drop_column(c.name)
