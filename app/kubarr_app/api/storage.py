"""Browsing the media storage: list, info, mkdir, delete, download, usage."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Query, Request
from fastapi.responses import FileResponse
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool

from kubarr_app.api.deps import StateDep, note_audit, require
from kubarr_app.auth import AuthContext
from kubarr_app.storage import Entry, StorageError

router = APIRouter(prefix="/api/storage", tags=["storage"])


class EntryOut(BaseModel):
    name: str
    path: str
    kind: str
    size: int | None
    modified: datetime | None


class UsageOut(BaseModel):
    total: int
    used: int
    free: int


class MkdirIn(BaseModel):
    path: str = Field(min_length=1, max_length=4096)


def _out(entry: Entry) -> EntryOut:
    return EntryOut(
        name=entry.name,
        path=entry.path,
        kind=entry.kind,
        size=entry.size,
        modified=entry.modified,
    )


def _refuse(exc: StorageError) -> HTTPException:
    return HTTPException(exc.status_code, str(exc))


@router.get("/list")
async def list_directory(
    _caller: Annotated[AuthContext, Depends(require("storage:read"))],
    state: StateDep,
    path: Annotated[str, Query(max_length=4096)] = "",
) -> list[EntryOut]:
    try:
        entries = await run_in_threadpool(state.storage.list, path)
    except StorageError as exc:
        raise _refuse(exc) from None
    return [_out(entry) for entry in entries]


@router.get("/info")
async def info(
    path: Annotated[str, Query(max_length=4096)],
    _caller: Annotated[AuthContext, Depends(require("storage:read"))],
    state: StateDep,
) -> EntryOut:
    try:
        return _out(await run_in_threadpool(state.storage.info, path))
    except StorageError as exc:
        raise _refuse(exc) from None


@router.get("/usage")
async def usage(
    _caller: Annotated[AuthContext, Depends(require("storage:read"))],
    state: StateDep,
) -> UsageOut:
    found = await run_in_threadpool(state.storage.usage)
    return UsageOut(total=found.total, used=found.used, free=found.free)


@router.post("/mkdir", status_code=201)
async def mkdir(
    body: MkdirIn,
    request: Request,
    _caller: Annotated[AuthContext, Depends(require("storage:write"))],
    state: StateDep,
) -> EntryOut:
    note_audit(request, "storage.mkdir", "path", body.path[:255])
    try:
        return _out(await run_in_threadpool(state.storage.mkdir, body.path))
    except StorageError as exc:
        raise _refuse(exc) from None


@router.delete("", status_code=204)
async def delete(
    request: Request,
    path: Annotated[str, Query(max_length=4096)],
    _caller: Annotated[AuthContext, Depends(require("storage:write"))],
    state: StateDep,
) -> None:
    note_audit(request, "storage.delete", "path", path[:255])
    try:
        await run_in_threadpool(state.storage.delete, path)
    except StorageError as exc:
        raise _refuse(exc) from None


@router.get("/download")
async def download(
    path: Annotated[str, Query(max_length=4096)],
    _caller: Annotated[AuthContext, Depends(require("storage:read"))],
    state: StateDep,
) -> FileResponse:
    """Streams the file in chunks; it is never read into memory whole."""
    try:
        file = await run_in_threadpool(state.storage.file_for_download, path)
    except StorageError as exc:
        raise _refuse(exc) from None
    return FileResponse(file, filename=file.name)
