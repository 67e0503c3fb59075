"""``kubarr verify-db``: is a restored SQLite database sound, and what is in it?

Run after a restore (bootstrap, clone, point in time, the scheduled drill)
and before anything serves from the file: ``PRAGMA integrity_check`` plus a
row count per table. The result is one JSON line on stdout and in the
termination log, which the operator copies into the instance's status.
"""

from __future__ import annotations

import contextlib
import json
import os
from pathlib import Path
from typing import Any

from kubarr_app.exit_codes import EXIT_CONFIG, EXIT_MIGRATION_FAILED, EXIT_OK

TERMINATION_LOG = "/dev/termination-log"


def _connect(path: Path) -> Any:
    # The bundled SQLite (>= 3.51.3), read-only: verifying never writes.
    import pysqlite3.dbapi2 as sqlite

    return sqlite.connect(f"file:{path}?mode=ro", uri=True)


def verify(path: Path) -> dict[str, Any]:
    """Integrity and per-table row counts of the database at ``path``."""
    if not path.exists():
        return {"path": str(path), "database": "missing", "ok": True}
    try:
        return _inspect(path)
    except Exception as error:  # a damaged file fails in many ways
        return {
            "path": str(path),
            "database": "present",
            "ok": False,
            "integrity": f"unreadable: {type(error).__name__}: {error}"[:500],
        }


def _inspect(path: Path) -> dict[str, Any]:
    connection = _connect(path)
    try:
        problems = [row[0] for row in connection.execute("PRAGMA integrity_check")]
        tables = [
            row[0]
            for row in connection.execute(
                "SELECT name FROM sqlite_master WHERE type = 'table' "
                "AND name NOT LIKE 'sqlite_%' ORDER BY name"
            )
        ]
        counts = {}
        for table in tables:
            quoted = '"' + table.replace('"', '""') + '"'
            counts[table] = connection.execute(
                f"SELECT count(*) FROM {quoted}"
            ).fetchone()[0]
    finally:
        connection.close()
    integrity = "ok" if problems == ["ok"] else "; ".join(problems[:5])
    return {
        "path": str(path),
        "database": "present",
        "ok": integrity == "ok",
        "integrity": integrity,
        "rows": counts,
    }


def _write_termination_log(line: str) -> None:
    target = Path(os.environ.get("KUBARR_TERMINATION_LOG", TERMINATION_LOG))
    if target.parent.is_dir():
        # Not in a pod the file may be unwritable: stdout carries the result.
        with contextlib.suppress(OSError):
            target.write_text(line + "\n", encoding="utf-8")


def run(path: str | None) -> int:
    """Print the verification as JSON; exit 1 when the database is damaged."""
    if path is None:
        from kubarr_app.db import parse_database_url
        from kubarr_app.settings import load_settings

        url = parse_database_url(load_settings().database_url)
        if url.get_backend_name() != "sqlite" or not url.database:
            print("kubarr: verify-db needs a SQLite database (--path or DATABASE_URL)")
            return EXIT_CONFIG
        path = url.database
    result = verify(Path(path))
    line = json.dumps(result, sort_keys=True)
    print(line, flush=True)
    _write_termination_log(line)
    return EXIT_OK if result["ok"] else EXIT_MIGRATION_FAILED
