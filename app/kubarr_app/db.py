"""Engines, connection settings and transactions for SQLite and PostgreSQL.

The backend is chosen by the ``DATABASE_URL`` scheme. On SQLite the app uses
the ``pysqlite3`` wheel rather than the interpreter's ``sqlite3`` module: the
wheel bundles a current SQLite, while Debian's system library predates the fix
for the WAL-reset bug that can corrupt a database shared with Litestream.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError
from sqlmodel import Session

from kubarr_app.settings import ConfigError, Settings

# SQLite 3.7.0 up to 3.51.2 can corrupt a WAL database when two connections
# write or checkpoint at the same moment; 3.51.3 carries the fix.
FIRST_AFFECTED_SQLITE = (3, 7, 0)
FIRST_FIXED_SQLITE = (3, 51, 3)

BUSY_TIMEOUT_MS = 5000

# The PRAGMAs every SQLite connection gets, in the order they are applied.
SQLITE_PRAGMAS = (
    # The timeout first: switching to WAL itself may have to wait for a lock.
    f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}",
    "PRAGMA journal_mode=WAL",
    "PRAGMA synchronous=NORMAL",
    "PRAGMA foreign_keys=ON",
)


class UnsafeSQLiteError(Exception):
    """The SQLite library in use has the WAL-reset bug and no override was given."""


def sqlite_library_version() -> tuple[int, int, int]:
    """Return the version of the SQLite library that the app links against."""
    import pysqlite3.dbapi2 as sqlite

    major, minor, patch = sqlite.sqlite_version_info
    return int(major), int(minor), int(patch)


def format_version(version: tuple[int, int, int]) -> str:
    return ".".join(str(part) for part in version)


def sqlite_version_is_affected(version: tuple[int, int, int]) -> bool:
    """True for the SQLite releases that have the WAL-reset corruption bug."""
    return FIRST_AFFECTED_SQLITE <= version < FIRST_FIXED_SQLITE


def check_sqlite_version(allow_unsafe: bool) -> str:
    """Return the SQLite version string, or raise if it is affected and not allowed."""
    version = sqlite_library_version()
    text = format_version(version)
    if sqlite_version_is_affected(version) and not allow_unsafe:
        raise UnsafeSQLiteError(
            f"SQLite {text} has the WAL-reset bug that can corrupt a database "
            f"replicated by Litestream; use SQLite >= "
            f"{format_version(FIRST_FIXED_SQLITE)} (the pysqlite3 wheel) or set "
            "KUBARR_ALLOW_UNSAFE_SQLITE=true to accept the risk"
        )
    return text


def parse_database_url(raw: str) -> URL:
    """Turn ``DATABASE_URL`` into a SQLAlchemy URL for a supported driver.

    ``postgres://`` and ``postgresql://`` both map to psycopg 3, the driver
    this distribution installs; ``sqlite:///PATH`` maps to pysqlite3.
    """
    try:
        url = make_url(raw)
    except ArgumentError:
        raise ConfigError(
            "DATABASE_URL is not a database URL; use sqlite:///PATH or "
            "postgresql://USER:PASSWORD@HOST:PORT/NAME"
        ) from None

    backend = url.get_backend_name()
    if backend in {"postgres", "postgresql"}:
        if not url.database:
            raise ConfigError("DATABASE_URL names no PostgreSQL database")
        return url.set(drivername="postgresql+psycopg")
    if backend == "sqlite":
        if not url.database or url.database == ":memory:":
            raise ConfigError(
                "DATABASE_URL must name a SQLite file (sqlite:///PATH); an "
                "in-memory database would lose everything on restart"
            )
        return url.set(drivername="sqlite+pysqlite")
    raise ConfigError(
        f"DATABASE_URL uses the unsupported scheme {url.drivername!r}; use "
        "sqlite:///PATH or postgresql://..."
    )


def safe_url_text(url: URL) -> str:
    """The URL as it may appear in a log line: never with its password."""
    return url.render_as_string(hide_password=True)


@dataclass
class QueryCounter:
    """Counts statements sent to the database, by kind, for ``/metrics``."""

    def __post_init__(self) -> None:
        self.counts: dict[str, int] = {}
        self._lock = threading.Lock()

    def record(self, statement: str) -> None:
        kind = statement.lstrip().split(None, 1)[0].lower() if statement else "other"
        if kind not in {"select", "insert", "update", "delete", "with"}:
            kind = "other"
        with self._lock:
            self.counts[kind] = self.counts.get(kind, 0) + 1


def _install_sqlite_events(engine: Engine) -> None:
    """Apply the PRAGMAs and take over transaction control from the driver.

    The driver's own implicit BEGIN is switched off so that a write session
    can start with ``BEGIN IMMEDIATE``: it takes the write lock up front and
    waits on ``busy_timeout``, instead of failing with SQLITE_BUSY when a
    read transaction later tries to upgrade.
    """

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        try:
            for pragma in SQLITE_PRAGMAS:
                cursor.execute(pragma)
        finally:
            cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Any) -> None:
        if connection.get_execution_options().get("kubarr_write"):
            connection.exec_driver_sql("BEGIN IMMEDIATE")
        else:
            connection.exec_driver_sql("BEGIN")


def build_engine(
    url: URL,
    max_connections: int,
    min_connections: int,
    counter: QueryCounter | None = None,
) -> Engine:
    """Create the engine for ``url`` with a pool sized from the settings.

    ``min_connections`` connections are kept open between requests; up to
    ``max_connections`` exist at once, and a request waits for a free one.
    """
    options: dict[str, Any] = {
        "pool_size": max(min_connections, 1),
        "max_overflow": max_connections - max(min_connections, 1),
        "pool_timeout": 30,
        "pool_pre_ping": url.get_backend_name() != "sqlite",
    }
    if url.get_backend_name() == "sqlite":
        import pysqlite3.dbapi2 as sqlite

        options["module"] = sqlite
        options["connect_args"] = {"check_same_thread": False}
        engine = create_engine(url, **options)
        _install_sqlite_events(engine)
    else:
        engine = create_engine(url, **options)

    if counter is not None:

        @event.listens_for(engine, "before_cursor_execute")
        def _count(
            _conn: Any,
            _cursor: Any,
            statement: str,
            _params: Any,
            _context: Any,
            _executemany: bool,
        ) -> None:
            counter.record(statement)

    return engine


class Database:
    """One engine plus the rules for reading and writing through it.

    Writes are serialised inside the process on SQLite: a write session holds
    a process-wide lock for its whole transaction, so concurrent writers queue
    in Python rather than spin in SQLite's busy handler. Reads run
    concurrently, each in its own pooled connection.
    """

    def __init__(self, url: URL, max_connections: int = 5, min_connections: int = 1):
        self.url = url
        self.queries = QueryCounter()
        self.engine = build_engine(url, max_connections, min_connections, self.queries)
        self.is_sqlite = url.get_backend_name() == "sqlite"
        self._write_engine = self.engine.execution_options(kubarr_write=True)
        self._write_lock = threading.Lock()

    @classmethod
    def from_settings(cls, settings: Settings) -> Database:
        return cls(
            parse_database_url(settings.database_url),
            settings.db_max_connections,
            settings.db_min_connections,
        )

    @property
    def sqlite_path(self) -> Path | None:
        """The database file, for SQLite; ``None`` on PostgreSQL."""
        if not self.is_sqlite or not self.url.database:
            return None
        return Path(self.url.database)

    def warm_up(self, connections: int) -> None:
        """Open ``connections`` pooled connections now rather than on first use."""
        held = [self.engine.connect() for _ in range(connections)]
        for connection in held:
            connection.close()

    @contextmanager
    def read(self) -> Iterator[Session]:
        """A session for reading; it must not write."""
        with Session(self.engine, expire_on_commit=False) as session:
            yield session

    @contextmanager
    def write(self) -> Iterator[Session]:
        """A write transaction: committed on success, rolled back on error."""
        lock = self._write_lock if self.is_sqlite else nullcontext()
        with (
            lock,
            Session(self._write_engine, expire_on_commit=False) as session,
        ):
            try:
                yield session
                session.commit()
            except BaseException:
                session.rollback()
                raise

    def dispose(self) -> None:
        self.engine.dispose()
