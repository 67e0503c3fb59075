"""Accounts, sessions, roles and permissions."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Column, ForeignKey, PrimaryKeyConstraint, UniqueConstraint
from sqlmodel import Field, SQLModel

from kubarr_app.models.types import (
    BigId,
    created_field,
    fk_field,
    id_field,
    json_field,
    time_field,
)


class User(SQLModel, table=True):
    __tablename__ = "user"

    id: int | None = id_field()
    username: str = Field(max_length=64, unique=True, index=True)
    email: str | None = Field(default=None, max_length=255, unique=True)
    password_hash: str | None = Field(default=None, max_length=255)
    is_active: bool = True
    is_approved: bool = True
    totp_secret: str | None = Field(default=None, max_length=64)
    totp_enabled: bool = False
    created_at: datetime = created_field()
    updated_at: datetime | None = time_field()
    last_login_at: datetime | None = time_field()


class Session(SQLModel, table=True):
    """A login. Only a hash of the token is stored, never the token itself."""

    __tablename__ = "session"

    id: int | None = id_field()
    user_id: int = fk_field("user.id")
    token_hash: str = Field(max_length=64, unique=True, index=True)
    created_at: datetime = created_field()
    expires_at: datetime = time_field(nullable=False, index=True)
    revoked_at: datetime | None = time_field()
    ip_address: str | None = Field(default=None, max_length=64)
    user_agent: str | None = Field(default=None, max_length=255)


class Role(SQLModel, table=True):
    __tablename__ = "role"

    id: int | None = id_field()
    name: str = Field(max_length=64, unique=True, index=True)
    description: str | None = Field(default=None, max_length=255)
    is_system: bool = False
    created_at: datetime = created_field()


class UserRole(SQLModel, table=True):
    __tablename__ = "user_role"
    __table_args__ = (PrimaryKeyConstraint("user_id", "role_id"),)

    user_id: int = Field(
        sa_column=Column(BigId, ForeignKey("user.id", ondelete="CASCADE"))
    )
    role_id: int = Field(
        sa_column=Column(BigId, ForeignKey("role.id", ondelete="CASCADE"), index=True)
    )


class RolePermission(SQLModel, table=True):
    __tablename__ = "role_permission"
    __table_args__ = (UniqueConstraint("role_id", "permission"),)

    id: int | None = id_field()
    role_id: int = fk_field("role.id")
    permission: str = Field(max_length=100)


class RoleAppPermission(SQLModel, table=True):
    """Which installed apps a role may open."""

    __tablename__ = "role_app_permission"
    __table_args__ = (UniqueConstraint("role_id", "app_name"),)

    id: int | None = id_field()
    role_id: int = fk_field("role.id")
    app_name: str = Field(max_length=100)


class Invite(SQLModel, table=True):
    __tablename__ = "invite"

    id: int | None = id_field()
    code_hash: str = Field(max_length=64, unique=True)
    email: str | None = Field(default=None, max_length=255)
    role_id: int | None = fk_field("role.id", ondelete="SET NULL", nullable=True)
    created_by_id: int | None = fk_field("user.id", ondelete="SET NULL", nullable=True)
    created_at: datetime = created_field()
    expires_at: datetime = time_field(nullable=False)
    used_at: datetime | None = time_field()


class Pending2FAChallenge(SQLModel, table=True):
    __tablename__ = "pending_2fa_challenge"

    id: int | None = id_field()
    user_id: int = fk_field("user.id")
    challenge_hash: str = Field(max_length=64, unique=True)
    attempts: int = 0
    created_at: datetime = created_field()
    expires_at: datetime = time_field(nullable=False, index=True)


class UserPreferences(SQLModel, table=True):
    __tablename__ = "user_preferences"

    id: int | None = id_field()
    user_id: int = fk_field("user.id", unique=True)
    theme: str = Field(default="system", max_length=32)
    language: str = Field(default="en", max_length=16)
    extra: dict[str, object] | None = json_field()
    updated_at: datetime | None = time_field()


class OAuthProvider(SQLModel, table=True):
    __tablename__ = "oauth_provider"

    id: int | None = id_field()
    name: str = Field(max_length=64, unique=True)
    client_id: str = Field(max_length=255)
    # Limitation: the client secret is stored as plain text in the database.
    client_secret: str | None = Field(default=None, max_length=255)
    authorization_url: str = Field(max_length=512)
    token_url: str = Field(max_length=512)
    userinfo_url: str | None = Field(default=None, max_length=512)
    scopes: str = Field(default="openid email profile", max_length=255)
    enabled: bool = True
    created_at: datetime = created_field()


class OAuthAccount(SQLModel, table=True):
    __tablename__ = "oauth_account"
    __table_args__ = (UniqueConstraint("provider_id", "subject"),)

    id: int | None = id_field()
    user_id: int = fk_field("user.id")
    provider_id: int = fk_field("oauth_provider.id", index=False)
    subject: str = Field(max_length=255)
    email: str | None = Field(default=None, max_length=255)
    created_at: datetime = created_field()
