"""Configuration read once from the environment.

Every knob has a default so ``kubarr serve`` runs with no configuration at all.
A bad value raises :class:`ConfigError` naming the variable; the CLI turns it
into one line and exit code 2, because a Job or a pod log is where a homelab
operator will read it.
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

DEFAULT_DATABASE_URL = "sqlite:///./data/kubarr.db"
# A Unix socket address holds at most 107 bytes of path (108 with the NUL).
MAX_SOCKET_PATH_BYTES = 107


class ConfigError(Exception):
    """A configuration value that cannot be used; the message names the variable."""


@dataclass(frozen=True)
class Settings:
    """Everything the app reads from its environment, already validated."""

    database_url: str = DEFAULT_DATABASE_URL
    database_url_is_default: bool = True
    db_max_connections: int = 5
    db_min_connections: int = 1
    audit_retention_days: int = 90
    cache_endpoint_ttl_seconds: float = 60.0
    cache_max_entries: int = 1000
    cache_eviction_interval_seconds: float = 30.0
    cache_metrics_max_age_seconds: float = 300.0
    auth_cache_ttl_seconds: float = 30.0
    session_ttl_hours: float = 24.0 * 7
    host: str = "127.0.0.1"
    port: int = 8000
    storage_path: Path = Path("/data/storage")
    admin_token: str | None = None
    admin_token_file: Path | None = None
    bootstrap_admin_username: str = "admin"
    bootstrap_admin_password: str | None = None
    secret_key: str | None = None
    cookie_secure: bool = False
    allow_unsafe_sqlite: bool = False
    litestream_socket: Path | None = None
    replication_max_lag_seconds: float = 30.0

    def __repr__(self) -> str:
        # Secrets must never reach a log line through an accidental repr().
        return f"Settings(database_url_is_default={self.database_url_is_default})"

    def read_admin_token(self) -> str | None:
        """Return the prune endpoint's bearer token, re-reading the file each time.

        Reading per call lets the operator rotate the Secret without a restart.
        """
        if self.admin_token:
            return self.admin_token
        if self.admin_token_file is None:
            return None
        try:
            token = self.admin_token_file.read_text(encoding="utf-8").strip()
        except OSError:
            return None
        return token or None


def _int(env: Mapping[str, str], name: str, default: int, minimum: int) -> int:
    raw = env.get(name)
    if raw is None or raw.strip() == "":
        return default
    try:
        value = int(raw.strip())
    except ValueError:
        raise ConfigError(f"{name}={raw!r} is not an integer") from None
    if value < minimum:
        raise ConfigError(f"{name}={value} must be at least {minimum}")
    return value


def _float(env: Mapping[str, str], name: str, default: float, minimum: float) -> float:
    raw = env.get(name)
    if raw is None or raw.strip() == "":
        return default
    try:
        value = float(raw.strip())
    except ValueError:
        raise ConfigError(f"{name}={raw!r} is not a number") from None
    if not value >= minimum:
        raise ConfigError(f"{name}={value:g} must be at least {minimum:g}")
    return value


def _bool(env: Mapping[str, str], name: str, default: bool) -> bool:
    raw = env.get(name)
    if raw is None or raw.strip() == "":
        return default
    lowered = raw.strip().lower()
    if lowered in {"1", "true", "yes", "on"}:
        return True
    if lowered in {"0", "false", "no", "off"}:
        return False
    raise ConfigError(f"{name}={raw!r} is not a boolean (use true or false)")


def _port(env: Mapping[str, str]) -> int:
    port = _int(env, "KUBARR_PORT", 8000, 1)
    if port > 65535:
        raise ConfigError(f"KUBARR_PORT={port} is not a TCP port (1-65535)")
    return port


def _secret(env: Mapping[str, str], name: str) -> str | None:
    """Read ``NAME`` or, failing that, the file named by ``NAME_FILE``.

    The value itself never appears in an error message.
    """
    value = env.get(name)
    if value:
        return value.strip()
    file_name = env.get(f"{name}_FILE")
    if not file_name:
        return None
    try:
        content = Path(file_name).read_text(encoding="utf-8").strip()
    except OSError as exc:
        raise ConfigError(
            f"{name}_FILE={file_name!r} cannot be read: {exc.strerror}"
        ) from None
    if not content:
        raise ConfigError(f"{name}_FILE={file_name!r} is empty")
    return content


def _litestream_socket(env: Mapping[str, str], database_url: str) -> Path | None:
    """The Litestream sidecar's control socket, or ``None`` when there is none.

    Checked here rather than on first use so that a typo stops ``kubarr serve``
    with one line, instead of every ``/replicationz`` answering 503.
    """
    raw = env.get("KUBARR_LITESTREAM_SOCKET", "").strip()
    if not raw:
        return None
    if not raw.startswith("/"):
        raise ConfigError(
            f"KUBARR_LITESTREAM_SOCKET={raw!r} is not an absolute path, e.g. "
            "/var/run/litestream/litestream.sock"
        )
    if len(os.fsencode(raw)) > MAX_SOCKET_PATH_BYTES:
        raise ConfigError(
            f"KUBARR_LITESTREAM_SOCKET={raw!r} is longer than the "
            f"{MAX_SOCKET_PATH_BYTES} bytes a Unix socket path may have"
        )
    if not database_url.startswith("sqlite"):
        # The URL itself is left out: a PostgreSQL one carries a password.
        raise ConfigError(
            "KUBARR_LITESTREAM_SOCKET is set but DATABASE_URL is not SQLite; "
            "Litestream replicates only the embedded SQLite database"
        )
    return Path(raw)


def _max_lag(env: Mapping[str, str]) -> float:
    name = "KUBARR_REPLICATION_MAX_LAG_SECONDS"
    value = _float(env, name, 30.0, 1.0)
    if not math.isfinite(value):
        # An infinite bound would make /replicationz always green, and JSON
        # has no way to write it.
        raise ConfigError(f"{name}={value} must be a finite number of seconds")
    return value


def load_settings(env: Mapping[str, str] | None = None) -> Settings:
    """Build :class:`Settings` from ``env`` (the process environment by default)."""
    if env is None:
        env = os.environ

    raw_url = env.get("DATABASE_URL", "").strip()
    max_conn = _int(env, "KUBARR_DB_MAX_CONNECTIONS", 5, 1)
    min_conn = _int(env, "KUBARR_DB_MIN_CONNECTIONS", 1, 0)
    if min_conn > max_conn:
        raise ConfigError(
            f"KUBARR_DB_MIN_CONNECTIONS={min_conn} is larger than "
            f"KUBARR_DB_MAX_CONNECTIONS={max_conn}"
        )

    admin_token_file = env.get("KUBARR_ADMIN_TOKEN_FILE") or None
    secret_key = _secret(env, "KUBARR_SECRET_KEY")
    if secret_key is not None and len(secret_key) < 16:
        raise ConfigError("KUBARR_SECRET_KEY must be at least 16 characters long")
    bootstrap_password = _secret(env, "KUBARR_BOOTSTRAP_ADMIN_PASSWORD")
    if bootstrap_password is not None and len(bootstrap_password) < 8:
        raise ConfigError(
            "KUBARR_BOOTSTRAP_ADMIN_PASSWORD must be at least 8 characters long"
        )

    return Settings(
        database_url=raw_url or DEFAULT_DATABASE_URL,
        database_url_is_default=not raw_url,
        db_max_connections=max_conn,
        db_min_connections=min_conn,
        audit_retention_days=_int(env, "KUBARR_AUDIT_RETENTION_DAYS", 90, 1),
        cache_endpoint_ttl_seconds=_float(
            env, "KUBARR_CACHE_ENDPOINT_TTL_SECONDS", 60.0, 0.001
        ),
        cache_max_entries=_int(env, "KUBARR_CACHE_MAX_ENTRIES", 1000, 1),
        cache_eviction_interval_seconds=_float(
            env, "KUBARR_CACHE_EVICTION_INTERVAL_SECONDS", 30.0, 0.01
        ),
        cache_metrics_max_age_seconds=_float(
            env, "KUBARR_CACHE_METRICS_MAX_AGE_SECONDS", 300.0, 1.0
        ),
        auth_cache_ttl_seconds=_float(env, "KUBARR_AUTH_CACHE_TTL_SECONDS", 30.0, 0),
        session_ttl_hours=_float(env, "KUBARR_SESSION_TTL_HOURS", 24.0 * 7, 0.01),
        host=env.get("KUBARR_HOST", "").strip() or "127.0.0.1",
        port=_port(env),
        storage_path=Path(
            env.get("KUBARR_STORAGE_PATH", "").strip() or "/data/storage"
        ),
        admin_token=(env.get("KUBARR_ADMIN_TOKEN") or "").strip() or None,
        admin_token_file=Path(admin_token_file) if admin_token_file else None,
        bootstrap_admin_username=(
            env.get("KUBARR_BOOTSTRAP_ADMIN_USERNAME", "").strip() or "admin"
        ),
        bootstrap_admin_password=bootstrap_password,
        secret_key=secret_key,
        cookie_secure=_bool(env, "KUBARR_COOKIE_SECURE", False),
        allow_unsafe_sqlite=_bool(env, "KUBARR_ALLOW_UNSAFE_SQLITE", False),
        litestream_socket=_litestream_socket(env, raw_url or DEFAULT_DATABASE_URL),
        replication_max_lag_seconds=_max_lag(env),
    )
