"""Fixtures for the app tests: real SQLite files and a real PostgreSQL server.

PostgreSQL comes from Debian's packages (``postgresql``); a throwaway cluster
is initialised in a temporary directory, listens on 127.0.0.1 only, on a free
port, and runs as an unprivileged user because PostgreSQL refuses to run as
root. See tests/app/README.md.
"""

from __future__ import annotations

import glob
import itertools
import os
import pwd
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from app_helpers import ADMIN_PASSWORD, ADMIN_TOKEN, free_port, login
from fastapi.testclient import TestClient
from kubarr_app.api.app import build_state, create_app
from kubarr_app.api.state import AppState
from kubarr_app.auth import bootstrap_admin
from kubarr_app.db import Database, parse_database_url
from kubarr_app.migrate import run_migration
from kubarr_app.schema import head_revision
from kubarr_app.settings import Settings
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

PG_USER = "kubarrtest"


def _postgres_bin() -> Path:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/postgres"))
    if not found:
        raise RuntimeError(
            "PostgreSQL server binaries are missing: apt-get install -y postgresql"
        )
    return Path(found[-1]).parent


def _as_pg_user(command: list[str]) -> list[str]:
    if os.geteuid() != 0:
        return command
    try:
        pwd.getpwnam(PG_USER)
    except KeyError:
        subprocess.run(["useradd", "--system", "--no-create-home", PG_USER], check=True)
    return ["runuser", "-u", PG_USER, "--", *command]


@dataclass
class PostgresServer:
    port: int

    def url(self, database: str) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/{database}"

    def admin_sql(self, statement: str) -> None:
        engine = create_engine(
            make_url(self.url("postgres")).set(drivername="postgresql+psycopg"),
            isolation_level="AUTOCOMMIT",
        )
        with engine.connect() as connection:
            connection.execute(text(statement))
        engine.dispose()


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    bindir = _postgres_bin()
    root = Path(tempfile.mkdtemp(prefix="kubarr-pg-"))
    data, sockets = root / "data", root / "sock"
    sockets.mkdir()
    if os.geteuid() == 0:
        _as_pg_user(["true"])  # creates the user if needed
        shutil.chown(root, PG_USER)
        shutil.chown(sockets, PG_USER)
    root.chmod(0o700)

    subprocess.run(
        _as_pg_user(
            [
                str(bindir / "initdb"),
                "-D",
                str(data),
                "-U",
                "postgres",
                "--auth=trust",
                "--encoding=UTF8",
                "--no-sync",
            ]
        ),
        check=True,
        capture_output=True,
    )
    port = free_port()
    server = subprocess.Popen(
        _as_pg_user(
            [
                str(bindir / "postgres"),
                "-D",
                str(data),
                "-p",
                str(port),
                "-c",
                "listen_addresses=127.0.0.1",
                "-c",
                f"unix_socket_directories={sockets}",
                "-c",
                "fsync=off",
                "-c",
                "synchronous_commit=off",
                "-c",
                "full_page_writes=off",
            ]
        ),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        for _ in range(150):
            ready = subprocess.run(
                [str(bindir / "pg_isready"), "-h", "127.0.0.1", "-p", str(port)],
                capture_output=True,
            )
            if ready.returncode == 0:
                break
            if server.poll() is not None:
                raise RuntimeError("postgres exited during start-up")
            time.sleep(0.1)
        else:
            raise RuntimeError("postgres did not become ready")
        yield PostgresServer(port)
    finally:
        server.terminate()
        server.wait(timeout=30)
        shutil.rmtree(root, ignore_errors=True)


_counter = itertools.count()


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A SQLite database migrated to head once; tests get copies of it."""
    folder = tmp_path_factory.mktemp("template")
    database = Database(parse_database_url(f"sqlite:///{folder}/work.db"), 2, 1)
    run_migration(database)
    clean = folder / "template.db"
    with database.engine.connect() as connection:
        raw = connection.connection.driver_connection
        assert raw is not None
        raw.execute("VACUUM INTO ?", (str(clean),))
    database.dispose()

    # A copy made by VACUUM INTO is in rollback-journal mode; the app's
    # databases are always in WAL mode, so the template is too.
    import pysqlite3.dbapi2 as sqlite

    connection = sqlite.connect(str(clean))
    connection.execute("PRAGMA journal_mode=WAL")
    connection.close()
    return clean


@pytest.fixture(scope="session")
def postgres_template(postgres_server: PostgresServer) -> str:
    postgres_server.admin_sql("CREATE DATABASE kubarr_template")
    database = Database(parse_database_url(postgres_server.url("kubarr_template")))
    run_migration(database)
    database.dispose()
    return "kubarr_template"


@pytest.fixture
def sqlite_url(tmp_path: Path, sqlite_template: Path) -> str:
    target = tmp_path / "db" / "kubarr.db"
    target.parent.mkdir()
    shutil.copy(sqlite_template, target)
    return f"sqlite:///{target}"


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A fresh database at head, once on SQLite and once on PostgreSQL."""
    if request.param == "sqlite":
        url: str = request.getfixturevalue("sqlite_url")
        return url
    server: PostgresServer = request.getfixturevalue("postgres_server")
    template: str = request.getfixturevalue("postgres_template")
    name = f"kubarr_test_{os.getpid()}_{next(_counter)}"
    server.admin_sql(f"CREATE DATABASE {name} TEMPLATE {template}")
    return server.url(name)


@pytest.fixture
def database(database_url: str) -> Iterator[Database]:
    db = Database(parse_database_url(database_url), 5, 1)
    yield db
    db.dispose()


@pytest.fixture
def settings(tmp_path: Path, database_url: str) -> Settings:
    storage = tmp_path / "storage"
    storage.mkdir()
    return Settings(
        database_url=database_url,
        database_url_is_default=False,
        storage_path=storage,
        admin_token=ADMIN_TOKEN,
        bootstrap_admin_password=ADMIN_PASSWORD,
        cache_eviction_interval_seconds=3600,
    )


@pytest.fixture
def state(settings: Settings, database: Database) -> AppState:
    sqlite_version = "3.53.4" if database.is_sqlite else None
    app_state = build_state(settings, database, head_revision(), sqlite_version)
    bootstrap_admin(database, "admin", ADMIN_PASSWORD)
    return app_state


@pytest.fixture
def client(state: AppState) -> Iterator[TestClient]:
    with TestClient(create_app(state), base_url="http://127.0.0.1") as test_client:
        yield test_client


@pytest.fixture
def admin(client: TestClient) -> TestClient:
    """The client, signed in as the bootstrap admin."""
    login(client)
    return client
