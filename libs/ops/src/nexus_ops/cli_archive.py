"""nexusctl commands on the archive: backup, restore, eod, archive upgrade / status (docs/archive.md)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import typer
from rich.table import Table

from nexus_ops import cliutil as cu

archive_app = typer.Typer(no_args_is_help=True, help="The archive: schema and contents.")
console = cu.console
BACKUPS = typer.Option(None, "--out", "-o", help="folder (default NX_DATA_DIR/backups)")
BACKUP_FILE = typer.Argument(..., help="a backup file (its manifest beside it)")
BACKUPS_READ = typer.Option(None, "--backups", help="where backups are written (default NX_DATA_DIR/backups)")
EXPLAIN = typer.Option([], "--explain", help="SUBJECT=why: a dead letter, open position or pending entry")


def _backups_dir(out: Path | None) -> Path:
    return out if out is not None else cu.data_dir() / "backups"


def _url() -> str:
    url = cu.archive_url()
    if url is None:
        raise typer.BadParameter(
            f"no archive: set NX_ARCHIVE_URL, or run the recorder (NX_DATA_DIR={cu.data_dir()})"
        )
    return url


def backup(
    out: Path = BACKUPS,
) -> None:
    """A consistent copy of the archive (pg_dump / SQLite's online backup) and its manifest."""
    from nexus_archive.backup import backup as take
    from nexus_archive.migrate import ArchiveError

    cu.archive_engine().dispose()  # the archive exists and is at this code's schema
    try:
        path, manifest = take(_url(), _backups_dir(out))
    except ArchiveError as exc:
        console.print(f"[red]{exc}[/]")
        raise typer.Exit(1) from None
    console.print(
        f"{path}: {manifest.rows} rows in {len(manifest.tables)} tables, sha256 {manifest.sha256[:16]}…"
    )


def restore(
    file: Path = BACKUP_FILE,
    to: str = typer.Option(None, "--to", help="the database to restore into (default: the archive's URL)"),
    force: bool = typer.Option(False, help="replace a database that is not empty"),
) -> None:
    """Restore a backup into an empty database and prove it: row counts and checksums of every table."""
    from nexus_archive.backup import restore as load
    from nexus_archive.engine import redacted
    from nexus_archive.migrate import ArchiveError

    target = to or cu.archive_url(must_exist=False)
    assert target is not None
    try:
        manifest = load(file, target, force=force)
    except ArchiveError as exc:
        console.print(f"[red]{exc}[/]")
        raise typer.Exit(1) from None
    console.print(
        f"restored {file.name} into {redacted(target)}: {manifest.rows} rows, "
        f"{len(manifest.tables)} tables, counts and checksums equal to the backup's"
    )


def eod(
    day: str = typer.Option(None, help="the session day YYYY-MM-DD (default: the session of an hour ago)"),
    environment: str = typer.Option(
        None, "--env", help="whose session rule and venues (risk.yaml, venues.yaml)"
    ),
    backups: Path = BACKUPS_READ,
    take_backup: bool = typer.Option(False, "--backup", help="write a backup first"),
    explain: list[str] = EXPLAIN,
) -> None:
    """The after-close checklist: positions, every signal final, nothing pending or unexplained, the
    archive caught up, a backup written; the day's trading. Exit 1 naming each failed item."""
    from nexus_archive.read import ArchiveReader
    from nexus_archive.store import ArchiveStore
    from nexus_ops import acl as acl_mod
    from nexus_ops import eod as eod_mod
    from nexus_ops.history import ArchiveHistory
    from nexus_ops.tally import trading_session
    from nexus_ops.views import eod_view

    engine = cu.archive_engine()
    names_ns = cu.namespace()
    for item in explain:
        subject, sep, why = item.partition("=")
        if not sep or not subject or not why:
            raise typer.BadParameter(f"--explain {item!r}: want SUBJECT=why")
        ArchiveStore(engine).note(names_ns, subject.strip(), why.strip(), "nexusctl")
    if take_backup:
        backup(backups)
    env = cu.environment(environment)
    session = trading_session(cu.config_dir(), env)
    try:
        the_day = dt.date.fromisoformat(day) if day else None
    except ValueError:
        raise typer.BadParameter(f"--day {day!r}: want YYYY-MM-DD") from None
    the_day, window = eod_mod.session_window(session, the_day, dt.datetime.now(dt.UTC))
    history = cu.history()
    client = history.client if isinstance(history, ArchiveHistory) else None
    checklist = eod_mod.run(
        history,
        ArchiveReader(engine, names_ns),
        client,
        day=the_day,
        window=window,
        session=session,
        config_dir=cu.config_dir(),
        venues=acl_mod.all_venues(cu.config_dir(), env),
        backups=_backups_dir(backups),
    )
    if client is None:
        console.print("[yellow]no Redis: positions, pending entries and the recorder's progress unchecked[/]")
    console.print(eod_view(checklist))
    if not checklist.ok:
        console.print(f"[red]eod {the_day}: failed: {', '.join(checklist.failed)}[/]")
        raise typer.Exit(1)
    console.print(f"[green]eod {the_day}: every item passed[/]")


@archive_app.command("upgrade")
def upgrade() -> None:
    """Bring the archive's schema to this version (the recorder does it when it starts)."""
    from nexus_archive.engine import open_engine, redacted
    from nexus_archive.migrate import current
    from nexus_archive.migrate import upgrade as migrate

    url = cu.archive_url(must_exist=False)
    assert url is not None
    engine = open_engine(url)
    migrate(engine)
    console.print(f"{redacted(url)}: schema at revision {current(engine)}")


@archive_app.command("status")
def status() -> None:
    """The archive's URL, schema revision, rows per table and its last entry."""
    from sqlalchemy import func, select

    from nexus_archive import schema
    from nexus_archive.engine import redacted
    from nexus_archive.migrate import current
    from nexus_archive.read import ArchiveReader

    engine = cu.archive_engine()
    table = Table(
        title=f"archive {redacted(str(engine.url))} (revision {current(engine)})", title_justify="left"
    )
    table.add_column("table")
    table.add_column("rows", justify="right")
    with engine.connect() as conn:
        for t in schema.metadata.sorted_tables:
            table.add_row(t.name, f"{conn.execute(select(func.count()).select_from(t)).scalar_one():,}")
    console.print(table)
    last = ArchiveReader(engine, cu.namespace()).last_entry_time()
    console.print(f"namespace {cu.namespace()}: last entry {last.isoformat() if last else '-'}")
