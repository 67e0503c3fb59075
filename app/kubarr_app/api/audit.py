"""Audit log listing, statistics and the retention prune endpoint."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Query, Request
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool

from kubarr_app import audit
from kubarr_app.api.deps import StateDep, bearer_is_admin_token, note_audit, require
from kubarr_app.api.state import AppState
from kubarr_app.auth import AuthContext

router = APIRouter(prefix="/api/audit", tags=["audit"])


class AuditOut(BaseModel):
    id: int
    timestamp: datetime
    user_id: int | None
    username: str | None
    action: str
    resource_type: str | None
    resource_id: str | None
    details: dict[str, Any] | None
    ip_address: str | None
    success: bool
    status_code: int | None


class AuditPage(BaseModel):
    items: list[AuditOut]
    total: int
    page: int
    page_size: int


class CountOut(BaseModel):
    key: str
    count: int


class StatisticsOut(BaseModel):
    since: datetime
    total: int
    failures: int
    top_actions: list[CountOut]
    per_day: list[CountOut]


class PruneRequest(BaseModel):
    retention_days: int | None = Field(default=None, ge=1, le=36500)


class PruneOut(BaseModel):
    deleted: int
    retention_days: int
    duration_seconds: float


def _list(
    state: AppState, where: audit.AuditFilter, page: int, page_size: int
) -> AuditPage:
    with state.database.read() as session:
        rows, total = audit.list_entries(session, where, page, page_size)
    items = [AuditOut.model_validate(row, from_attributes=True) for row in rows]
    return AuditPage(items=items, total=total, page=page, page_size=page_size)


@router.get("")
async def list_audit(
    _caller: Annotated[AuthContext, Depends(require("audit:read"))],
    state: StateDep,
    page: Annotated[int, Query(ge=1)] = 1,
    page_size: Annotated[int, Query(ge=1, le=500)] = 50,
    user_id: int | None = None,
    action: str | None = None,
    resource_type: str | None = None,
    success: bool | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
) -> AuditPage:
    for name, value in (("since", since), ("until", until)):
        if value is not None and value.tzinfo is None:
            raise HTTPException(422, f"{name} must carry a timezone, e.g. ...Z")
    where = audit.AuditFilter(user_id, action, resource_type, success, since, until)
    return await run_in_threadpool(_list, state, where, page, page_size)


def _statistics(state: AppState, since: datetime, top: int) -> StatisticsOut:
    with state.database.read() as session:
        stats = audit.statistics(session, since, top)
    return StatisticsOut(
        since=since,
        total=stats.total,
        failures=stats.failures,
        top_actions=[CountOut(key=k, count=n) for k, n in stats.top_actions],
        per_day=[CountOut(key=k, count=n) for k, n in stats.per_day],
    )


@router.get("/stats")
async def audit_statistics(
    _caller: Annotated[AuthContext, Depends(require("audit:read"))],
    state: StateDep,
    days: Annotated[int, Query(ge=1, le=36500)] = 30,
    top: Annotated[int, Query(ge=1, le=100)] = 10,
) -> StatisticsOut:
    since = datetime.now(UTC) - timedelta(days=days)
    return await run_in_threadpool(_statistics, state, since, top)


@router.post("/prune")
async def prune_audit(
    request: Request,
    state: StateDep,
    body: PruneRequest | None = None,
    retention_days: Annotated[int | None, Query(ge=1, le=36500)] = None,
) -> PruneOut:
    """Delete entries older than the retention; called by the retention CronJob.

    Takes the admin bearer token (``KUBARR_ADMIN_TOKEN`` or its file) rather
    than a session, because the CronJob has no user.
    """
    if not bearer_is_admin_token(request, state):
        note_audit(request, "audit.prune", "audit_log")
        raise HTTPException(401, "a valid admin bearer token is required")

    days = retention_days or (body.retention_days if body else None)
    days = days or state.settings.audit_retention_days
    result = await run_in_threadpool(audit.prune, state.database, days)
    note_audit(
        request,
        "audit.prune",
        "audit_log",
        details={"deleted": result.deleted, "retention_days": days},
    )
    request.state.audit["username"] = "admin-token"
    return PruneOut(
        deleted=result.deleted,
        retention_days=result.retention_days,
        duration_seconds=result.duration_seconds,
    )
