"""Settings that users edit, internal server configuration, first-run state."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Column, Text
from sqlmodel import Field, SQLModel

from kubarr_app.models.types import created_field, id_field, time_field


class SystemSetting(SQLModel, table=True):
    """A user-editable key/value setting, served by the settings API."""

    __tablename__ = "system_setting"

    key: str = Field(primary_key=True, max_length=100)
    value: str = Field(sa_column=Column(Text, nullable=False))
    description: str | None = Field(default=None, sa_type=Text)
    updated_at: datetime = created_field()


class ServerConfig(SQLModel, table=True):
    """Internal configuration (such as the session signing key); never served."""

    __tablename__ = "server_config"

    id: int | None = id_field()
    key: str = Field(max_length=100, unique=True)
    value: str = Field(sa_column=Column(Text, nullable=False))
    updated_at: datetime = created_field()


class BootstrapStatus(SQLModel, table=True):
    """Which first-run steps are done, so each runs exactly once."""

    __tablename__ = "bootstrap_status"

    id: int | None = id_field()
    step: str = Field(max_length=64, unique=True)
    completed: bool = False
    completed_at: datetime | None = time_field()
    message: str | None = Field(default=None, max_length=255)
