"""Where the migrations live and which revision a database is at."""

from __future__ import annotations

from pathlib import Path

from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection

from kubarr_app.db import Database

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"


def alembic_config(script_location: Path | None = None) -> Config:
    """An Alembic configuration built in code; no alembic.ini is needed."""
    config = Config()
    config.set_main_option("script_location", str(script_location or MIGRATIONS_DIR))
    return config


def head_revision(script_location: Path | None = None) -> str:
    head = ScriptDirectory.from_config(
        alembic_config(script_location)
    ).get_current_head()
    if head is None:
        raise RuntimeError("the migrations folder holds no revision")
    return head


def revision_on(connection: Connection) -> str | None:
    return MigrationContext.configure(connection).get_current_revision()


def current_revision(database: Database) -> str | None:
    """The database's revision; ``None`` for an empty or missing database.

    A missing SQLite file is reported as empty without being created, so a
    refused ``kubarr serve`` leaves no stray file behind.
    """
    path = database.sqlite_path
    if path is not None and not path.exists():
        return None
    with database.engine.connect() as connection:
        revision = revision_on(connection)
        connection.rollback()
    return revision
