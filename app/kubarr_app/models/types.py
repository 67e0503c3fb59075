"""Column types that read the same on SQLite and PostgreSQL.

Keys are 64-bit integers; on SQLite they must be declared ``INTEGER`` so the
primary key aliases the rowid and autoincrements (``BIGINT PRIMARY KEY`` would
not). Timestamps are stored in UTC and always come back timezone-aware; JSON
is kept as text so both engines hold the same bytes.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import BigInteger, Column, DateTime, ForeignKey, Integer, Text
from sqlalchemy.engine import Dialect
from sqlalchemy.types import TypeDecorator
from sqlmodel import Field, SQLModel

# Named constraints let a later batch migration on SQLite drop or alter them.
SQLModel.metadata.naming_convention = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

BigId = BigInteger().with_variant(Integer(), "sqlite")


def utcnow() -> datetime:
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator[datetime]):
    """A timestamp stored as UTC and returned with ``tzinfo=UTC``.

    SQLite has no timezone-aware type: values are stored as naive UTC text,
    which also sorts and groups by day correctly.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(
        self, value: datetime | None, dialect: Dialect
    ) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given; use datetime.now(UTC)")
        value = value.astimezone(UTC)
        if dialect.name == "sqlite":
            return value.replace(tzinfo=None)
        return value

    def process_result_value(
        self, value: datetime | None, dialect: Dialect
    ) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


class JSONText(TypeDecorator[Any]):
    """JSON kept as text, portable between both engines."""

    impl = Text
    cache_ok = True

    def process_bind_param(self, value: Any, dialect: Dialect) -> str | None:
        if value is None:
            return None
        return json.dumps(value, separators=(",", ":"), sort_keys=True)

    def process_result_value(self, value: str | None, dialect: Dialect) -> Any:
        if value is None:
            return None
        return json.loads(value)


def id_field() -> Any:
    return Field(default=None, primary_key=True, sa_type=BigId)


def fk_field(
    target: str,
    *,
    ondelete: str = "CASCADE",
    nullable: bool = False,
    index: bool = True,
    unique: bool = False,
) -> Any:
    """A 64-bit foreign key column with the delete rule spelled out."""
    column = Column(
        BigId,
        ForeignKey(target, ondelete=ondelete),
        nullable=nullable,
        index=index and not unique,
        unique=unique,
    )
    return Field(default=None, sa_column=column)


def created_field() -> Any:
    return Field(
        default_factory=utcnow, sa_column=Column(UTCDateTime(), nullable=False)
    )


def time_field(*, nullable: bool = True, index: bool = False) -> Any:
    return Field(
        default=None, sa_column=Column(UTCDateTime(), nullable=nullable, index=index)
    )


def json_field() -> Any:
    return Field(default=None, sa_column=Column(JSONText(), nullable=True))
