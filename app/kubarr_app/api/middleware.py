"""Request metrics and the audit row of every mutating call.

A plain ASGI middleware (not Starlette's ``BaseHTTPMiddleware``, which costs
a task per request). The audit row is written before the response starts, so
a client that has its answer can already find the call in the audit log.
"""

from __future__ import annotations

import logging
import time
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from kubarr_app import audit
from kubarr_app.api.state import AppState

log = logging.getLogger(__name__)

MUTATING_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})


def _route_label(scope: Scope) -> str:
    route = scope.get("route")
    path = getattr(route, "path", None)
    return str(path) if path else "unmatched"


def _client_ip(scope: Scope) -> str | None:
    client = scope.get("client")
    return str(client[0]) if client else None


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope.get("headers", []):
        if key == name:
            return bytes(value).decode("latin-1")
    return None


class RequestMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        state: AppState = scope["app"].state.kubarr
        started = time.perf_counter()
        method = scope["method"]
        status = {"code": 500}

        async def send_wrapper(message: Message) -> None:
            if message["type"] == "http.response.start":
                status["code"] = message["status"]
                if method in MUTATING_METHODS:
                    await self._write_audit(state, scope, message["status"])
            await send(message)

        try:
            await self.app(scope, receive, send_wrapper)
        finally:
            route = _route_label(scope)
            state.metrics.requests.labels(method, route, str(status["code"])).inc()
            state.metrics.latency.labels(method, route).observe(
                time.perf_counter() - started
            )

    async def _write_audit(self, state: AppState, scope: Scope, code: int) -> None:
        # Limitation: the row is its own transaction, not part of the change
        # it describes; a crash between the two loses the row.
        request_state: dict[str, Any] = scope.get("state", {})
        note: dict[str, Any] = request_state.get("audit") or {}
        caller = request_state.get("auth")
        entry = audit.AuditEntry(
            action=note.get("action") or f"{scope['method']} {_route_label(scope)}",
            success=code < 400,
            user_id=getattr(caller, "user_id", None),
            username=note.get("username") or getattr(caller, "username", None),
            resource_type=note.get("resource_type"),
            resource_id=note.get("resource_id"),
            details=note.get("details"),
            ip_address=_client_ip(scope),
            user_agent=_header(scope, b"user-agent"),
            status_code=code,
        )
        try:
            await run_in_threadpool(audit.record, state.database, entry)
        except Exception:
            # Limitation: a failed audit write is logged, not retried; the
            # call it describes has already happened.
            log.exception("could not write the audit row for %s", entry.action)
