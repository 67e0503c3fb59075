"""Backup on demand and replication lag, through the Litestream sidecar.

``POST /api/backup/sync`` is what ``kubarr backup-now`` calls before an
upgrade or any other risky step: when it answers 200, every write committed
before the call is on the replica. ``GET /replicationz`` is a probe-style
check of how far the replica is behind, for monitoring.
"""

from __future__ import annotations

import logging
import time
from typing import Any

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from starlette.concurrency import run_in_threadpool

from kubarr_app.api.deps import StateDep, bearer_is_admin_token, note_audit
from kubarr_app.replication import (
    DEFAULT_SYNC_TIMEOUT_SECONDS,
    LitestreamClient,
    ReplicationError,
)

log = logging.getLogger(__name__)

router = APIRouter(tags=["replication"])

NOT_CONFIGURED = (
    "no Litestream control socket is configured (KUBARR_LITESTREAM_SOCKET is "
    "unset), so there is no replica to sync to; enable backups on the "
    "KubarrInstance"
)


class SyncOut(BaseModel):
    status: str
    txid: int
    replicated_txid: int
    duration_seconds: float


def _sync(litestream: LitestreamClient) -> tuple[dict[str, Any], float]:
    started = time.perf_counter()
    result = litestream.sync_now(
        wait=True, timeout_seconds=DEFAULT_SYNC_TIMEOUT_SECONDS
    )
    return result, time.perf_counter() - started


@router.post("/api/backup/sync")
async def backup_sync(request: Request, state: StateDep) -> SyncOut:
    """Ship every committed write to the replica now and wait for it (<= 60 s).

    Takes the admin bearer token, like the audit prune, because its caller is
    an operator Job or a person with ``kubectl``, not a signed-in user.
    """
    note_audit(request, "backup.sync", "database")
    if not bearer_is_admin_token(request, state):
        raise HTTPException(401, "a valid admin bearer token is required")
    request.state.audit["username"] = "admin-token"
    if state.litestream is None:
        raise HTTPException(409, NOT_CONFIGURED)

    try:
        result, duration = await run_in_threadpool(_sync, state.litestream)
    except ReplicationError as exc:
        log.warning("backup sync failed: %s", exc)
        request.state.audit["details"] = {"error": str(exc)}
        raise HTTPException(503, f"the backup sync failed: {exc}") from None

    log.info(
        "backup sync %s: transaction %d is on the replica (%.2f s)",
        result["status"],
        result["replicated_txid"],
        duration,
    )
    request.state.audit["details"] = {
        "status": result["status"],
        "txid": result["txid"],
        "replicated_txid": result["replicated_txid"],
    }
    return SyncOut(
        status=result["status"],
        txid=result["txid"],
        replicated_txid=result["replicated_txid"],
        duration_seconds=round(duration, 3),
    )


def _replication_health(
    litestream: LitestreamClient, max_lag: float
) -> tuple[int, dict[str, Any]]:
    body: dict[str, Any] = {
        "replication": "unreachable",
        "pending": None,
        "lag_seconds": None,
        "max_lag_seconds": max_lag,
        "txid": None,
        "replicated_txid": None,
        "last_sync_at": None,
    }
    try:
        lag = litestream.lag()
    except ReplicationError as exc:
        body["reason"] = str(exc)
        return 503, body

    body.update(
        pending=lag.pending,
        lag_seconds=round(lag.seconds, 3),
        txid=lag.txid,
        replicated_txid=lag.replicated_txid,
        last_sync_at=lag.last_sync_at.isoformat() if lag.last_sync_at else None,
    )
    if lag.seconds > max_lag:
        body["replication"] = "lagging"
        body["reason"] = (
            f"the replica has not caught up for {lag.seconds:.1f} s (more than "
            f"{max_lag:g} s); see the litestream sidecar's log"
        )
        return 503, body
    body["replication"] = "ok"
    return 200, body


@router.get("/replicationz")
async def replicationz(state: StateDep) -> JSONResponse:
    """200 while the replica is at most ``KUBARR_REPLICATION_MAX_LAG_SECONDS``
    behind, 503 when further behind or when Litestream cannot be asked.

    Unauthenticated like ``/readyz``: it shows transaction IDs and times,
    nothing secret.
    """
    if state.litestream is None:
        return JSONResponse({"replication": "not configured"})
    code, body = await run_in_threadpool(
        _replication_health,
        state.litestream,
        state.settings.replication_max_lag_seconds,
    )
    return JSONResponse(body, status_code=code)
