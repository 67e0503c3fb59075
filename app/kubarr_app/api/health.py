"""Liveness, readiness and Prometheus metrics."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Response
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from starlette.concurrency import run_in_threadpool

from kubarr_app.api.deps import StateDep
from kubarr_app.api.state import AppState
from kubarr_app.schema import current_revision

router = APIRouter(tags=["health"])


@router.get("/healthz")
async def healthz() -> dict[str, str]:
    """The process is alive; says nothing about the database on purpose."""
    return {"status": "ok"}


def _readiness(state: AppState) -> tuple[int, dict[str, Any]]:
    body: dict[str, Any] = {
        "engine": "sqlite" if state.database.is_sqlite else "postgresql",
        "sqlite_version": state.sqlite_version,
        "expected_revision": state.head_revision,
    }
    try:
        revision = current_revision(state.database)
    except Exception as exc:
        body.update(status="unavailable", reason=f"database unreachable: {exc}")
        return 503, body

    body["schema_revision"] = revision
    if revision != state.head_revision:
        body.update(status="unavailable", reason="schema is not at head")
        return 503, body
    body["status"] = "ready"
    return 200, body


@router.get("/readyz")
async def readyz(state: StateDep) -> JSONResponse:
    """Ready when the database answers and its schema is the one the code wants."""
    code, body = await run_in_threadpool(_readiness, state)
    return JSONResponse(body, status_code=code)


@router.get("/metrics")
async def metrics(state: StateDep) -> Response:
    payload = await run_in_threadpool(generate_latest, state.metrics.registry)
    return Response(payload, media_type=CONTENT_TYPE_LATEST)
