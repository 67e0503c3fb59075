"""``kubarr serve``: the checks before serving, then uvicorn.

Order matters: configuration, then the SQLite library version, then the
schema revision, and only then is anything written (the signing key, the
first admin). A refused start leaves the database untouched.
"""

from __future__ import annotations

import logging
from pathlib import Path

from kubarr_app.db import (
    Database,
    check_sqlite_version,
    format_version,
    parse_database_url,
    safe_url_text,
    sqlite_library_version,
    sqlite_version_is_affected,
)
from kubarr_app.exit_codes import EXIT_OK, EXIT_SCHEMA_NOT_AT_HEAD
from kubarr_app.migrate import revision_label, run_migration
from kubarr_app.schema import current_revision, head_revision
from kubarr_app.settings import Settings

log = logging.getLogger(__name__)

ADMIN_PASSWORD_FILE = "initial-admin-password"


def sqlite_startup_check(settings: Settings) -> str:
    """Log the SQLite version and refuse an affected one (raises)."""
    version = check_sqlite_version(settings.allow_unsafe_sqlite)
    log.info("SQLite %s (pysqlite3)", version)
    if sqlite_version_is_affected(sqlite_library_version()):
        log.warning(
            "SQLite %s has the WAL-reset bug; running anyway because "
            "KUBARR_ALLOW_UNSAFE_SQLITE is set",
            version,
        )
    return version


def schema_mismatch_message(current: str | None, head: str) -> str:
    return (
        f"schema at {revision_label(current)}, code expects {head}: run "
        "`kubarr migrate` (the operator's migration Job does this)"
    )


def serve(settings: Settings) -> int:
    """Run the API until interrupted; returns the process exit code."""
    url = parse_database_url(settings.database_url)
    sqlite_version = None
    if url.get_backend_name() == "sqlite":
        sqlite_version = sqlite_startup_check(settings)

    database = Database(url, settings.db_max_connections, settings.db_min_connections)
    log.info("database %s", safe_url_text(url))
    head = head_revision()

    if settings.database_url_is_default:
        # The embedded default is for trying Kubarr by hand: no Job exists to
        # migrate it, so serve does, once, before it listens.
        result = run_migration(database)
        if result.changed:
            print(
                f"created the embedded database at {database.sqlite_path} "
                f"({revision_label(result.from_revision)} -> {result.to_revision})",
                flush=True,
            )
    else:
        current = current_revision(database)
        if current != head:
            print(schema_mismatch_message(current, head), flush=True)
            database.dispose()
            return EXIT_SCHEMA_NOT_AT_HEAD

    from kubarr_app.api.app import build_state, create_app
    from kubarr_app.auth import bootstrap_admin

    state = build_state(settings, database, head, sqlite_version)
    password_file = _password_file(database, settings)
    outcome = bootstrap_admin(
        database,
        settings.bootstrap_admin_username,
        settings.bootstrap_admin_password,
        password_file,
    )

    base = f"http://{settings.host}:{settings.port}"
    if outcome.created and outcome.password_file is not None:
        print(
            f"first admin {outcome.username!r} created; its password is in "
            f"{outcome.password_file} (delete the file after signing in)",
            flush=True,
        )
    print(
        f"Kubarr API listening on {base}: sign in with POST {base}/api/auth/login "
        f"(API docs at {base}/api/docs)",
        flush=True,
    )

    import uvicorn

    uvicorn.run(
        create_app(state),
        host=settings.host,
        port=settings.port,
        access_log=False,
        log_level="info",
        server_header=False,
    )
    database.dispose()
    return EXIT_OK


def _password_file(database: Database, settings: Settings) -> Path | None:
    """Where a generated first-admin password goes: beside the SQLite file."""
    if settings.bootstrap_admin_password is not None or database.sqlite_path is None:
        return None
    return database.sqlite_path.parent / ADMIN_PASSWORD_FILE


__all__ = ["format_version", "serve"]
