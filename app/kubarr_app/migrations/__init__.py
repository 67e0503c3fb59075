"""Alembic migrations for SQLite and PostgreSQL.

Revisions are written by hand against plain SQLAlchemy types, never by
importing the models, so an old revision keeps meaning what it meant.
"""
