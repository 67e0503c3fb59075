"""Audit statistics over 200,000 rows stay correct and small in memory."""

from __future__ import annotations

import time
import tracemalloc
from datetime import UTC, datetime, timedelta

from kubarr_app import audit
from kubarr_app.db import Database
from kubarr_app.models import AuditLog
from sqlalchemy import insert

ROWS = 200_000
ACTIONS = ["auth.login", "setting.update", "storage.mkdir", "user.create", "app.x"]


def fill(database: Database) -> dict[str, int]:
    """Insert ROWS rows spread over 20 days; return the expected action counts."""
    now = datetime.now(UTC).replace(hour=12, minute=0, second=0, microsecond=0)
    expected: dict[str, int] = dict.fromkeys(ACTIONS, 0)
    batch: list[dict[str, object]] = []
    with database.write() as session:
        for index in range(ROWS):
            # Action i takes weight i+1, so the ranking is unambiguous.
            action = ACTIONS[min(int((index % 15) ** 0.5 * 1.2), 4)]
            expected[action] += 1
            batch.append(
                {
                    "timestamp": now - timedelta(days=index % 20, minutes=index % 600),
                    "action": action,
                    "success": index % 50 != 0,
                    "resource_type": "x",
                }
            )
            if len(batch) == 20_000:
                session.connection().execute(insert(AuditLog), batch)
                batch = []
    return expected


def test_statistics_over_200k_rows_are_exact_with_a_small_memory_peak(
    database: Database,
) -> None:
    expected = fill(database)

    tracemalloc.start()
    started = time.perf_counter()
    with database.read() as session:
        stats = audit.statistics(session, since=None, top=10)
    elapsed = time.perf_counter() - started
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()

    engine = "sqlite" if database.is_sqlite else "postgresql"
    print(
        f"\naudit statistics on {engine}: {ROWS} rows in {elapsed:.3f} s, "
        f"tracemalloc peak {peak / 1024:.0f} KiB"
    )
    assert stats.total == ROWS
    assert stats.failures == ROWS // 50
    assert dict(stats.top_actions) == expected
    assert [a for a, _ in stats.top_actions] == sorted(
        expected, key=lambda a: (-expected[a], a)
    )
    assert len(stats.per_day) in (20, 21)  # minutes may cross midnight
    assert sum(n for _, n in stats.per_day) == ROWS
    assert peak < 3 * 1024 * 1024
