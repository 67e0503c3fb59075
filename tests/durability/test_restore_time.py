"""How long the rendered restore takes for a 5 MB and a 50 MB database.

The database is filled with audit rows (about 1 KB each, the app's largest
table in practice) before the app and Litestream start, as on an installation
that has been running for a while; a marker written through the API then shows
when the replica is complete. The restore after a lost disk is timed and the
figure printed; the test asserts only that everything came back.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from kubarr_app.db import Database, parse_database_url
from kubarr_app.models import AuditLog
from pod import (
    AppClient,
    PodFactory,
    S3Server,
    integrity,
    read_settings,
    replicated,
    s3_spec,
    wait_until,
)

ROW_BYTES = 1000
BATCH = 5000


def fill(database: Path, megabytes: int) -> int:
    """Add audit rows until the file holds about ``megabytes``; returns rows."""
    db = Database(parse_database_url(f"sqlite:///{database}"), 2, 1)
    # Each row takes about 1.5 KB on disk with its index entries.
    rows = megabytes * 1_000_000 // 1500
    start = datetime.now(UTC) - timedelta(days=30)
    with db.engine.begin() as connection:
        for offset in range(0, rows, BATCH):
            connection.execute(
                AuditLog.__table__.insert(),  # type: ignore[attr-defined]
                [
                    {
                        "timestamp": start + timedelta(seconds=i),
                        "action": "storage.mkdir",
                        "resource_type": "path",
                        "resource_id": f"/media/library/{i}",
                        "details": {"blob": f"{i:08d}" * (ROW_BYTES // 8)},
                        "success": True,
                        "status_code": 201,
                    }
                    for i in range(offset, min(rows, offset + BATCH))
                ],
            )
    with db.engine.connect() as connection:
        raw = connection.connection.driver_connection
        assert raw is not None
        raw.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    db.dispose()
    return rows


def audit_rows(database: Path) -> int:
    import pysqlite3.dbapi2 as sqlite

    connection = sqlite.connect(f"file:{database}?mode=ro", uri=True)
    try:
        return int(connection.execute("SELECT count(*) FROM audit_log").fetchone()[0])
    finally:
        connection.close()


@pytest.mark.parametrize("megabytes", [5, 50])
def test_a_lost_database_of_this_size_is_restored_whole(
    megabytes: int, s3: S3Server, bucket: str, make_pod: PodFactory, tmp_path: Path
) -> None:
    pod = make_pod(s3_spec(s3, bucket, "0.5"))
    assert pod.restore().result.returncode == 0
    assert pod.migrate().returncode == 0
    rows = fill(pod.database, megabytes)
    size = pod.database.stat().st_size
    app = pod.start_app()
    started = time.perf_counter()
    sidecar = pod.start_litestream()
    client = AppClient(pod)
    client.put_setting("marker", "written after the fill")
    client.close()
    wait_until(
        lambda: replicated(pod, tmp_path / "scratch.db", ["marker"]),
        "the filled database replicated",
        timeout=120,
    )
    first_sync = time.perf_counter() - started
    sidecar.kill_9()
    app.kill_9()
    pod.lose_the_disk()

    restored = pod.restore()

    assert restored.result.returncode == 0, restored.result.stderr
    assert integrity(pod.database) == "ok"
    assert audit_rows(pod.database) >= rows
    assert read_settings(pod.database)["marker"] == "written after the fill"
    print(
        f"\n[s3 replica, Litestream 0.5] database of {size / 1e6:.1f} MB "
        f"({rows} audit rows): in the replica {first_sync:.1f} s after "
        "Litestream started, "
        f"restored in {restored.seconds:.2f} s"
    )
