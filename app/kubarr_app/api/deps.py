"""Request dependencies: the app state, the caller, and permission checks."""

from __future__ import annotations

import hmac
from collections.abc import Callable, Coroutine
from typing import Annotated, Any

from fastapi import Depends, HTTPException, Request
from starlette.concurrency import run_in_threadpool

from kubarr_app.api.state import AppState
from kubarr_app.auth import AuthContext

SESSION_COOKIE_PREFIX = "kubarr_session_"
ACTIVE_SESSION_COOKIE = "kubarr_active_session"
SESSION_INDEX_HEADER = "x-kubarr-session-index"
MAX_SESSION_SLOTS = 8


def get_state(request: Request) -> AppState:
    state: AppState = request.app.state.kubarr
    return state


def session_index(request: Request) -> int:
    """Which of the browser's signed-in accounts this request speaks for."""
    raw = request.headers.get(SESSION_INDEX_HEADER) or request.cookies.get(
        ACTIVE_SESSION_COOKIE, "0"
    )
    try:
        index = int(raw)
    except ValueError:
        return 0
    return index if 0 <= index < MAX_SESSION_SLOTS else 0


def session_token(request: Request) -> str | None:
    header = request.headers.get("authorization", "")
    if header.lower().startswith("bearer "):
        return header[7:].strip() or None
    return request.cookies.get(f"{SESSION_COOKIE_PREFIX}{session_index(request)}")


async def current_auth(request: Request) -> AuthContext:
    """The signed-in caller, or 401.

    A cache hit is answered on the event loop; only a miss goes to a worker
    thread for the database lookup.
    """
    token = session_token(request)
    if not token:
        raise HTTPException(401, "not signed in")

    auth = get_state(request).auth
    context = auth.cached(token)
    if context is None:
        context = await run_in_threadpool(auth.authenticate, token, True)
    if context is None:
        raise HTTPException(401, "session is invalid, expired or revoked")

    request.state.auth = context
    return context


def require(permission: str) -> Callable[[Request], Coroutine[Any, Any, AuthContext]]:
    """A dependency that admits only callers holding ``permission``."""

    async def check(request: Request) -> AuthContext:
        context = await current_auth(request)
        if not context.can(permission):
            raise HTTPException(403, f"missing permission {permission}")
        return context

    return check


def bearer_is_admin_token(request: Request, state: AppState) -> bool:
    """Whether the request carries the admin bearer token.

    The token (``KUBARR_ADMIN_TOKEN`` or its file) is for the operator's Jobs,
    which have no user and no session.
    """
    expected = state.settings.read_admin_token()
    header = request.headers.get("authorization", "")
    if not expected or not header.lower().startswith("bearer "):
        return False
    given = header[7:].strip()
    return hmac.compare_digest(given.encode("utf-8"), expected.encode("utf-8"))


def note_audit(
    request: Request,
    action: str,
    resource_type: str | None = None,
    resource_id: object = None,
    details: dict[str, Any] | None = None,
) -> None:
    """Describe this mutating call for the audit row the middleware writes."""
    request.state.audit = {
        "action": action,
        "resource_type": resource_type,
        "resource_id": None if resource_id is None else str(resource_id),
        "details": details,
    }


StateDep = Annotated[AppState, Depends(get_state)]
CallerDep = Annotated[AuthContext, Depends(current_auth)]
