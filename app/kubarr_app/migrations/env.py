"""Alembic environment: runs on the connection that ``kubarr migrate`` hands in."""

from __future__ import annotations

from alembic import context
from sqlmodel import SQLModel

import kubarr_app.models  # noqa: F401  (registers the tables for autogenerate)

connection = context.config.attributes.get("connection")
if connection is None:
    raise RuntimeError("run migrations through `kubarr migrate`, not bare alembic")

context.configure(
    connection=connection,
    target_metadata=SQLModel.metadata,
    # SQLite cannot ALTER most things in place; batch mode copies the table.
    render_as_batch=connection.dialect.name == "sqlite",
    compare_type=True,
    transactional_ddl=True,
)

with context.begin_transaction():
    context.run_migrations()
