"""What every nexusctl command shares: the console, the project folder, the namespace, the mesh's Redis.

The mesh: NX_REDIS_URL if set, else the Redis of a mesh `nexusctl up` started here (its state file under
NX_DATA_DIR). The namespace: `--namespace`, else NX_NAMESPACE, else `nx`.
"""

from __future__ import annotations

import json
import os
import re
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

import redis
import typer
from rich.console import Console

from nexus_mesh.connection import connect
from nexus_mesh.connection import redacted as redacted_redis_url
from nexus_ops import acl as acl_mod
from nexus_ops import status as status_mod
from nexus_ops.compose import compose_files, load_services
from nexus_ops.records import History, StreamHistory
from nexus_protocol.errors import ConfigError
from nexus_protocol.streams import Names

if TYPE_CHECKING:  # SQLAlchemy loads with the commands that use the archive, not with every command
    from sqlalchemy import Engine

# Piped output (scripts, CI logs) is never wrapped: one record stays one line; tables get 160 columns.
console = (
    Console() if sys.stdout.isatty() else Console(width=int(os.environ.get("COLUMNS", "160")), soft_wrap=True)
)
opts: dict[str, Any] = {}
NO_ARCHIVE = "no archive: set NX_ARCHIVE_URL, or run the recorder (it writes NX_DATA_DIR/archive.db)"
_REQUIRED = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*):?\?")


def root() -> Path:
    here = Path.cwd()
    for d in (here, *here.parents):
        if (d / "docker-compose.yml").exists():
            return d
    raise typer.BadParameter("no docker-compose.yml here or above: run nexusctl from the project folder")


def namespace() -> str:
    return str(opts.get("namespace") or os.environ.get("NX_NAMESPACE", "nx"))


def data_dir() -> Path:
    return Path(os.environ.get("NX_DATA_DIR", "var"))


def state(ns: str | None = None) -> dict[str, Any] | None:
    path = data_dir() / f"nexusctl-{ns or namespace()}.json"
    return json.loads(path.read_text()) if path.exists() else None


def any_state() -> dict[str, Any]:
    """This namespace's mesh, else NX_NAMESPACE's, else the only mesh `up` started here (a sandbox
    namespace lives on the Redis of the mesh it was replayed from)."""
    found = state() or state(os.environ.get("NX_NAMESPACE", "nx"))
    if found is None:
        files = sorted(data_dir().glob("nexusctl-*.json"))
        found = json.loads(files[0].read_text()) if len(files) == 1 else None
    return found or {}


def redis_url() -> str:
    url = os.environ.get("NX_REDIS_URL") or any_state().get("redis_url")
    if not url:
        raise typer.BadParameter("no NX_REDIS_URL and no mesh started by `nexusctl up` here")
    return str(url)


def shown_url() -> str | None:
    """The mesh's Redis URL where it holds no password (to print in a command); else None."""
    url = os.environ.get("NX_REDIS_URL") or any_state().get("redis_url")
    return str(url) if url and redacted_redis_url(str(url)) == str(url) else None


def client() -> redis.Redis:
    return connect(redis_url(), client_name="nexusctl", retries=2)


def environment(explicit: str | None = None) -> str:
    return str(explicit or any_state().get("environment") or os.environ.get("NX_ENVIRONMENT", "dev"))


def config_dir() -> Path:
    env = os.environ.get("NX_CONFIG_DIR")
    return Path(env) if env else root() / "deploy" / "config"


def expected(env_name: str) -> status_mod.Expected:
    """Heartbeat service names the compose files define for the environment, and its venues."""
    try:
        here = root()
        # what should run does not depend on secrets: a required variable unset here is a placeholder
        env = dict(os.environ)
        for f in compose_files(here, env_name):
            env.update({v: "?" for v in _REQUIRED.findall(f.read_text()) if not env.get(v)})
        services = load_services(here, env_name, env)
        venues = acl_mod.all_venues(config_dir(), env_name)
    except (typer.BadParameter, ConfigError, KeyError):
        return status_mod.Expected()
    names = [s.heartbeat for s in services if s.heartbeat]  # a platform simulator has none
    return status_mod.Expected(tuple(dict.fromkeys(names)), tuple(venues))


def ttl_ms() -> int:
    return int(os.environ.get("NX_HEARTBEAT_TTL_MS", "10000"))


def archive_url(*, must_exist: bool = True) -> str | None:
    """The archive: NX_ARCHIVE_URL, else the recorder's SQLite file under NX_DATA_DIR (None when it
    does not exist, unless `must_exist` is False)."""
    from nexus_archive.engine import archive_url as resolve
    from nexus_archive.engine import is_sqlite, sqlite_file

    try:
        url = resolve(os.environ.get("NX_ARCHIVE_URL"), data_dir())
    except ConfigError as exc:
        raise typer.BadParameter(str(exc)) from None
    if must_exist and is_sqlite(url) and not sqlite_file(url).exists():
        return None
    return url


def archive_engine(url: str | None = None) -> Engine:
    """The archive's engine at this code's schema, or a usage error saying what is wrong."""

    from sqlalchemy.exc import SQLAlchemyError

    from nexus_archive.engine import open_engine, redacted
    from nexus_archive.migrate import ArchiveError, require_head

    url = url or archive_url()
    if url is None:
        raise typer.BadParameter(
            f"no archive: set NX_ARCHIVE_URL, or run the recorder (NX_DATA_DIR={data_dir()})"
        )
    engine = open_engine(url)
    try:
        require_head(engine)
    except ArchiveError as exc:
        raise typer.BadParameter(f"{redacted(url)}: {exc}") from None
    except SQLAlchemyError as exc:
        raise typer.BadParameter(f"archive {redacted(url)} unreachable: {exc}") from None
    return engine


def history(*, streams_only: bool = False) -> History:
    """The archive with the streams for what it has not received, else the streams alone."""
    from nexus_archive.read import ArchiveReader
    from nexus_ops.history import ArchiveHistory

    names = Names(namespace())
    url = None if streams_only else archive_url()
    try:
        rc: redis.Redis | None = client()
    except typer.BadParameter:
        if url is None:
            raise
        rc = None  # no mesh here: the archive alone
    if url is None:
        assert rc is not None
        return StreamHistory(rc, names)
    return ArchiveHistory(ArchiveReader(archive_engine(url), names.namespace), names, rc)


def describe(h: History) -> str:
    """Where a command read from, for its last line."""
    from nexus_archive.engine import redacted
    from nexus_ops.history import ArchiveHistory

    if isinstance(h, ArchiveHistory):
        url = redacted(str(h.reader.engine.url))
        return f"archive {url}" + (" + streams past the recorder" if h.client is not None else " alone")
    return "streams (no archive)"
