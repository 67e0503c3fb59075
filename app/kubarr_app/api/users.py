"""Users, roles and role permissions.

Every change here can alter what some session may do, so each one clears
the auth context cache before it answers.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Request
from pydantic import BaseModel, Field
from sqlalchemy import delete
from sqlalchemy.exc import IntegrityError
from sqlmodel import col, select
from starlette.concurrency import run_in_threadpool

from kubarr_app.api.deps import StateDep, note_audit, require
from kubarr_app.api.state import AppState
from kubarr_app.auth import PERMISSIONS, AuthContext
from kubarr_app.models import Role, RolePermission, User, UserRole
from kubarr_app.security import hash_password

router = APIRouter(prefix="/api", tags=["users"])


class UserIn(BaseModel):
    username: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.@-]+$")
    password: str = Field(min_length=8, max_length=1024)
    email: str | None = Field(default=None, max_length=255)
    roles: list[str] = Field(default_factory=lambda: ["viewer"])


class UserPatch(BaseModel):
    email: str | None = None
    password: str | None = Field(default=None, min_length=8, max_length=1024)
    is_active: bool | None = None


class UserOut(BaseModel):
    id: int
    username: str
    email: str | None
    is_active: bool
    roles: list[str]
    created_at: datetime
    last_login_at: datetime | None


class RoleIn(BaseModel):
    name: str = Field(min_length=1, max_length=64, pattern=r"^[a-z0-9_-]+$")
    description: str | None = Field(default=None, max_length=255)
    permissions: list[str] = Field(default_factory=list)


class RoleOut(BaseModel):
    id: int
    name: str
    description: str | None
    is_system: bool
    permissions: list[str]


class RoleNames(BaseModel):
    roles: list[str]


class PermissionList(BaseModel):
    permissions: list[str]


def _check_permissions(permissions: list[str]) -> None:
    unknown = sorted(set(permissions) - set(PERMISSIONS))
    if unknown:
        raise HTTPException(422, f"unknown permissions: {', '.join(unknown)}")


def _user_out(state: AppState, user: User) -> UserOut:
    with state.database.read() as session:
        roles = session.exec(
            select(Role.name)
            .join(UserRole, col(UserRole.role_id) == col(Role.id))
            .where(UserRole.user_id == user.id)
            .order_by(col(Role.name))
        ).all()
    return UserOut(
        id=user.id or 0,
        username=user.username,
        email=user.email,
        is_active=user.is_active,
        roles=list(roles),
        created_at=user.created_at,
        last_login_at=user.last_login_at,
    )


def _list_users(state: AppState) -> list[UserOut]:
    with state.database.read() as session:
        users = session.exec(select(User).order_by(col(User.id))).all()
    return [_user_out(state, user) for user in users]


def _role_ids(state: AppState, names: list[str]) -> list[int]:
    with state.database.read() as session:
        rows = session.exec(select(Role).where(col(Role.name).in_(names))).all()
    found = {row.name: row.id for row in rows}
    missing = sorted(set(names) - set(found))
    if missing:
        raise HTTPException(422, f"unknown roles: {', '.join(missing)}")
    return [role_id for role_id in found.values() if role_id is not None]


def _create_user(state: AppState, body: UserIn) -> UserOut:
    role_ids = _role_ids(state, body.roles)
    password_hash = hash_password(body.password)
    try:
        with state.database.write() as session:
            user = User(
                username=body.username, email=body.email, password_hash=password_hash
            )
            session.add(user)
            session.flush()
            assert user.id is not None
            for role_id in role_ids:
                session.add(UserRole(user_id=user.id, role_id=role_id))
    except IntegrityError:
        raise HTTPException(409, "username or email already taken") from None
    return _user_out(state, user)


def _update_user(state: AppState, user_id: int, body: UserPatch) -> UserOut:
    password_hash = hash_password(body.password) if body.password else None
    with state.database.write() as session:
        user = session.get(User, user_id)
        if user is None:
            raise HTTPException(404, "no such user")
        if body.email is not None:
            user.email = body.email or None
        if password_hash is not None:
            user.password_hash = password_hash
        if body.is_active is not None:
            user.is_active = body.is_active
        user.updated_at = datetime.now(UTC)
        session.add(user)
    state.auth.invalidate()
    return _user_out(state, user)


def _delete_user(state: AppState, user_id: int, caller: AuthContext) -> None:
    if user_id == caller.user_id:
        raise HTTPException(409, "you cannot delete your own account")
    with state.database.write() as session:
        user = session.get(User, user_id)
        if user is None:
            raise HTTPException(404, "no such user")
        session.delete(user)
    state.auth.invalidate()


def _set_user_roles(state: AppState, user_id: int, names: list[str]) -> UserOut:
    role_ids = _role_ids(state, names)
    with state.database.write() as session:
        user = session.get(User, user_id)
        if user is None:
            raise HTTPException(404, "no such user")
        session.connection().execute(
            delete(UserRole).where(col(UserRole.user_id) == user_id)
        )
        for role_id in role_ids:
            session.add(UserRole(user_id=user_id, role_id=role_id))
    state.auth.invalidate()
    return _user_out(state, user)


@router.get("/users")
async def list_users(
    _caller: Annotated[AuthContext, Depends(require("users:read"))],
    state: StateDep,
) -> list[UserOut]:
    return await run_in_threadpool(_list_users, state)


@router.post("/users", status_code=201)
async def create_user(
    body: UserIn,
    request: Request,
    _caller: Annotated[AuthContext, Depends(require("users:write"))],
    state: StateDep,
) -> UserOut:
    note_audit(request, "user.create", "user", details={"username": body.username})
    created = await run_in_threadpool(_create_user, state, body)
    note_audit(request, "user.create", "user", created.id, {"username": body.username})
    return created


@router.patch("/users/{user_id}")
async def update_user(
    user_id: int,
    body: UserPatch,
    request: Request,
    _caller: Annotated[AuthContext, Depends(require("users:write"))],
    state: StateDep,
) -> UserOut:
    changed = sorted(body.model_dump(exclude_none=True))
    note_audit(request, "user.update", "user", user_id, {"fields": changed})
    return await run_in_threadpool(_update_user, state, user_id, body)


@router.delete("/users/{user_id}", status_code=204)
async def delete_user(
    user_id: int,
    request: Request,
    caller: Annotated[AuthContext, Depends(require("users:write"))],
    state: StateDep,
) -> None:
    note_audit(request, "user.delete", "user", user_id)
    await run_in_threadpool(_delete_user, state, user_id, caller)


@router.put("/users/{user_id}/roles")
async def set_user_roles(
    user_id: int,
    body: RoleNames,
    request: Request,
    _caller: Annotated[AuthContext, Depends(require("users:write"))],
    state: StateDep,
) -> UserOut:
    note_audit(request, "user.roles", "user", user_id, {"roles": body.roles})
    return await run_in_threadpool(_set_user_roles, state, user_id, body.roles)


def _role_out(state: AppState, role: Role) -> RoleOut:
    with state.database.read() as session:
        permissions = session.exec(
            select(RolePermission.permission)
            .where(RolePermission.role_id == role.id)
            .order_by(col(RolePermission.permission))
        ).all()
    return RoleOut(
        id=role.id or 0,
        name=role.name,
        description=role.description,
        is_system=role.is_system,
        permissions=list(permissions),
    )


def _list_roles(state: AppState) -> list[RoleOut]:
    with state.database.read() as session:
        roles = session.exec(select(Role).order_by(col(Role.name))).all()
    return [_role_out(state, role) for role in roles]


def _create_role(state: AppState, body: RoleIn) -> RoleOut:
    _check_permissions(body.permissions)
    try:
        with state.database.write() as session:
            role = Role(name=body.name, description=body.description)
            session.add(role)
            session.flush()
            assert role.id is not None
            for permission in sorted(set(body.permissions)):
                session.add(RolePermission(role_id=role.id, permission=permission))
    except IntegrityError:
        raise HTTPException(409, "a role with that name exists") from None
    return _role_out(state, role)


def _set_role_permissions(
    state: AppState, role_id: int, permissions: list[str]
) -> RoleOut:
    _check_permissions(permissions)
    with state.database.write() as session:
        role = session.get(Role, role_id)
        if role is None:
            raise HTTPException(404, "no such role")
        session.connection().execute(
            delete(RolePermission).where(col(RolePermission.role_id) == role_id)
        )
        for permission in sorted(set(permissions)):
            session.add(RolePermission(role_id=role_id, permission=permission))
    state.auth.invalidate()
    return _role_out(state, role)


def _delete_role(state: AppState, role_id: int) -> None:
    with state.database.write() as session:
        role = session.get(Role, role_id)
        if role is None:
            raise HTTPException(404, "no such role")
        if role.is_system:
            raise HTTPException(409, "built-in roles cannot be deleted")
        session.delete(role)
    state.auth.invalidate()


@router.get("/roles")
async def list_roles(
    _caller: Annotated[AuthContext, Depends(require("roles:read"))],
    state: StateDep,
) -> list[RoleOut]:
    return await run_in_threadpool(_list_roles, state)


@router.post("/roles", status_code=201)
async def create_role(
    body: RoleIn,
    request: Request,
    _caller: Annotated[AuthContext, Depends(require("roles:write"))],
    state: StateDep,
) -> RoleOut:
    note_audit(request, "role.create", "role", details={"name": body.name})
    created = await run_in_threadpool(_create_role, state, body)
    note_audit(request, "role.create", "role", created.id, {"name": body.name})
    return created


@router.put("/roles/{role_id}/permissions")
async def set_role_permissions(
    role_id: int,
    body: PermissionList,
    request: Request,
    _caller: Annotated[AuthContext, Depends(require("roles:write"))],
    state: StateDep,
) -> RoleOut:
    note_audit(
        request, "role.permissions", "role", role_id, {"permissions": body.permissions}
    )
    return await run_in_threadpool(
        _set_role_permissions, state, role_id, body.permissions
    )


@router.delete("/roles/{role_id}", status_code=204)
async def delete_role(
    role_id: int,
    request: Request,
    _caller: Annotated[AuthContext, Depends(require("roles:write"))],
    state: StateDep,
) -> None:
    note_audit(request, "role.delete", "role", role_id)
    await run_in_threadpool(_delete_role, state, role_id)
