"""``kubarr import-postgres``: copy a Kubarr PostgreSQL database into SQLite.

The way in for an installation that still runs on PostgreSQL. The copy is
made with the app's own table definitions: every value is read as a Python
value through the column's type (booleans, UTC timestamps, 64-bit integers,
JSON kept as text) and bound as a parameter on the SQLite side, so no SQL
text is ever rewritten and a text value such as ``true`` or ``'::jsonb'``
arrives unchanged.

Safety, in order:

- The source is read in one ``REPEATABLE READ`` read-only transaction, so
  every table comes from the same moment even if something still writes.
- The target is built in a temporary file beside the destination: schema by
  the app's migrations (head), the seeded rows removed, then the 22 tables in
  foreign-key order.
- Every table's row count and content checksum are computed from the source
  while reading and again from the finished file; the file also has to pass
  ``PRAGMA integrity_check`` and ``PRAGMA foreign_key_check``.
- Only then is it renamed over the destination (same folder, so the rename is
  atomic). A destination that already holds data is refused unless forced.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import secrets
import sys
import time
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Table, create_engine, delete, func, select
from sqlalchemy.engine import URL
from sqlalchemy.exc import SQLAlchemyError
from sqlmodel import SQLModel

from kubarr_app.db import Database, parse_database_url, safe_url_text
from kubarr_app.exit_codes import EXIT_CONFIG, EXIT_OK
from kubarr_app.settings import ConfigError

EXIT_IMPORT_FAILED = 1

BATCH_ROWS = 2000
CHECKSUM_BITS = 256

log = logging.getLogger(__name__)


class ImportRefusedError(Exception):
    """The import cannot start as asked; the message says what to change."""


class ImportFailedError(Exception):
    """Reading, writing or verifying failed; the destination was not touched."""


@dataclass
class TableCopy:
    """What was copied for one table, and whether the copy matches."""

    name: str
    source_rows: int = 0
    source_checksum: int = 0
    target_rows: int = 0
    target_checksum: int = 0

    @property
    def verified(self) -> bool:
        return (
            self.source_rows == self.target_rows
            and self.source_checksum == self.target_checksum
        )


@dataclass(frozen=True)
class ImportResult:
    tables: list[TableCopy]
    seconds: float
    target: Path
    target_bytes: int

    @property
    def rows(self) -> int:
        return sum(table.source_rows for table in self.tables)

    @property
    def rows_per_second(self) -> float:
        return self.rows / self.seconds if self.seconds > 0 else float(self.rows)


def import_order() -> list[Table]:
    """The app's 22 tables, parents before children.

    SQLAlchemy sorts the metadata by foreign-key dependency; this module never
    keeps its own list, so a new table cannot be forgotten here.
    """
    import kubarr_app.models  # noqa: F401  (registers every table)

    return list(SQLModel.metadata.sorted_tables)


def _canonical(value: Any) -> Any:
    """A value in a form both engines agree on, for the checksum."""
    if isinstance(value, datetime):
        return value.astimezone(UTC).isoformat()
    return value


def row_digest(values: Sequence[Any]) -> int:
    """One row's hash, from its values as Python sees them."""
    text = json.dumps(
        [_canonical(v) for v in values],
        sort_keys=True,
        ensure_ascii=False,
        separators=(",", ":"),
    )
    return int.from_bytes(hashlib.sha256(text.encode("utf-8")).digest(), "big")


def combine(checksum: int, digest: int) -> int:
    """Add a row hash into a table checksum.

    A sum (not a chained hash) so that row order does not matter: PostgreSQL
    and SQLite sort text keys under different collations. Unlike XOR, a
    duplicated row does not cancel out.
    """
    return (checksum + digest) % (1 << CHECKSUM_BITS)


def _rows(connection: Connection, table: Table) -> Iterator[Sequence[Any]]:
    result = connection.execution_options(yield_per=BATCH_ROWS).execute(select(table))
    for partition in result.partitions():
        yield from partition


def _batches(rows: Iterable[Sequence[Any]], size: int) -> Iterator[list[Any]]:
    batch: list[Any] = []
    for row in rows:
        batch.append(row)
        if len(batch) >= size:
            yield batch
            batch = []
    if batch:
        yield batch


def copy_table(source: Connection, target: Connection, table: Table) -> TableCopy:
    """Stream one table from source to target, hashing each row on the way."""
    copy = TableCopy(table.name)
    names = [column.name for column in table.columns]
    for batch in _batches(_rows(source, table), BATCH_ROWS):
        for row in batch:
            copy.source_checksum = combine(copy.source_checksum, row_digest(row))
        copy.source_rows += len(batch)
        target.execute(
            table.insert(), [dict(zip(names, row, strict=True)) for row in batch]
        )
    return copy


def verify_table(target: Connection, table: Table, copy: TableCopy) -> None:
    """Read the table back from the finished file and fill in its figures."""
    for row in _rows(target, table):
        copy.target_checksum = combine(copy.target_checksum, row_digest(row))
    copy.target_rows = target.execute(
        select(func.count()).select_from(table)
    ).scalar_one()


def _source_url(raw: str) -> URL:
    url = parse_database_url(raw)
    if url.get_backend_name() != "postgresql":
        raise ImportRefusedError(
            "--from must be a PostgreSQL URL (postgresql://USER:PASSWORD@HOST/NAME)"
        )
    return url


def _target_path(raw: str) -> Path:
    url = parse_database_url(raw)
    if url.get_backend_name() != "sqlite" or not url.database:
        raise ImportRefusedError("--to must be a SQLite URL (sqlite:///PATH)")
    return Path(url.database)


def _check_target(path: Path, force: bool) -> None:
    # Limitation: a target still open in a running app is not detected; the
    # rename would leave that app writing to the replaced file.
    if not path.parent.is_dir():
        raise ImportRefusedError(f"the folder of {path} does not exist")
    if path.exists() and path.stat().st_size > 0 and not force:
        raise ImportRefusedError(
            f"{path} already holds a database; pass --force to replace it "
            "(stop the app first: nothing else may have it open)"
        )


def _check_source_revision(source: Connection, head: str) -> None:
    from kubarr_app.schema import revision_on

    # Limitation: only a database at this version's head is imported; an
    # older one must be migrated first, and a schema not made by these
    # migrations (the former backend's) is refused.
    revision = revision_on(source)
    if revision != head:
        raise ImportRefusedError(
            f"the PostgreSQL schema is at {revision or 'no revision'}, this "
            f"version expects {head}: run `kubarr migrate` with DATABASE_URL set "
            "to the PostgreSQL database first"
        )


def _prepare_target(path: Path) -> Database:
    """A temporary file at head with the migrations' seed rows removed."""
    from kubarr_app.migrate import run_migration

    database = Database(parse_database_url(f"sqlite:///{path}"), 2, 1)
    run_migration(database)
    with database.engine.begin() as connection:
        for table in reversed(import_order()):
            connection.execute(delete(table))
    return database


def _check_file(connection: Connection) -> None:
    integrity = connection.exec_driver_sql("PRAGMA integrity_check").fetchall()
    if [tuple(row) for row in integrity] != [("ok",)]:
        raise ImportFailedError(f"integrity_check failed: {integrity[:5]}")
    dangling = connection.exec_driver_sql("PRAGMA foreign_key_check").fetchall()
    if dangling:
        raise ImportFailedError(f"foreign_key_check found: {dangling[:5]}")


def _checkpoint(database: Database) -> None:
    """Fold the WAL into the main file, so the renamed file stands alone."""
    with database.engine.connect() as connection:
        raw = connection.connection.driver_connection
        assert raw is not None
        raw.execute("PRAGMA wal_checkpoint(TRUNCATE)")


def _fsync(path: Path) -> None:
    descriptor = os.open(path, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


def _replace(temporary: Path, target: Path) -> None:
    """Rename the verified file into place, with no stale WAL beside it.

    A ``-wal`` file left by the old database would be replayed onto the new
    one at the next open, so it goes first.
    """
    for suffix in ("-wal", "-shm"):
        Path(f"{target}{suffix}").unlink(missing_ok=True)
    _fsync(temporary)
    os.replace(temporary, target)
    _fsync(target.parent)


def _describe(exc: SQLAlchemyError) -> str:
    """The driver's own message only: SQLAlchemy's text would add the bound
    parameters, which are the user's data (password hashes among them)."""
    original = getattr(exc, "orig", None)
    if original is not None:
        return f"{type(original).__name__}: {str(original).strip()}"
    return type(exc).__name__


def import_database(source_raw: str, target_raw: str, *, force: bool) -> ImportResult:
    """Copy, verify and rename into place; raises on refusal or failure."""
    from kubarr_app.schema import head_revision

    source_url = _source_url(source_raw)
    target = _target_path(target_raw)
    _check_target(target, force)

    temporary = target.with_name(f".{target.name}.import-{secrets.token_hex(4)}")
    started = time.perf_counter()
    source_engine = create_engine(source_url, pool_size=1, max_overflow=0)
    target_db: Database | None = None
    try:
        source = source_engine.connect().execution_options(
            isolation_level="REPEATABLE READ", postgresql_readonly=True
        )
        with source, source.begin():
            _check_source_revision(source, head_revision())
            target_db = _prepare_target(temporary)
            copies = []
            with target_db.engine.begin() as writer:
                for table in import_order():
                    copies.append(copy_table(source, writer, table))

        with target_db.engine.connect() as reader:
            for table, copy in zip(import_order(), copies, strict=True):
                verify_table(reader, table, copy)
            _check_file(reader)
            reader.rollback()
        _checkpoint(target_db)
        target_db.dispose()
        target_db = None

        wrong = [copy.name for copy in copies if not copy.verified]
        if wrong:
            raise ImportFailedError(
                f"verification failed for {', '.join(wrong)}: row counts or "
                "checksums differ between PostgreSQL and the new file"
            )
        size = temporary.stat().st_size
        _replace(temporary, target)
    except SQLAlchemyError as exc:
        raise ImportFailedError(_describe(exc)) from None
    finally:
        source_engine.dispose()
        if target_db is not None:
            target_db.dispose()
        for leftover in (
            temporary,
            *(Path(f"{temporary}{s}") for s in ("-wal", "-shm")),
        ):
            leftover.unlink(missing_ok=True)

    return ImportResult(copies, time.perf_counter() - started, target, size)


def report(result: ImportResult) -> str:
    """The lines printed after a successful import."""
    width = max(len(table.name) for table in result.tables)
    lines = [
        f"  {table.name:<{width}}  {table.source_rows:>9} rows  verified"
        for table in result.tables
    ]
    lines.append(
        f"imported {result.rows} rows in {len(result.tables)} tables in "
        f"{result.seconds:.2f} s ({result.rows_per_second:.0f} rows/s, "
        f"{result.target_bytes / 1e6 / max(result.seconds, 1e-9):.1f} MB/s); "
        f"row counts and checksums match; wrote {result.target}"
    )
    return "\n".join(lines)


def _safe(raw: str) -> str:
    try:
        return safe_url_text(parse_database_url(raw))
    except ConfigError:
        return "the given URL"


def run(source: str, target: str, *, force: bool) -> int:
    """The whole command; returns the exit code (0 done, 1 failed, 2 refused)."""
    print(f"importing {_safe(source)} into {target}", flush=True)
    try:
        result = import_database(source, target, force=force)
    except (ImportRefusedError, ConfigError) as exc:
        print(f"kubarr: import refused: {exc}", file=sys.stderr, flush=True)
        return EXIT_CONFIG
    except ImportFailedError as exc:
        message = str(exc).replace(source, _safe(source))
        print(
            f"kubarr: import failed, {target} was not changed: {message}",
            file=sys.stderr,
            flush=True,
        )
        return EXIT_IMPORT_FAILED
    print(report(result), flush=True)
    return EXIT_OK
