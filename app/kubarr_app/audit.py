"""The audit log: recording, listing, statistics and retention.

Statistics are computed by the database with ``GROUP BY``; rows are never
loaded into Python to be counted, so memory stays flat however large the log
grows. Retention deletes in small batches, each its own transaction, so the
single SQLite write lock is never held for long.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, case, delete, func
from sqlmodel import Session, col, select

from kubarr_app.db import Database
from kubarr_app.models import AuditLog

PRUNE_BATCH_SIZE = 2000


@dataclass(frozen=True)
class AuditEntry:
    action: str
    success: bool = True
    user_id: int | None = None
    username: str | None = None
    resource_type: str | None = None
    resource_id: str | None = None
    details: dict[str, Any] | None = None
    ip_address: str | None = None
    user_agent: str | None = None
    status_code: int | None = None


def record(database: Database, entry: AuditEntry) -> None:
    with database.write() as session:
        session.add(
            AuditLog(
                timestamp=datetime.now(UTC),
                user_id=entry.user_id,
                username=entry.username,
                action=entry.action,
                resource_type=entry.resource_type,
                resource_id=entry.resource_id,
                details=entry.details,
                ip_address=entry.ip_address,
                user_agent=(entry.user_agent or "")[:255] or None,
                success=entry.success,
                status_code=entry.status_code,
            )
        )


@dataclass(frozen=True)
class AuditFilter:
    user_id: int | None = None
    action: str | None = None
    resource_type: str | None = None
    success: bool | None = None
    since: datetime | None = None
    until: datetime | None = None

    def conditions(self) -> list[ColumnElement[bool]]:
        conditions: list[ColumnElement[bool]] = []
        if self.user_id is not None:
            conditions.append(col(AuditLog.user_id) == self.user_id)
        if self.action is not None:
            conditions.append(col(AuditLog.action) == self.action)
        if self.resource_type is not None:
            conditions.append(col(AuditLog.resource_type) == self.resource_type)
        if self.success is not None:
            conditions.append(col(AuditLog.success) == self.success)
        if self.since is not None:
            conditions.append(col(AuditLog.timestamp) >= self.since)
        if self.until is not None:
            conditions.append(col(AuditLog.timestamp) < self.until)
        return conditions


def list_entries(
    session: Session, where: AuditFilter, page: int, page_size: int
) -> tuple[list[AuditLog], int]:
    """One page of entries, newest first, and the number matching the filter."""
    conditions = where.conditions()
    total = session.exec(
        select(func.count()).select_from(AuditLog).where(*conditions)
    ).one()
    rows = session.exec(
        select(AuditLog)
        .where(*conditions)
        .order_by(col(AuditLog.timestamp).desc(), col(AuditLog.id).desc())
        .offset((page - 1) * page_size)
        .limit(page_size)
    ).all()
    return list(rows), total


def _day_bucket(session: Session) -> ColumnElement[str]:
    """The UTC calendar day of a row as ``YYYY-MM-DD`` on either engine."""
    bind = session.get_bind()
    if bind.dialect.name == "sqlite":
        # Stored as naive UTC text "YYYY-MM-DD HH:MM:SS..."; the day is a prefix.
        return func.substr(col(AuditLog.timestamp), 1, 10)
    return func.to_char(func.timezone("UTC", col(AuditLog.timestamp)), "YYYY-MM-DD")


@dataclass
class AuditStatistics:
    total: int
    failures: int
    top_actions: list[tuple[str, int]] = field(default_factory=list)
    per_day: list[tuple[str, int]] = field(default_factory=list)


def statistics(
    session: Session, since: datetime | None = None, top: int = 10
) -> AuditStatistics:
    """Totals, the most frequent actions and counts per day, all in SQL."""
    conditions = AuditFilter(since=since).conditions()

    total, failures = session.exec(
        select(
            func.count(),
            func.coalesce(
                func.sum(case((col(AuditLog.success).is_(False), 1), else_=0)), 0
            ),
        )
        .select_from(AuditLog)
        .where(*conditions)
    ).one()

    count = func.count().label("count")
    top_actions = session.exec(
        select(col(AuditLog.action), count)
        .where(*conditions)
        .group_by(col(AuditLog.action))
        .order_by(count.desc(), col(AuditLog.action))
        .limit(top)
    ).all()

    day = _day_bucket(session).label("day")
    per_day = session.exec(
        select(day, func.count())
        .select_from(AuditLog)
        .where(*conditions)
        .group_by(day)
        .order_by(day)
    ).all()

    return AuditStatistics(
        total=int(total),
        failures=int(failures),
        top_actions=[(str(action), int(n)) for action, n in top_actions],
        per_day=[(str(d), int(n)) for d, n in per_day],
    )


def count_rows(session: Session) -> int:
    return int(session.exec(select(func.count()).select_from(AuditLog)).one())


@dataclass(frozen=True)
class PruneResult:
    deleted: int
    retention_days: int
    duration_seconds: float
    batches: int


def prune(
    database: Database,
    retention_days: int,
    batch_size: int = PRUNE_BATCH_SIZE,
    max_batches: int = 100_000,
) -> PruneResult:
    """Delete entries older than ``retention_days``, one small batch at a time.

    Each batch is its own write transaction, so requests that write wait for
    at most one batch, not for the whole prune.
    """
    started = time.monotonic()
    cutoff = datetime.now(UTC) - timedelta(days=retention_days)
    deleted = 0
    batches = 0

    while batches < max_batches:
        with database.write() as session:
            oldest = (
                select(col(AuditLog.id))
                .where(col(AuditLog.timestamp) < cutoff)
                .order_by(col(AuditLog.id))
                .limit(batch_size)
                .scalar_subquery()
            )
            result = session.connection().execute(
                delete(AuditLog).where(col(AuditLog.id).in_(oldest))
            )
            removed = int(result.rowcount or 0)
        batches += 1
        deleted += removed
        if removed < batch_size:
            break

    return PruneResult(
        deleted=deleted,
        retention_days=retention_days,
        duration_seconds=round(time.monotonic() - started, 6),
        batches=batches,
    )
