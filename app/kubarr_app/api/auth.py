"""Sign in, sign out and sessions.

A browser can hold several signed-in accounts at once: each login takes a
numbered cookie (``kubarr_session_0``, ``kubarr_session_1``, ...) and
``kubarr_active_session`` says which one requests speak for.
"""

from __future__ import annotations

from datetime import datetime

from fastapi import APIRouter, HTTPException, Request, Response
from pydantic import BaseModel, Field
from sqlmodel import col, select
from starlette.concurrency import run_in_threadpool

from kubarr_app.api.deps import (
    ACTIVE_SESSION_COOKIE,
    MAX_SESSION_SLOTS,
    SESSION_COOKIE_PREFIX,
    CallerDep,
    StateDep,
    note_audit,
    session_index,
)
from kubarr_app.api.state import AppState
from kubarr_app.auth import AuthContext
from kubarr_app.models import Session

router = APIRouter(prefix="/api/auth", tags=["auth"])


class LoginRequest(BaseModel):
    username: str = Field(min_length=1, max_length=64)
    password: str = Field(min_length=1, max_length=1024)


class Me(BaseModel):
    user_id: int
    username: str
    roles: list[str]
    permissions: list[str]
    session_id: int
    session_index: int | None = None
    expires_at: datetime


class SessionOut(BaseModel):
    id: int
    created_at: datetime
    expires_at: datetime
    ip_address: str | None
    user_agent: str | None
    current: bool


def _me(context: AuthContext, index: int | None = None) -> Me:
    return Me(
        user_id=context.user_id,
        username=context.username,
        roles=list(context.roles),
        permissions=sorted(context.permissions),
        session_id=context.session_id,
        session_index=index,
        expires_at=context.expires_at,
    )


def _free_slot(request: Request, state: AppState, username: str) -> int:
    """Reuse the slot this user already holds, else the first free one."""
    empty: int | None = None
    for index in range(MAX_SESSION_SLOTS):
        token = request.cookies.get(f"{SESSION_COOKIE_PREFIX}{index}")
        if token is None:
            empty = index if empty is None else empty
            continue
        holder = state.auth.cached(token)
        if holder is not None and holder.username == username:
            return index
    return empty if empty is not None else 0


def _set_cookie(
    response: Response, state: AppState, name: str, value: str, max_age: int
) -> None:
    response.set_cookie(
        name,
        value,
        max_age=max_age,
        httponly=True,
        samesite="lax",
        secure=state.settings.cookie_secure,
        path="/",
    )


@router.post("/login")
async def login(
    body: LoginRequest,
    request: Request,
    response: Response,
    state: StateDep,
) -> Me:
    note_audit(request, "auth.login", "user", details={"username": body.username})
    client = request.client.host if request.client else None
    result = await run_in_threadpool(
        state.auth.login,
        body.username,
        body.password,
        client,
        request.headers.get("user-agent"),
    )
    if result is None:
        raise HTTPException(401, "wrong username or password")

    request.state.auth = result.context
    index = _free_slot(request, state, body.username)
    max_age = int(state.auth.session_ttl.total_seconds())
    _set_cookie(
        response, state, f"{SESSION_COOKIE_PREFIX}{index}", result.token, max_age
    )
    _set_cookie(response, state, ACTIVE_SESSION_COOKIE, str(index), max_age)
    return _me(result.context, index)


@router.post("/logout")
async def logout(
    request: Request,
    response: Response,
    context: CallerDep,
    state: StateDep,
) -> dict[str, bool]:
    note_audit(request, "auth.logout", "session", context.session_id)
    await run_in_threadpool(state.auth.revoke_session, context.session_id)
    response.delete_cookie(f"{SESSION_COOKIE_PREFIX}{session_index(request)}", path="/")
    return {"signed_out": True}


@router.get("/me")
async def me(request: Request, context: CallerDep) -> Me:
    return _me(context, session_index(request))


def _list_sessions(state: AppState, context: AuthContext) -> list[SessionOut]:
    with state.database.read() as session:
        rows = session.exec(
            select(Session)
            .where(
                Session.user_id == context.user_id,
                col(Session.revoked_at).is_(None),
            )
            .order_by(col(Session.created_at).desc())
        ).all()
    return [
        SessionOut(
            id=row.id or 0,
            created_at=row.created_at,
            expires_at=row.expires_at,
            ip_address=row.ip_address,
            user_agent=row.user_agent,
            current=row.id == context.session_id,
        )
        for row in rows
    ]


@router.get("/sessions")
async def sessions(
    context: CallerDep,
    state: StateDep,
) -> list[SessionOut]:
    return await run_in_threadpool(_list_sessions, state, context)


def _session_owner(state: AppState, session_id: int) -> int | None:
    with state.database.read() as session:
        row = session.get(Session, session_id)
        return None if row is None else row.user_id


@router.delete("/sessions/{session_id}")
async def revoke(
    session_id: int,
    request: Request,
    context: CallerDep,
    state: StateDep,
) -> dict[str, bool]:
    """Revoke one of your sessions, or anyone's with ``users:write``."""
    note_audit(request, "session.revoke", "session", session_id)
    owner = await run_in_threadpool(_session_owner, state, session_id)
    if owner is None:
        raise HTTPException(404, "no such session")
    if owner != context.user_id and not context.can("users:write"):
        raise HTTPException(403, "missing permission users:write")
    revoked = await run_in_threadpool(state.auth.revoke_session, session_id)
    return {"revoked": revoked}
