"""The initial schema: all 22 tables with their keys and indexes.

Revision ID: 0001
Revises: (none)
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# 64-bit keys; INTEGER on SQLite so the primary key aliases the rowid.
BIG_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "bootstrap_status",
        sa.Column("id", BIG_ID, nullable=False),
        sa.Column("step", sa.String(length=64), nullable=False),
        sa.Column("completed", sa.Boolean(), nullable=False),
        sa.Column("completed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("message", sa.String(length=255), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_bootstrap_status")),
        sa.UniqueConstraint("step", name=op.f("uq_bootstrap_status_step")),
    )
    op.create_table(
        "notification_channel",
        sa.Column("id", BIG_ID, nullable=False),
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("config", sa.Text(), nullable=True),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_notification_channel")),
        sa.UniqueConstraint("name", name=op.f("uq_notification_channel_name")),
    )
    op.create_table(
        "notification_event",
        sa.Column("id", BIG_ID, nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("description", sa.String(length=255), nullable=True),
        sa.Column("severity", sa.String(length=16), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_notification_event")),
        sa.UniqueConstraint("name", name=op.f("uq_notification_event_name")),
    )
    op.create_table(
        "oauth_provider",
        sa.Column("id", BIG_ID, nullable=False),
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("client_id", sa.String(length=255), nullable=False),
        sa.Column("client_secret", sa.String(length=255), nullable=True),
        sa.Column("authorization_url", sa.String(length=512), nullable=False),
        sa.Column("token_url", sa.String(length=512), nullable=False),
        sa.Column("userinfo_url", sa.String(length=512), nullable=True),
        sa.Column("scopes", sa.String(length=255), nullable=False),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_oauth_provider")),
        sa.UniqueConstraint("name", name=op.f("uq_oauth_provider_name")),
    )
    op.create_table(
        "role",
        sa.Column("id", BIG_ID, nullable=False),
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("description", sa.String(length=255), nullable=True),
        sa.Column("is_system", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_role")),
    )
    op.create_index(op.f("ix_role_name"), "role", ["name"], unique=True)

    op.create_table(
        "server_config",
        sa.Column("id", BIG_ID, nullable=False),
        sa.Column("key", sa.String(length=100), nullable=False),
        sa.Column("value", sa.Text(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_server_config")),
        sa.UniqueConstraint("key", name=op.f("uq_server_config_key")),
    )
    op.create_table(
        "system_setting",
        sa.Column("key", sa.String(length=100), nullable=False),
        sa.Column("value", sa.Text(), nullable=False),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_system_setting")),
    )
    op.create_table(
        "user",
        sa.Column("id", BIG_ID, nullable=False),
        sa.Column("username", sa.String(length=64), nullable=False),
        sa.Column("email", sa.String(length=255), nullable=True),
        sa.Column("password_hash", sa.String(length=255), nullable=True),
        sa.Column("is_active", sa.Boolean(), nullable=False),
        sa.Column("is_approved", sa.Boolean(), nullable=False),
        sa.Column("totp_secret", sa.String(length=64), nullable=True),
        sa.Column("totp_enabled", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_login_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_user")),
        sa.UniqueConstraint("email", name=op.f("uq_user_email")),
    )
    op.create_index(op.f("ix_user_username"), "user", ["username"], unique=True)

    op.create_table(
        "vpn_provider",
        sa.Column("id", BIG_ID, nullable=False),
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("config", sa.Text(), nullable=True),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_vpn_provider")),
        sa.UniqueConstraint("name", name=op.f("uq_vpn_provider_name")),
    )
    op.create_table(
        "app_vpn_config",
        sa.Column("id", BIG_ID, nullable=False),
        sa.Column("app_name", sa.String(length=100), nullable=False),
        sa.Column("vpn_provider_id", BIG_ID, nullable=False),
        sa.Column("kill_switch", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["vpn_provider_id"],
            ["vpn_provider.id"],
            name=op.f("fk_app_vpn_config_vpn_provider_id_vpn_provider"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_app_vpn_config")),
        sa.UniqueConstraint("app_name", name=op.f("uq_app_vpn_config_app_name")),
    )
    op.create_index(
        op.f("ix_app_vpn_config_vpn_provider_id"),
        "app_vpn_config",
        ["vpn_provider_id"],
        unique=False,
    )

    op.create_table(
        "audit_log",
        sa.Column("id", BIG_ID, nullable=False),
        sa.Column("timestamp", sa.DateTime(timezone=True), nullable=False),
        sa.Column("user_id", BIG_ID, nullable=True),
        sa.Column("username", sa.String(length=64), nullable=True),
        sa.Column("action", sa.String(length=100), nullable=False),
        sa.Column("resource_type", sa.String(length=64), nullable=True),
        sa.Column("resource_id", sa.String(length=255), nullable=True),
        sa.Column("details", sa.Text(), nullable=True),
        sa.Column("ip_address", sa.String(length=64), nullable=True),
        sa.Column("user_agent", sa.String(length=255), nullable=True),
        sa.Column("success", sa.Boolean(), nullable=False),
        sa.Column("status_code", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["user.id"],
            name=op.f("fk_audit_log_user_id_user"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_log")),
    )
    op.create_index(op.f("ix_audit_log_action"), "audit_log", ["action"], unique=False)
    op.create_index(
        op.f("ix_audit_log_timestamp"), "audit_log", ["timestamp"], unique=False
    )
    op.create_index(
        op.f("ix_audit_log_user_id"), "audit_log", ["user_id"], unique=False
    )

    op.create_table(
        "invite",
        sa.Column("id", BIG_ID, nullable=False),
        sa.Column("code_hash", sa.String(length=64), nullable=False),
        sa.Column("email", sa.String(length=255), nullable=True),
        sa.Column("role_id", BIG_ID, nullable=True),
        sa.Column("created_by_id", BIG_ID, nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("used_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["created_by_id"],
            ["user.id"],
            name=op.f("fk_invite_created_by_id_user"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["role_id"],
            ["role.id"],
            name=op.f("fk_invite_role_id_role"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_invite")),
        sa.UniqueConstraint("code_hash", name=op.f("uq_invite_code_hash")),
    )
    op.create_index(
        op.f("ix_invite_created_by_id"), "invite", ["created_by_id"], unique=False
    )
    op.create_index(op.f("ix_invite_role_id"), "invite", ["role_id"], unique=False)

    op.create_table(
        "notification_log",
        sa.Column("id", BIG_ID, nullable=False),
        sa.Column("channel_id", BIG_ID, nullable=True),
        sa.Column("event_name", sa.String(length=100), nullable=False),
        sa.Column("message", sa.Text(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["channel_id"],
            ["notification_channel.id"],
            name=op.f("fk_notification_log_channel_id_notification_channel"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_notification_log")),
    )
    op.create_index(
        op.f("ix_notification_log_channel_id"),
        "notification_log",
        ["channel_id"],
        unique=False,
    )

    op.create_table(
        "oauth_account",
        sa.Column("id", BIG_ID, nullable=False),
        sa.Column("user_id", BIG_ID, nullable=False),
        sa.Column("provider_id", BIG_ID, nullable=False),
        sa.Column("subject", sa.String(length=255), nullable=False),
        sa.Column("email", sa.String(length=255), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["provider_id"],
            ["oauth_provider.id"],
            name=op.f("fk_oauth_account_provider_id_oauth_provider"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["user.id"],
            name=op.f("fk_oauth_account_user_id_user"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_oauth_account")),
        sa.UniqueConstraint(
            "provider_id", "subject", name=op.f("uq_oauth_account_provider_id_subject")
        ),
    )
    op.create_index(
        op.f("ix_oauth_account_user_id"), "oauth_account", ["user_id"], unique=False
    )

    op.create_table(
        "pending_2fa_challenge",
        sa.Column("id", BIG_ID, nullable=False),
        sa.Column("user_id", BIG_ID, nullable=False),
        sa.Column("challenge_hash", sa.String(length=64), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["user.id"],
            name=op.f("fk_pending_2fa_challenge_user_id_user"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_pending_2fa_challenge")),
        sa.UniqueConstraint(
            "challenge_hash", name=op.f("uq_pending_2fa_challenge_challenge_hash")
        ),
    )
    op.create_index(
        op.f("ix_pending_2fa_challenge_expires_at"),
        "pending_2fa_challenge",
        ["expires_at"],
        unique=False,
    )
    op.create_index(
        op.f("ix_pending_2fa_challenge_user_id"),
        "pending_2fa_challenge",
        ["user_id"],
        unique=False,
    )

    op.create_table(
        "role_app_permission",
        sa.Column("id", BIG_ID, nullable=False),
        sa.Column("role_id", BIG_ID, nullable=False),
        sa.Column("app_name", sa.String(length=100), nullable=False),
        sa.ForeignKeyConstraint(
            ["role_id"],
            ["role.id"],
            name=op.f("fk_role_app_permission_role_id_role"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_role_app_permission")),
        sa.UniqueConstraint(
            "role_id", "app_name", name=op.f("uq_role_app_permission_role_id_app_name")
        ),
    )
    op.create_index(
        op.f("ix_role_app_permission_role_id"),
        "role_app_permission",
        ["role_id"],
        unique=False,
    )

    op.create_table(
        "role_permission",
        sa.Column("id", BIG_ID, nullable=False),
        sa.Column("role_id", BIG_ID, nullable=False),
        sa.Column("permission", sa.String(length=100), nullable=False),
        sa.ForeignKeyConstraint(
            ["role_id"],
            ["role.id"],
            name=op.f("fk_role_permission_role_id_role"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_role_permission")),
        sa.UniqueConstraint(
            "role_id", "permission", name=op.f("uq_role_permission_role_id_permission")
        ),
    )
    op.create_index(
        op.f("ix_role_permission_role_id"), "role_permission", ["role_id"], unique=False
    )

    op.create_table(
        "session",
        sa.Column("id", BIG_ID, nullable=False),
        sa.Column("user_id", BIG_ID, nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["user.id"],
            name=op.f("fk_session_user_id_user"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_session")),
    )
    op.create_index(
        op.f("ix_session_expires_at"), "session", ["expires_at"], unique=False
    )
    op.create_index(
        op.f("ix_session_token_hash"), "session", ["token_hash"], unique=True
    )
    op.create_index(op.f("ix_session_user_id"), "session", ["user_id"], unique=False)

    op.create_table(
        "user_notification",
        sa.Column("id", BIG_ID, nullable=False),
        sa.Column("user_id", BIG_ID, nullable=False),
        sa.Column("event_name", sa.String(length=100), nullable=False),
        sa.Column("title", sa.String(length=255), nullable=False),
        sa.Column("message", sa.Text(), nullable=False),
        sa.Column("read_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["user.id"],
            name=op.f("fk_user_notification_user_id_user"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_user_notification")),
    )
    op.create_index(
        "ix_user_notification_inbox",
        "user_notification",
        ["user_id", "created_at"],
        unique=False,
    )

    op.create_table(
        "user_notification_pref",
        sa.Column("id", BIG_ID, nullable=False),
        sa.Column("user_id", BIG_ID, nullable=False),
        sa.Column("event_name", sa.String(length=100), nullable=False),
        sa.Column("channel_id", BIG_ID, nullable=True),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(
            ["channel_id"],
            ["notification_channel.id"],
            name=op.f("fk_user_notification_pref_channel_id_notification_channel"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["user.id"],
            name=op.f("fk_user_notification_pref_user_id_user"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_user_notification_pref")),
        sa.UniqueConstraint(
            "user_id",
            "event_name",
            "channel_id",
            name=op.f("uq_user_notification_pref_user_id_event_name_channel_id"),
        ),
    )
    op.create_index(
        op.f("ix_user_notification_pref_channel_id"),
        "user_notification_pref",
        ["channel_id"],
        unique=False,
    )

    op.create_table(
        "user_preferences",
        sa.Column("id", BIG_ID, nullable=False),
        sa.Column("user_id", BIG_ID, nullable=False),
        sa.Column("theme", sa.String(length=32), nullable=False),
        sa.Column("language", sa.String(length=16), nullable=False),
        sa.Column("extra", sa.Text(), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["user.id"],
            name=op.f("fk_user_preferences_user_id_user"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_user_preferences")),
        sa.UniqueConstraint("user_id", name=op.f("uq_user_preferences_user_id")),
    )
    op.create_table(
        "user_role",
        sa.Column("user_id", BIG_ID, nullable=False),
        sa.Column("role_id", BIG_ID, nullable=False),
        sa.ForeignKeyConstraint(
            ["role_id"],
            ["role.id"],
            name=op.f("fk_user_role_role_id_role"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["user.id"],
            name=op.f("fk_user_role_user_id_user"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("user_id", "role_id", name=op.f("pk_user_role")),
    )
    op.create_index(
        op.f("ix_user_role_role_id"), "user_role", ["role_id"], unique=False
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_user_role_role_id"), table_name="user_role")

    op.drop_table("user_role")
    op.drop_table("user_preferences")
    op.drop_index(
        op.f("ix_user_notification_pref_channel_id"),
        table_name="user_notification_pref",
    )

    op.drop_table("user_notification_pref")
    op.drop_index("ix_user_notification_inbox", table_name="user_notification")

    op.drop_table("user_notification")
    op.drop_index(op.f("ix_session_user_id"), table_name="session")
    op.drop_index(op.f("ix_session_token_hash"), table_name="session")
    op.drop_index(op.f("ix_session_expires_at"), table_name="session")

    op.drop_table("session")
    op.drop_index(op.f("ix_role_permission_role_id"), table_name="role_permission")

    op.drop_table("role_permission")
    op.drop_index(
        op.f("ix_role_app_permission_role_id"), table_name="role_app_permission"
    )

    op.drop_table("role_app_permission")
    op.drop_index(
        op.f("ix_pending_2fa_challenge_user_id"), table_name="pending_2fa_challenge"
    )
    op.drop_index(
        op.f("ix_pending_2fa_challenge_expires_at"), table_name="pending_2fa_challenge"
    )

    op.drop_table("pending_2fa_challenge")
    op.drop_index(op.f("ix_oauth_account_user_id"), table_name="oauth_account")

    op.drop_table("oauth_account")
    op.drop_index(op.f("ix_notification_log_channel_id"), table_name="notification_log")

    op.drop_table("notification_log")
    op.drop_index(op.f("ix_invite_role_id"), table_name="invite")
    op.drop_index(op.f("ix_invite_created_by_id"), table_name="invite")

    op.drop_table("invite")
    op.drop_index(op.f("ix_audit_log_user_id"), table_name="audit_log")
    op.drop_index(op.f("ix_audit_log_timestamp"), table_name="audit_log")
    op.drop_index(op.f("ix_audit_log_action"), table_name="audit_log")

    op.drop_table("audit_log")
    op.drop_index(
        op.f("ix_app_vpn_config_vpn_provider_id"), table_name="app_vpn_config"
    )

    op.drop_table("app_vpn_config")
    op.drop_table("vpn_provider")
    op.drop_index(op.f("ix_user_username"), table_name="user")

    op.drop_table("user")
    op.drop_table("system_setting")
    op.drop_table("server_config")
    op.drop_index(op.f("ix_role_name"), table_name="role")

    op.drop_table("role")
    op.drop_table("oauth_provider")
    op.drop_table("notification_event")
    op.drop_table("notification_channel")
    op.drop_table("bootstrap_status")
