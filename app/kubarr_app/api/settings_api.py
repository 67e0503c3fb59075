"""System settings: string keys and values that admins edit."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Request
from pydantic import BaseModel, Field
from sqlmodel import col, select
from starlette.concurrency import run_in_threadpool

from kubarr_app.api.deps import StateDep, note_audit, require
from kubarr_app.api.state import AppState
from kubarr_app.auth import AuthContext
from kubarr_app.models import SystemSetting

router = APIRouter(prefix="/api/settings", tags=["settings"])

KEY_PATTERN = r"^[a-z0-9_.-]{1,100}$"


class SettingIn(BaseModel):
    value: str = Field(max_length=65536)
    description: str | None = Field(default=None, max_length=1024)


class SettingOut(BaseModel):
    key: str
    value: str
    description: str | None
    updated_at: datetime


def _out(row: SystemSetting) -> SettingOut:
    return SettingOut.model_validate(row, from_attributes=True)


def _list(state: AppState) -> list[SettingOut]:
    with state.database.read() as session:
        rows = session.exec(select(SystemSetting).order_by(col(SystemSetting.key)))
        return [_out(row) for row in rows]


def _get(state: AppState, key: str) -> SettingOut:
    with state.database.read() as session:
        row = session.get(SystemSetting, key)
        if row is None:
            raise HTTPException(404, f"no setting {key!r}")
        return _out(row)


def _put(state: AppState, key: str, body: SettingIn) -> tuple[SettingOut, bool]:
    with state.database.write() as session:
        row = session.get(SystemSetting, key)
        created = row is None
        if row is None:
            row = SystemSetting(key=key, value=body.value)
        row.value = body.value
        if body.description is not None:
            row.description = body.description
        row.updated_at = datetime.now(UTC)
        session.add(row)
        session.flush()
        return _out(row), created


def _delete(state: AppState, key: str) -> None:
    with state.database.write() as session:
        row = session.get(SystemSetting, key)
        if row is None:
            raise HTTPException(404, f"no setting {key!r}")
        session.delete(row)


@router.get("")
async def list_settings(
    _caller: Annotated[AuthContext, Depends(require("settings:read"))],
    state: StateDep,
) -> list[SettingOut]:
    return await run_in_threadpool(_list, state)


@router.get("/{key}")
async def get_setting(
    key: str,
    _caller: Annotated[AuthContext, Depends(require("settings:read"))],
    state: StateDep,
) -> SettingOut:
    return await run_in_threadpool(_get, state, key)


@router.put("/{key}")
async def put_setting(
    key: str,
    body: SettingIn,
    request: Request,
    _caller: Annotated[AuthContext, Depends(require("settings:write"))],
    state: StateDep,
) -> SettingOut:
    note_audit(request, "setting.update", "system_setting", key)
    if not re.match(KEY_PATTERN, key):
        raise HTTPException(422, "a setting key is 1-100 of a-z 0-9 _ . -")
    out, created = await run_in_threadpool(_put, state, key, body)
    if created:
        note_audit(request, "setting.create", "system_setting", key)
    return out


@router.delete("/{key}", status_code=204)
async def delete_setting(
    key: str,
    request: Request,
    _caller: Annotated[AuthContext, Depends(require("settings:write"))],
    state: StateDep,
) -> None:
    note_audit(request, "setting.delete", "system_setting", key)
    await run_in_threadpool(_delete, state, key)
