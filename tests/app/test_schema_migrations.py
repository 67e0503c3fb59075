"""Schema migrations, safety copies and the start-up schema check."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import uuid
from pathlib import Path

import kubarr_app.models  # noqa: F401
import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from kubarr_app import cli, schema
from kubarr_app.db import Database, parse_database_url
from kubarr_app.migrate import MigrationFailedError, run_migration
from kubarr_app.schema import current_revision, head_revision
from sqlalchemy import inspect
from sqlmodel import SQLModel

TABLES = 22


@pytest.fixture(params=["sqlite", "postgresql"])
def empty_database(request: pytest.FixtureRequest, tmp_path: Path):
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path}/empty/kubarr.db"
    else:
        server = request.getfixturevalue("postgres_server")
        name = f"kubarr_empty_{uuid.uuid4().hex[:12]}"
        server.admin_sql(f"CREATE DATABASE {name}")
        url = server.url(name)
    database = Database(parse_database_url(url), 3, 1)
    yield database
    database.dispose()


def user_tables(database: Database) -> set[str]:
    with database.engine.connect() as connection:
        names = set(inspect(connection).get_table_names())
    return names - {"alembic_version"}


def test_upgrade_from_empty_to_head_and_downgrade_to_base(
    empty_database: Database,
) -> None:
    up = run_migration(empty_database)
    assert (up.from_revision, up.to_revision) == (None, head_revision())
    assert len(user_tables(empty_database)) == TABLES

    down = run_migration(empty_database, "base", downgrade=True)
    assert down.to_revision is None
    assert user_tables(empty_database) == set()

    again = run_migration(empty_database)
    assert again.to_revision == head_revision()


def test_models_match_the_migrated_schema(empty_database: Database) -> None:
    run_migration(empty_database)

    with empty_database.engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        differences = compare_metadata(context, SQLModel.metadata)

    assert differences == []


def test_migrating_twice_changes_nothing_the_second_time(
    empty_database: Database,
) -> None:
    run_migration(empty_database)
    second = run_migration(empty_database)

    assert second.changed is False
    assert second.safety_copy is None


def test_sqlite_migration_writes_a_safety_copy_and_keeps_the_last_three(
    tmp_path: Path,
) -> None:
    database = Database(parse_database_url(f"sqlite:///{tmp_path}/kubarr.db"), 3, 1)
    run_migration(database, "0001")
    copies = []
    for _ in range(3):
        copies.append(run_migration(database).safety_copy)
        copies.append(run_migration(database, "0001", downgrade=True).safety_copy)
    database.dispose()

    kept = sorted(tmp_path.glob("kubarr.db.pre-migrate-*"))
    assert len(kept) == 3
    assert set(kept) == {path for path in copies[-3:] if path is not None}
    newest = Database(parse_database_url(f"sqlite:///{copies[-1]}"), 1, 1)
    assert current_revision(newest) == head_revision()
    newest.dispose()


def broken_migrations(tmp_path: Path) -> Path:
    """The real migrations plus one that fails after doing part of its work."""
    folder = tmp_path / "migrations"
    shutil.copytree(schema.MIGRATIONS_DIR, folder)
    (folder / "versions" / "0099_broken.py").write_text(
        '''"""A revision that fails halfway."""
import sqlalchemy as sa
from alembic import op

revision = "0099"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table("half_done", sa.Column("id", sa.Integer, primary_key=True))
    op.execute("INSERT INTO half_done (id) VALUES (1)")
    raise RuntimeError("disk on fire")


def downgrade():
    op.drop_table("half_done")
'''
    )
    return folder


def test_failed_migration_rolls_back_and_keeps_the_safety_copy(
    tmp_path: Path, sqlite_url: str
) -> None:
    database = Database(parse_database_url(sqlite_url), 3, 1)

    with pytest.raises(MigrationFailedError) as failure:
        run_migration(database, script_location=broken_migrations(tmp_path))

    message = str(failure.value)
    assert "disk on fire" in message
    assert str(failure.value.safety_copy) in message
    assert failure.value.safety_copy is not None
    assert failure.value.safety_copy.exists()
    assert current_revision(database) == "0003"
    assert "half_done" not in user_tables(database)
    database.dispose()


def test_migrate_command_exits_1_and_says_where_the_safety_copy_is(
    tmp_path: Path,
    sqlite_url: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setattr(schema, "MIGRATIONS_DIR", broken_migrations(tmp_path))
    monkeypatch.setenv("DATABASE_URL", sqlite_url)

    code = cli.main(["migrate"])

    err = capsys.readouterr().err
    assert code == 1
    assert "migration from 0003 failed" in err
    assert "safety copy is at" in err
    assert "Traceback" not in err


def kubarr(env: dict[str, str], *args: str, cwd: Path | None = None):
    full_env = {k: v for k, v in os.environ.items() if not k.startswith("KUBARR_")}
    full_env.pop("DATABASE_URL", None)
    full_env.update(env)
    return subprocess.run(
        [sys.executable, "-m", "kubarr_app", *args],
        env=full_env,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_migrate_command_prints_from_and_to_revisions(tmp_path: Path) -> None:
    env = {"DATABASE_URL": f"sqlite:///{tmp_path}/kubarr.db"}

    first = kubarr(env, "migrate")
    second = kubarr(env, "migrate")

    assert first.returncode == 0, first.stderr
    assert first.stdout.strip() == f"migrated base -> {head_revision()}"
    assert second.returncode == 0
    assert second.stdout.strip() == f"already at head {head_revision()}"


def test_migrate_command_refuses_a_database_busy_in_another_process(
    sqlite_url: str,
) -> None:
    path = sqlite_url.removeprefix("sqlite:///")
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys, pysqlite3.dbapi2 as s\n"
            f"c = s.connect({path!r}, isolation_level=None)\n"
            "c.execute('BEGIN IMMEDIATE')\n"
            "print('locked', flush=True)\n"
            "sys.stdin.readline()\n",
        ],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None
        assert holder.stdout.readline().strip() == "locked"
        result = kubarr(
            {"DATABASE_URL": sqlite_url}, "migrate", "--to", "0002", "--downgrade"
        )
    finally:
        assert holder.stdin is not None
        holder.stdin.write("\n")
        holder.stdin.close()
        holder.wait(timeout=30)

    assert result.returncode == 3
    assert "busy in another process" in result.stderr
    assert "Traceback" not in result.stderr
    database = Database(parse_database_url(sqlite_url), 1, 1)
    assert current_revision(database) == head_revision()
    database.dispose()


def test_serve_refuses_a_schema_behind_head(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/kubarr.db"
    assert kubarr({"DATABASE_URL": url}, "migrate", "--to", "0002").returncode == 0

    result = kubarr({"DATABASE_URL": url, "KUBARR_PORT": "1"}, "serve")

    assert result.returncode == 4
    assert result.stdout.strip() == (
        f"schema at 0002, code expects {head_revision()}: run `kubarr migrate` "
        "(the operator's migration Job does this)"
    )


def test_serve_refuses_a_missing_database_without_creating_it(tmp_path: Path) -> None:
    path = tmp_path / "nothing" / "kubarr.db"

    result = kubarr({"DATABASE_URL": f"sqlite:///{path}"}, "serve")

    assert result.returncode == 4
    assert "schema at base" in result.stdout
    assert not path.exists()
