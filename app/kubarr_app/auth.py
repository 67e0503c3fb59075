"""Who is calling: logins, sessions, the per-request auth context and its cache.

Resolving a request's identity takes four queries (session, user, roles,
permissions). The result is cached in process, keyed by the token's hash, and
every change that could alter it (logout, session revoke, user, role or
permission edits) clears the cache, so the change holds from the very next
request. The cache uses a generation counter so that a lookup that raced an
invalidation cannot put a stale context back.
"""

from __future__ import annotations

import logging
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import func
from sqlmodel import col, select

from kubarr_app.cache import BoundedTTLCache
from kubarr_app.db import Database
from kubarr_app.models import (
    BootstrapStatus,
    Role,
    RolePermission,
    ServerConfig,
    Session,
    User,
    UserRole,
)
from kubarr_app.security import (
    TokenSigner,
    generate_secret,
    hash_password,
    token_hash,
    verify_password,
)

log = logging.getLogger(__name__)

PERMISSIONS = (
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
)

SECRET_KEY_CONFIG = "session_secret_key"


@dataclass(frozen=True)
class AuthContext:
    """Everything a request needs to know about its caller."""

    session_id: int
    user_id: int
    username: str
    roles: tuple[str, ...]
    permissions: frozenset[str]
    expires_at: datetime

    def can(self, permission: str) -> bool:
        return permission in self.permissions


@dataclass(frozen=True)
class LoginResult:
    token: str
    context: AuthContext


class AuthService:
    """Logins and token checks against the database, with the context cache.

    The cache lives in this process. That is exact for the single-replica
    StatefulSet this app runs in.
    """

    # Limitation: two API processes on one PostgreSQL database would not see
    # each other's invalidations until the cache TTL runs out.

    def __init__(
        self,
        database: Database,
        signer: TokenSigner,
        session_ttl: timedelta,
        cache: BoundedTTLCache[str, AuthContext] | None,
    ) -> None:
        self.database = database
        self.signer = signer
        self.session_ttl = session_ttl
        self.cache = cache

    def invalidate(self) -> None:
        """Forget every cached context; call after any auth-relevant change."""
        if self.cache is not None:
            self.cache.clear()

    def login(
        self,
        username: str,
        password: str,
        ip_address: str | None = None,
        user_agent: str | None = None,
    ) -> LoginResult | None:
        """Check the password and open a session, or return ``None``."""
        with self.database.read() as session:
            user = session.exec(select(User).where(User.username == username)).first()

        # Hash verification is slow on purpose; it runs outside the write lock.
        password_hash = user.password_hash if user else None
        if not verify_password(password_hash, password):
            return None
        if user is None or user.id is None or not user.is_active:
            return None

        token = self.signer.issue()
        now = datetime.now(UTC)
        with self.database.write() as session:
            row = Session(
                user_id=user.id,
                token_hash=token_hash(token),
                expires_at=now + self.session_ttl,
                ip_address=ip_address,
                user_agent=(user_agent or "")[:255] or None,
            )
            session.add(row)
            db_user = session.get(User, user.id)
            if db_user is not None:
                db_user.last_login_at = now
                session.add(db_user)

        context = self.authenticate(token)
        assert context is not None
        return LoginResult(token, context)

    def cached(self, token: str) -> AuthContext | None:
        """The cached context for ``token``, without touching the database."""
        if self.cache is None or not self.signer.verify(token):
            return None
        context = self.cache.get(token_hash(token))
        if context is None or context.expires_at <= datetime.now(UTC):
            return None
        return context

    def authenticate(
        self, token: str, cache_checked: bool = False
    ) -> AuthContext | None:
        """The caller behind ``token``, or ``None`` if it is not a live session.

        ``cache_checked`` says the caller already missed in :meth:`cached`, so
        the miss is not counted twice.
        """
        if not self.signer.verify(token):
            return None
        key = token_hash(token)
        now = datetime.now(UTC)

        generation = 0
        if self.cache is not None:
            generation = self.cache.generation
            cached = None if cache_checked else self.cache.get(key)
            if cached is not None:
                return cached if cached.expires_at > now else None

        context = self._load_context(key, now)
        if context is not None and self.cache is not None:
            self.cache.put_if_generation(key, context, generation)
        return context

    def _load_context(self, key: str, now: datetime) -> AuthContext | None:
        with self.database.read() as session:
            row = session.exec(
                select(Session).where(
                    Session.token_hash == key,
                    col(Session.revoked_at).is_(None),
                    Session.expires_at > now,
                )
            ).first()
            if row is None or row.id is None:
                return None

            user = session.exec(
                select(User).where(User.id == row.user_id, col(User.is_active))
            ).first()
            if user is None or user.id is None:
                return None

            roles = session.exec(
                select(Role.name)
                .join(UserRole, col(UserRole.role_id) == col(Role.id))
                .where(UserRole.user_id == user.id)
                .order_by(col(Role.name))
            ).all()
            permissions = session.exec(
                select(RolePermission.permission)
                .join(UserRole, col(UserRole.role_id) == col(RolePermission.role_id))
                .where(UserRole.user_id == user.id)
                .distinct()
            ).all()

        return AuthContext(
            session_id=row.id,
            user_id=user.id,
            username=user.username,
            roles=tuple(roles),
            permissions=frozenset(permissions),
            expires_at=row.expires_at,
        )

    def revoke_session(self, session_id: int) -> bool:
        """Revoke one session; it is refused from the next request on."""
        with self.database.write() as session:
            row = session.get(Session, session_id)
            if row is None or row.revoked_at is not None:
                return False
            row.revoked_at = datetime.now(UTC)
            session.add(row)
        self.invalidate()
        return True

    def revoke_user_sessions(self, user_id: int) -> int:
        now = datetime.now(UTC)
        with self.database.write() as session:
            rows = session.exec(
                select(Session).where(
                    Session.user_id == user_id, col(Session.revoked_at).is_(None)
                )
            ).all()
            for row in rows:
                row.revoked_at = now
                session.add(row)
        self.invalidate()
        return len(rows)


def load_or_create_secret_key(database: Database, configured: str | None) -> str:
    """The session signing key: configured, or kept in ``server_config``.

    Keeping a generated key in the database (not in a file beside it) means
    it travels with the Litestream replica and survives a restore, so a
    restored instance does not log everyone out.
    """
    if configured:
        return configured
    with database.read() as session:
        row = session.exec(
            select(ServerConfig).where(ServerConfig.key == SECRET_KEY_CONFIG)
        ).first()
        if row is not None:
            return row.value

    with database.write() as session:
        row = session.exec(
            select(ServerConfig).where(ServerConfig.key == SECRET_KEY_CONFIG)
        ).first()
        if row is not None:
            return row.value
        key = generate_secret()
        session.add(ServerConfig(key=SECRET_KEY_CONFIG, value=key))
    log.info("generated a session signing key and stored it in server_config")
    return key


@dataclass(frozen=True)
class BootstrapOutcome:
    created: bool
    username: str | None = None
    password_file: Path | None = None


def bootstrap_admin(
    database: Database,
    username: str,
    password: str | None,
    password_file: Path | None = None,
) -> BootstrapOutcome:
    """Create the first admin once, on an install that has no user yet.

    With no configured password a random one is written to ``password_file``
    (mode 0600) when given; the password itself is never logged or printed.
    """
    with database.read() as session:
        step = session.exec(
            select(BootstrapStatus).where(BootstrapStatus.step == "admin")
        ).first()
        users = session.exec(select(func.count()).select_from(User)).one()
    if (step is not None and step.completed) or users > 0:
        return BootstrapOutcome(created=False)

    written_file: Path | None = None
    if password is None:
        if password_file is None:
            log.warning(
                "no admin account yet: set KUBARR_BOOTSTRAP_ADMIN_PASSWORD "
                "(or _FILE) and restart"
            )
            return BootstrapOutcome(created=False)
        password = secrets.token_urlsafe(18)
        password_file.parent.mkdir(parents=True, exist_ok=True)
        password_file.touch(mode=0o600)
        password_file.chmod(0o600)
        password_file.write_text(password + "\n", encoding="utf-8")
        written_file = password_file

    now = datetime.now(UTC)
    password_hash = hash_password(password)
    with database.write() as session:
        admin_role = session.exec(select(Role).where(Role.name == "admin")).one()
        user = User(username=username, password_hash=password_hash)
        session.add(user)
        session.flush()
        assert user.id is not None and admin_role.id is not None
        session.add(UserRole(user_id=user.id, role_id=admin_role.id))
        if step is None:
            step = BootstrapStatus(step="admin")
        step = session.merge(step)
        step.completed = True
        step.completed_at = now
        step.message = f"admin account {username!r} created"
        session.add(step)
    log.info("created the first admin account %r", username)
    return BootstrapOutcome(True, username, written_file)
