"""The ``kubarr`` command: ``serve``, ``migrate``, ``audit-prune``,
``backup-now``, ``import-postgres``, ``verify-db`` and ``operator``.

Imports are deferred to the subcommand that needs them, so ``kubarr migrate``
in the migration Job does not load the web stack, and ``kubarr operator``
loads neither.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys

from kubarr_app.exit_codes import (
    EXIT_CONFIG,
    EXIT_DATABASE_BUSY,
    EXIT_MIGRATION_FAILED,
    EXIT_OK,
    EXIT_UNSAFE_SQLITE,
)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="kubarr", description="Kubarr: the embedded API and its operator."
    )
    commands = parser.add_subparsers(dest="command", required=True)

    serve = commands.add_parser("serve", help="serve the API")
    serve.add_argument("--host", help="listen address (default KUBARR_HOST)")
    serve.add_argument("--port", type=int, help="listen port (default KUBARR_PORT)")

    migrate = commands.add_parser("migrate", help="bring the schema to a revision")
    migrate.add_argument(
        "--to", default="head", metavar="REV", help="target revision (default head)"
    )
    migrate.add_argument(
        "--downgrade",
        action="store_true",
        help="go down to --to (a revision or 'base') instead of up",
    )

    prune = commands.add_parser(
        "audit-prune",
        help="ask the running app to delete audit entries past the retention",
    )
    prune.add_argument(
        "--url", required=True, help="the app's base URL, e.g. http://kubarr:8000"
    )
    prune.add_argument(
        "--retention-days",
        type=int,
        metavar="N",
        help="keep N days (default: the app's KUBARR_AUDIT_RETENTION_DAYS)",
    )
    prune.add_argument(
        "--token-file",
        metavar="F",
        help="file holding the admin token (default KUBARR_ADMIN_TOKEN, then "
        "KUBARR_ADMIN_TOKEN_FILE)",
    )
    prune.add_argument(
        "--timeout",
        type=float,
        default=300.0,
        metavar="SECONDS",
        help="how long to wait for the app's answer (default 300)",
    )

    backup = commands.add_parser(
        "backup-now",
        help="ask the running app to sync its database to the replica and wait",
    )
    backup.add_argument(
        "--url", required=True, help="the app's base URL, e.g. http://kubarr:8000"
    )
    backup.add_argument(
        "--token-file",
        metavar="F",
        help="file holding the admin token (default KUBARR_ADMIN_TOKEN, then "
        "KUBARR_ADMIN_TOKEN_FILE)",
    )
    backup.add_argument(
        "--timeout",
        type=float,
        default=90.0,
        metavar="SECONDS",
        help="how long to wait for the app's answer (default 90; the app "
        "itself gives Litestream 60)",
    )

    pg_import = commands.add_parser(
        "import-postgres",
        help="copy a Kubarr PostgreSQL database into a new SQLite file, verified",
    )
    pg_import.add_argument(
        "--from",
        dest="source",
        metavar="URL",
        help="postgresql://USER:PASSWORD@HOST:PORT/NAME (schema at head); default "
        "KUBARR_IMPORT_FROM_URL, which keeps the password out of the command line",
    )
    pg_import.add_argument(
        "--to", dest="target", required=True, metavar="URL", help="sqlite:///PATH"
    )
    pg_import.add_argument(
        "--force",
        action="store_true",
        help="replace a target file that already holds data",
    )
    pg_import.add_argument(
        "--if-target-missing",
        action="store_true",
        help="do nothing (exit 0) when the target already holds a database: "
        "a retried bootstrap Job never imports twice",
    )

    verify = commands.add_parser(
        "verify-db",
        help="integrity check and row counts of a SQLite database (read-only)",
    )
    verify.add_argument(
        "--path", help="the database file (default: the DATABASE_URL's file)"
    )

    commands.add_parser(
        "operator", help="run the KubarrInstance operator", add_help=False
    )
    return parser


def _drop_alembic_chatter(record: logging.LogRecord) -> bool:
    """Keep Alembic's "Running upgrade" lines, drop its set-up notes."""
    message = str(record.msg)
    return not message.startswith(("Context impl", "Will assume"))


def _configure_logging() -> None:
    level = os.environ.get("KUBARR_LOG_LEVEL", "INFO").upper()
    logging.basicConfig(
        level=getattr(logging, level, logging.INFO),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    logging.getLogger("alembic.runtime.plugins").setLevel(logging.WARNING)
    logging.getLogger("alembic.runtime.migration").addFilter(_drop_alembic_chatter)


def _error(message: str) -> None:
    print(f"kubarr: {message}", file=sys.stderr, flush=True)


def _migrate(args: argparse.Namespace) -> int:
    from kubarr_app.db import Database, parse_database_url
    from kubarr_app.migrate import (
        DatabaseBusyError,
        MigrationFailedError,
        revision_label,
        run_migration,
    )
    from kubarr_app.serve import sqlite_startup_check
    from kubarr_app.settings import load_settings

    settings = load_settings()
    url = parse_database_url(settings.database_url)
    if url.get_backend_name() == "sqlite":
        sqlite_startup_check(settings)
    # Two connections at least: one holds the write lock while the other
    # writes the safety copy.
    database = Database(url, max(settings.db_max_connections, 2), 1)
    try:
        result = run_migration(database, args.to, downgrade=args.downgrade)
    except DatabaseBusyError as exc:
        _error(
            f"the database is busy in another process ({exc}); stop the app "
            "(the operator scales it to zero) and retry"
        )
        return EXIT_DATABASE_BUSY
    except MigrationFailedError as exc:
        _error(str(exc))
        return EXIT_MIGRATION_FAILED
    finally:
        database.dispose()

    if result.changed:
        print(
            f"migrated {revision_label(result.from_revision)} -> "
            f"{revision_label(result.to_revision)}",
            flush=True,
        )
        if result.safety_copy is not None:
            print(f"safety copy: {result.safety_copy}", flush=True)
    else:
        print(f"already at head {revision_label(result.to_revision)}", flush=True)
    return EXIT_OK


def _serve(args: argparse.Namespace) -> int:
    from dataclasses import replace

    from kubarr_app.serve import serve
    from kubarr_app.settings import load_settings

    settings = load_settings()
    if args.host:
        settings = replace(settings, host=args.host)
    if args.port:
        settings = replace(settings, port=args.port)
    return serve(settings)


def _audit_prune(args: argparse.Namespace) -> int:
    from kubarr_app.prune_client import run

    return run(args.url, args.retention_days, args.token_file, args.timeout)


def _backup_now(args: argparse.Namespace) -> int:
    from kubarr_app.backup_client import run

    return run(args.url, args.token_file, args.timeout)


def _import_postgres(args: argparse.Namespace) -> int:
    from pathlib import Path

    from kubarr_app.db import parse_database_url
    from kubarr_app.pgimport import run

    source = args.source or os.environ.get("KUBARR_IMPORT_FROM_URL")
    if not source:
        _error("import-postgres needs --from URL or KUBARR_IMPORT_FROM_URL")
        return EXIT_CONFIG
    if args.if_target_missing:
        database = parse_database_url(args.target).database
        target = Path(database) if database else None
        if target is not None and target.exists() and target.stat().st_size > 0:
            print(f"{target} already holds a database; nothing imported", flush=True)
            return EXIT_OK
    return run(source, args.target, force=args.force)


def main(argv: list[str] | None = None) -> int:
    if argv is None:
        argv = sys.argv[1:]

    if argv and argv[0] == "operator":
        from kubarr_operator.main import run

        return run(argv[1:])

    args = _parser().parse_args(argv)
    _configure_logging()

    from kubarr_app.db import UnsafeSQLiteError
    from kubarr_app.settings import ConfigError

    try:
        if args.command == "migrate":
            return _migrate(args)
        if args.command == "audit-prune":
            return _audit_prune(args)
        if args.command == "backup-now":
            return _backup_now(args)
        if args.command == "import-postgres":
            return _import_postgres(args)
        if args.command == "verify-db":
            from kubarr_app.verify import run as verify_db

            return verify_db(args.path)
        return _serve(args)
    except ConfigError as exc:
        _error(f"configuration error: {exc}")
        return EXIT_CONFIG
    except UnsafeSQLiteError as exc:
        _error(str(exc))
        return EXIT_UNSAFE_SQLITE


if __name__ == "__main__":
    sys.exit(main())
