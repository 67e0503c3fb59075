"""The audit log: one row per mutating call."""

from __future__ import annotations

from datetime import datetime

from sqlmodel import Field, SQLModel

from kubarr_app.models.types import fk_field, id_field, json_field, time_field


class AuditLog(SQLModel, table=True):
    __tablename__ = "audit_log"

    id: int | None = id_field()
    timestamp: datetime = time_field(nullable=False, index=True)
    user_id: int | None = fk_field("user.id", ondelete="SET NULL", nullable=True)
    username: str | None = Field(default=None, max_length=64)
    action: str = Field(max_length=100, index=True)
    resource_type: str | None = Field(default=None, max_length=64)
    resource_id: str | None = Field(default=None, max_length=255)
    details: dict[str, object] | None = json_field()
    ip_address: str | None = Field(default=None, max_length=64)
    user_agent: str | None = Field(default=None, max_length=255)
    success: bool = True
    status_code: int | None = None
