"""Notification channels, events, delivery log and per-user inboxes."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Index, Text, UniqueConstraint
from sqlmodel import Field, SQLModel

from kubarr_app.models.types import (
    created_field,
    fk_field,
    id_field,
    json_field,
    time_field,
)


class NotificationChannel(SQLModel, table=True):
    __tablename__ = "notification_channel"

    id: int | None = id_field()
    name: str = Field(max_length=64, unique=True)
    kind: str = Field(max_length=32)
    config: dict[str, object] | None = json_field()
    enabled: bool = True
    created_at: datetime = created_field()


class NotificationEvent(SQLModel, table=True):
    __tablename__ = "notification_event"

    id: int | None = id_field()
    name: str = Field(max_length=100, unique=True)
    description: str | None = Field(default=None, max_length=255)
    severity: str = Field(default="info", max_length=16)


class NotificationLog(SQLModel, table=True):
    __tablename__ = "notification_log"

    id: int | None = id_field()
    channel_id: int | None = fk_field(
        "notification_channel.id", ondelete="SET NULL", nullable=True
    )
    event_name: str = Field(max_length=100)
    message: str = Field(sa_type=Text)
    status: str = Field(max_length=16)
    error: str | None = Field(default=None, sa_type=Text)
    created_at: datetime = created_field()


class UserNotification(SQLModel, table=True):
    __tablename__ = "user_notification"
    __table_args__ = (Index("ix_user_notification_inbox", "user_id", "created_at"),)

    id: int | None = id_field()
    user_id: int = fk_field("user.id", index=False)
    event_name: str = Field(max_length=100)
    title: str = Field(max_length=255)
    message: str = Field(sa_type=Text)
    read_at: datetime | None = time_field()
    created_at: datetime = created_field()


class UserNotificationPref(SQLModel, table=True):
    __tablename__ = "user_notification_pref"
    __table_args__ = (UniqueConstraint("user_id", "event_name", "channel_id"),)

    id: int | None = id_field()
    user_id: int = fk_field("user.id", index=False)
    event_name: str = Field(max_length=100)
    channel_id: int | None = fk_field(
        "notification_channel.id", nullable=True, index=True
    )
    enabled: bool = True
