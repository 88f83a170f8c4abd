"""Writing the archive: a batch of entries in one transaction, idempotently by (namespace, stream, id).

`write` inserts every row of a batch with INSERT ... ON CONFLICT DO NOTHING, parents before their
legs, in one transaction: a batch is in the archive entirely or not at all, and writing it again
(a redelivery after a crash between commit and acknowledgement) changes nothing.

`write_all` is what the recorder calls. A connection problem (`OperationalError`, `InterfaceError`, a
dropped connection) is *transient*: it raises `Transient`, the caller waits and writes the same batch
again. Anything else means some row is unacceptable to this database (a NUL in PostgreSQL text, a
number out of range): the batch is then written entry by entry and an entry whose typed row is
refused is kept whole in `messages` with the database's complaint, so one odd entry neither blocks
the stream nor goes missing.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, Engine, Insert, Table
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Dialect
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError, SQLAlchemyError

from nexus_archive import schema
from nexus_archive.rows import Row, Rows
from nexus_archive.types import driver_value
from nexus_protocol.errors import NexusError

log = logging.getLogger(__name__)
_HEADER = [c.name for c in schema.messages.columns if c.name != "problem"]


class Transient(NexusError):
    """The database could not be reached or went away: write the same batch again later."""


def insert_ignoring_duplicates(dialect: Dialect, table: Table) -> Insert:
    if dialect.name == "postgresql":
        return postgresql.insert(table).on_conflict_do_nothing()
    return sqlite.insert(table).on_conflict_do_nothing()


def is_transient(exc: BaseException) -> bool:
    if isinstance(exc, OperationalError | InterfaceError):
        return True
    return isinstance(exc, DBAPIError) and exc.connection_invalidated


def _raise_if_transient(exc: SQLAlchemyError) -> None:
    if is_transient(exc):
        raise Transient(f"archive unavailable: {exc.__class__.__name__}: {exc}") from exc


@dataclass(frozen=True, slots=True)
class CompiledInsert:
    """An INSERT ... ON CONFLICT DO NOTHING compiled once per table and dialect, with each column's
    bind processor: a batch goes to the driver's executemany without SQLAlchemy's per-row work."""

    sql: str
    keys: tuple[str, ...]
    processors: tuple[Callable[[Any], Any] | None, ...]
    positional: bool

    def params(self, rows: Iterable[Row]) -> list[Any]:
        pairs = tuple(zip(self.keys, self.processors, strict=True))
        if self.positional:
            return [tuple([f(r.get(k)) if f else r.get(k) for k, f in pairs]) for r in rows]
        return [{k: f(r.get(k)) if f else r.get(k) for k, f in pairs} for r in rows]


_INSERTS: dict[tuple[str, str], CompiledInsert] = {}


def compiled_insert(dialect: Dialect, table: Table) -> CompiledInsert:
    found = _INSERTS.get((dialect.name, table.name))
    if found is None:
        keys = [c.key for c in table.columns]
        compiled = insert_ignoring_duplicates(dialect, table).compile(dialect=dialect, column_keys=keys)
        positional = bool(compiled.positional)
        order = tuple(compiled.positiontup or ()) if positional else tuple(keys)
        processors = tuple(driver_value(table.c[k].type, dialect) for k in order)
        found = CompiledInsert(compiled.string, order, processors, positional)
        _INSERTS[(dialect.name, table.name)] = found
    return found


def by_table(batch: Iterable[Rows]) -> list[tuple[Table, list[Row]]]:
    """The batch's rows grouped by table, every parent table before its legs' table."""
    parents: dict[Table, list[Row]] = {}
    legs: dict[Table, list[Row]] = {}
    for r in batch:
        parents.setdefault(r.table, []).append(r.row)
        if r.legs:
            legs.setdefault(schema.LEG_TABLES[r.table.name], []).extend(r.legs)
    return [*parents.items(), *legs.items()]


def write_rows(conn: Connection, batch: Iterable[Rows]) -> None:
    """Every row of `batch` on `conn` (the caller owns the transaction), parents before legs."""
    for table, rows in by_table(batch):
        ins = compiled_insert(conn.dialect, table)
        conn.exec_driver_sql(ins.sql, ins.params(rows))


def _raw(r: Rows, problem: str, *, scrub: bool = False) -> Rows:
    row: dict[str, Any] = {k: r.row[k] for k in _HEADER}
    if scrub:  # PostgreSQL text cannot hold NUL
        row = {k: v.replace("\x00", "\ufffd") if isinstance(v, str) else v for k, v in row.items()}
    row["problem"] = problem[:2000]
    return Rows(schema.messages, row)


class ArchiveStore:
    """The recorder's writer for one namespace's entries (the rows carry their namespace)."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def write(self, batch: Sequence[Rows]) -> None:
        """One transaction; raises what the database raised."""
        with self.engine.begin() as conn:
            write_rows(conn, batch)

    def write_all(self, batch: Sequence[Rows]) -> int:
        """Write the batch (see the module docstring); returns how many entries went to `messages`
        because their typed row was refused. Raises Transient when the database is unreachable."""
        try:
            self.write(batch)
            return 0
        except SQLAlchemyError as exc:
            _raise_if_transient(exc)
            log.error("a batch of %d entries was refused (%s); writing entry by entry", len(batch), exc)
        refused = 0
        for r in batch:
            refused += self._write_one(r)
        return refused

    def _write_one(self, r: Rows) -> int:
        try:
            self.write([r])
            return 0
        except SQLAlchemyError as exc:
            _raise_if_transient(exc)
            cause = getattr(exc, "orig", None) or exc
            problem = f"{type(cause).__name__}: {cause}"
        for raw in (_raw(r, problem), _raw(r, problem, scrub=True)):
            try:
                self.write([raw])
            except SQLAlchemyError as exc:
                _raise_if_transient(exc)
                continue
            log.error(
                "entry %s kept whole in messages: its %s row was refused: %s", r.key, r.table.name, problem
            )
            return 1
        raise NexusError(f"entry {r.key} cannot be archived even as raw bytes: {problem}")

    def note(self, namespace: str, subject: str, note: str, author: str) -> None:
        """An operator's explanation of `subject` (a dead letter id...); a later note replaces it."""
        row = {
            "namespace": namespace,
            "subject": subject,
            "note": note,
            "author": author,
            "noted_at": dt.datetime.now(dt.UTC),
        }
        with self.engine.begin() as conn:
            dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
            stmt = dialect.insert(schema.notes).values(row)
            conn.execute(
                stmt.on_conflict_do_update(
                    index_elements=["namespace", "subject"],
                    set_={"note": row["note"], "author": row["author"], "noted_at": row["noted_at"]},
                )
            )
