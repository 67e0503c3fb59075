"""Seed the built-in roles, their permissions and the default settings.

Revision ID: 0002
Revises: 0001
"""

from collections.abc import Sequence
from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Frozen here on purpose: a later change to the app's permission list gets
# its own revision, so this one keeps meaning what it meant.
ROLE_PERMISSIONS = {
    "admin": [
        "apps:read",
        "audit:manage",
        "audit:read",
        "roles:read",
        "roles:write",
        "settings:read",
        "settings:write",
        "storage:read",
        "storage:write",
        "system:read",
        "users:read",
        "users:write",
    ],
    "user": [
        "apps:read",
        "settings:read",
        "storage:read",
        "storage:write",
        "system:read",
    ],
    "viewer": ["apps:read", "storage:read", "system:read"],
}
ROLE_DESCRIPTIONS = {
    "admin": "Full control of this Kubarr installation",
    "user": "Uses apps and manages files",
    "viewer": "Read-only access",
}
SETTINGS = [
    ("site_name", "Kubarr", "Name shown in the page title"),
    ("registration_open", "false", "Whether people may sign up without an invite"),
    ("default_role", "viewer", "Role given to a newly invited user"),
    ("theme", "system", "Default colour theme"),
]

role = sa.table(
    "role",
    sa.column("id", sa.BigInteger),
    sa.column("name", sa.String),
    sa.column("description", sa.String),
    sa.column("is_system", sa.Boolean),
    sa.column("created_at", sa.DateTime(timezone=True)),
)
role_permission = sa.table(
    "role_permission",
    sa.column("role_id", sa.BigInteger),
    sa.column("permission", sa.String),
)
system_setting = sa.table(
    "system_setting",
    sa.column("key", sa.String),
    sa.column("value", sa.Text),
    sa.column("description", sa.Text),
    sa.column("updated_at", sa.DateTime(timezone=True)),
)
bootstrap_status = sa.table(
    "bootstrap_status",
    sa.column("step", sa.String),
    sa.column("completed", sa.Boolean),
)


def _now() -> datetime:
    now = datetime.now(UTC)
    if op.get_bind().dialect.name == "sqlite":
        # Same storage format as the app's UTC timestamp type.
        return now.replace(tzinfo=None)
    return now


def upgrade() -> None:
    bind = op.get_bind()
    now = _now()

    for name, permissions in ROLE_PERMISSIONS.items():
        bind.execute(
            role.insert().values(
                name=name,
                description=ROLE_DESCRIPTIONS[name],
                is_system=True,
                created_at=now,
            )
        )
        role_id = bind.execute(
            sa.select(role.c.id).where(role.c.name == name)
        ).scalar_one()
        op.bulk_insert(
            role_permission,
            [{"role_id": role_id, "permission": p} for p in permissions],
        )

    op.bulk_insert(
        system_setting,
        [
            {"key": key, "value": value, "description": text, "updated_at": now}
            for key, value, text in SETTINGS
        ],
    )
    op.bulk_insert(bootstrap_status, [{"step": "admin", "completed": False}])


def downgrade() -> None:
    bind = op.get_bind()
    bind.execute(bootstrap_status.delete().where(bootstrap_status.c.step == "admin"))
    bind.execute(
        system_setting.delete().where(
            system_setting.c.key.in_([key for key, _, _ in SETTINGS])
        )
    )
    # Foreign keys are off while migrating, so dependent rows go explicitly.
    seeded = sa.select(role.c.id).where(role.c.name.in_(list(ROLE_PERMISSIONS)))
    for table in ("role_permission", "role_app_permission", "user_role"):
        dependent = sa.table(table, sa.column("role_id", sa.BigInteger))
        bind.execute(dependent.delete().where(dependent.c.role_id.in_(seeded)))
    invite = sa.table("invite", sa.column("role_id", sa.BigInteger))
    bind.execute(
        invite.update().where(invite.c.role_id.in_(seeded)).values(role_id=None)
    )
    bind.execute(role.delete().where(role.c.name.in_(list(ROLE_PERMISSIONS))))
