"""``kubarr migrate``: bring the schema to a revision, safely.

On SQLite the write lock is taken first (``BEGIN IMMEDIATE``), then a
consistent safety copy is written next to the database with ``VACUUM INTO``
from a second connection, and only then do the migrations run, inside that
same transaction. A failure therefore rolls back to exactly the state the
safety copy holds. An in-place ``VACUUM`` is never used: it rewrites the file
under Litestream's feet.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from alembic import command
from sqlalchemy import Connection, text
from sqlalchemy.exc import DBAPIError, OperationalError

from kubarr_app.db import Database
from kubarr_app.schema import alembic_config, head_revision, revision_on

log = logging.getLogger(__name__)

SAFETY_COPIES_KEPT = 3
# Any constant works; it only has to be the same for every migrating process.
POSTGRES_MIGRATION_LOCK = 0x6B75626172


class DatabaseBusyError(Exception):
    """Another process holds the database's write lock."""


class MigrationFailedError(Exception):
    """A migration raised; the database was rolled back."""

    def __init__(self, message: str, safety_copy: Path | None) -> None:
        super().__init__(message)
        self.safety_copy = safety_copy


@dataclass(frozen=True)
class MigrationResult:
    from_revision: str | None
    to_revision: str | None
    safety_copy: Path | None

    @property
    def changed(self) -> bool:
        return self.from_revision != self.to_revision


def revision_label(revision: str | None) -> str:
    return revision or "base"


def _is_lock_error(exc: DBAPIError) -> bool:
    message = str(exc.orig).lower()
    return (
        "database is locked" in message
        or "lock timeout" in message
        or "lock_timeout" in message
        or "could not obtain lock" in message
    )


def write_safety_copy(database: Database, revision: str | None) -> Path:
    """Copy the SQLite database with ``VACUUM INTO`` and keep the newest few."""
    source = database.sqlite_path
    assert source is not None
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%fZ")
    target = source.with_name(
        f"{source.name}.pre-migrate-{revision_label(revision)}-{stamp}"
    )
    with database.engine.connect() as connection:
        # VACUUM cannot run inside a transaction; go straight to the driver.
        raw = connection.connection.driver_connection
        assert raw is not None
        raw.execute("VACUUM INTO ?", (str(target),))

    copies = sorted(source.parent.glob(f"{source.name}.pre-migrate-*"))
    copies.sort(key=lambda path: path.stat().st_mtime)
    for old in copies[:-SAFETY_COPIES_KEPT]:
        old.unlink(missing_ok=True)
    return target


def _take_write_lock(connection: Connection, database: Database) -> None:
    """Begin the transaction that holds the write lock, or raise busy."""
    try:
        connection.begin()
        if not database.is_sqlite:
            connection.execute(text("SET LOCAL lock_timeout = '5s'"))
            locked = connection.execute(
                text("SELECT pg_try_advisory_xact_lock(:key)"),
                {"key": POSTGRES_MIGRATION_LOCK},
            ).scalar_one()
            if not locked:
                raise DatabaseBusyError("another migration is running")
    except OperationalError as exc:
        if _is_lock_error(exc):
            raise DatabaseBusyError(str(exc.orig)) from None
        raise


def _check_foreign_keys(connection: Connection) -> None:
    problems = connection.exec_driver_sql("PRAGMA foreign_key_check").fetchall()
    if problems:
        raise RuntimeError(f"foreign key check failed after migration: {problems[:5]}")


def run_migration(
    database: Database,
    target: str = "head",
    *,
    downgrade: bool = False,
    script_location: Path | None = None,
) -> MigrationResult:
    """Upgrade (or downgrade) the database to ``target`` in one transaction."""
    path = database.sqlite_path
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
    had_data = path is not None and path.exists() and path.stat().st_size > 0

    try:
        return _migrate_locked(database, target, downgrade, script_location, had_data)
    except OperationalError as exc:
        # Opening the file can meet the lock too: switching a database to WAL
        # needs it, for instance.
        if _is_lock_error(exc):
            raise DatabaseBusyError(str(exc.orig)) from None
        raise


def _migrate_locked(
    database: Database,
    target: str,
    downgrade: bool,
    script_location: Path | None,
    had_data: bool,
) -> MigrationResult:
    config = alembic_config(script_location)
    safety_copy: Path | None = None
    write_engine = database.engine.execution_options(kubarr_write=True)

    with write_engine.connect() as connection:
        if database.is_sqlite:
            # Batch migrations rebuild tables, which foreign keys would block;
            # they are checked as a whole before the commit instead.
            raw: Any = connection.connection.driver_connection
            raw.execute("PRAGMA foreign_keys=OFF")

        _take_write_lock(connection, database)
        before = revision_on(connection)
        wanted = head_revision(script_location) if target == "head" else target
        if (target == "base" and before is None) or before == wanted:
            connection.rollback()
            return MigrationResult(before, before, None)

        # Limitation: on PostgreSQL no safety copy is taken; use pg_dump first.
        if database.is_sqlite and had_data:
            safety_copy = write_safety_copy(database, before)
            log.info("safety copy written to %s", safety_copy)

        config.attributes["connection"] = connection
        try:
            if downgrade:
                command.downgrade(config, target)
            else:
                command.upgrade(config, target)
            if database.is_sqlite:
                _check_foreign_keys(connection)
            after = revision_on(connection)
            connection.commit()
        except Exception as exc:
            connection.rollback()
            if isinstance(exc, OperationalError) and _is_lock_error(exc):
                raise DatabaseBusyError(str(exc.orig)) from None
            where = (
                f"; the database is unchanged and a safety copy is at {safety_copy}"
                if safety_copy
                else "; the database is unchanged"
            )
            raise MigrationFailedError(
                f"migration from {revision_label(before)} failed: "
                f"{type(exc).__name__}: {exc}{where}",
                safety_copy,
            ) from exc
        finally:
            if database.is_sqlite:
                raw.execute("PRAGMA foreign_keys=ON")

    return MigrationResult(before, after, safety_copy)
