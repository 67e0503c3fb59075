"""The SQLite engine: library version, PRAGMAs, write locking, pool, URLs."""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime

import pysqlite3.dbapi2 as sqlite
import pytest
from kubarr_app import db
from kubarr_app.db import Database, parse_database_url
from kubarr_app.models import AuditLog, SystemSetting
from kubarr_app.settings import ConfigError, load_settings
from sqlalchemy import func, text
from sqlmodel import select


def test_the_app_links_a_sqlite_without_the_wal_reset_bug() -> None:
    version = db.sqlite_library_version()

    assert version >= (3, 51, 3)
    assert db.check_sqlite_version(allow_unsafe=False) == db.format_version(version)


@pytest.mark.parametrize(
    ("version", "affected"),
    [
        ((3, 6, 23), False),
        ((3, 7, 0), True),
        ((3, 40, 1), True),
        ((3, 51, 2), True),
        ((3, 51, 3), False),
        ((3, 53, 4), False),
    ],
)
def test_affected_sqlite_versions(
    version: tuple[int, int, int], affected: bool
) -> None:
    assert db.sqlite_version_is_affected(version) is affected


def test_an_affected_version_is_refused_unless_overridden(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(db, "sqlite_library_version", lambda: (3, 51, 2))

    with pytest.raises(db.UnsafeSQLiteError, match="KUBARR_ALLOW_UNSAFE_SQLITE"):
        db.check_sqlite_version(allow_unsafe=False)
    assert db.check_sqlite_version(allow_unsafe=True) == "3.51.2"


def test_every_connection_gets_the_pragmas(sqlite_url: str) -> None:
    database = Database(parse_database_url(sqlite_url), 3, 3)
    connections = [database.engine.connect() for _ in range(3)]
    try:
        for connection in connections:
            row = connection.execute(
                text(
                    "SELECT (SELECT journal_mode FROM pragma_journal_mode), "
                    "(SELECT timeout FROM pragma_busy_timeout), "
                    "(SELECT synchronous FROM pragma_synchronous), "
                    "(SELECT foreign_keys FROM pragma_foreign_keys)"
                )
            ).one()
            assert tuple(row) == ("wal", 5000, 1, 1)
            connection.rollback()
    finally:
        for connection in connections:
            connection.close()
        database.dispose()


def test_a_write_session_holds_the_write_lock_from_its_first_statement(
    sqlite_url: str,
) -> None:
    database = Database(parse_database_url(sqlite_url), 2, 1)
    other = sqlite.connect(
        sqlite_url.removeprefix("sqlite:///"), timeout=0, isolation_level=None
    )
    try:
        with database.write() as session:
            session.exec(select(SystemSetting)).all()  # only a read so far
            with pytest.raises(sqlite.OperationalError, match="locked"):
                other.execute("BEGIN IMMEDIATE")
        other.execute("BEGIN IMMEDIATE")
        other.execute("ROLLBACK")
    finally:
        other.close()
        database.dispose()


def test_eight_concurrent_writers_all_land_without_busy_errors(
    sqlite_url: str,
) -> None:
    # Two Database objects stand for two processes: their writers meet in
    # SQLite's lock, not only in the in-process write lock.
    databases = [Database(parse_database_url(sqlite_url), 5, 1) for _ in range(2)]
    errors: list[BaseException] = []
    written = [0] * 8
    stop_at = time.monotonic() + 3.0

    def writer(index: int) -> None:
        database = databases[index % 2]
        for count in range(5000):
            if time.monotonic() > stop_at:
                break
            try:
                with database.write() as session:
                    # Read first, then write: the upgrade that BEGIN
                    # IMMEDIATE protects.
                    session.exec(select(func.count()).select_from(AuditLog)).one()
                    session.add(
                        AuditLog(
                            timestamp=datetime.now(UTC),
                            action=f"writer.{index}",
                            resource_id=str(count),
                        )
                    )
                written[index] += 1
            except BaseException as exc:
                errors.append(exc)
                return

    threads = [threading.Thread(target=writer, args=(i,)) for i in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    assert errors == []
    assert all(count > 0 for count in written)
    with databases[0].read() as session:
        landed = session.exec(select(func.count()).select_from(AuditLog)).one()
    assert landed == sum(written)
    for database in databases:
        database.dispose()


def test_pool_size_comes_from_the_environment() -> None:
    settings = load_settings(
        {
            "DATABASE_URL": "sqlite:////tmp/pool.db",
            "KUBARR_DB_MAX_CONNECTIONS": "7",
            "KUBARR_DB_MIN_CONNECTIONS": "2",
        }
    )
    database = Database.from_settings(settings)

    assert database.engine.pool.size() == 2  # type: ignore[attr-defined]
    assert database.engine.pool._max_overflow == 5  # type: ignore[attr-defined]
    database.dispose()


@pytest.mark.parametrize(
    ("url", "words"),
    [
        ("not a url", "not a database URL"),
        ("mysql://u:p@h/d", "unsupported scheme 'mysql'"),
        ("sqlite://", "must name a SQLite file"),
        ("sqlite:///:memory:", "must name a SQLite file"),
        ("postgresql://u@127.0.0.1", "names no PostgreSQL database"),
    ],
)
def test_bad_database_urls_give_one_clear_error(url: str, words: str) -> None:
    with pytest.raises(ConfigError, match=words):
        parse_database_url(url)


def test_postgres_urls_use_psycopg() -> None:
    for scheme in ("postgres", "postgresql"):
        url = parse_database_url(f"{scheme}://u:secret@127.0.0.1:5432/kubarr")
        assert url.drivername == "postgresql+psycopg"
        assert "secret" not in db.safe_url_text(url)
