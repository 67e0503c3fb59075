"""``kubarr import-postgres``: a real PostgreSQL database, filled through the app,
becomes a SQLite file that the app serves identically.

The source is populated the way an installation fills it: through the API
where the API serves a table, and through the app's own models for the tables
that are carried but not yet served, so every one of the 22 tables holds rows.
The values are chosen to break a copy that edits SQL text or mishandles types:
text that looks like SQL literals or casts, quotes, emoji, NULLs, timestamps
written in other time zones on a server whose session time zone is not UTC,
and a large JSON document.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from app_helpers import ADMIN_PASSWORD, ADMIN_TOKEN, login
from fastapi.testclient import TestClient
from kubarr_app import models as m
from kubarr_app.api.app import build_state, create_app
from kubarr_app.auth import bootstrap_admin
from kubarr_app.db import Database, parse_database_url
from kubarr_app.pgimport import import_order
from kubarr_app.schema import head_revision
from kubarr_app.settings import Settings
from sqlalchemy import func, select, text

AWKWARD_SETTINGS = {
    "literal-true": "true",
    "literal-false": "false",
    "cast": "::",
    "cast-json": "'{}'::jsonb",
    "quotes": "it's \"quoted\" and 'single' and `back`",
    "injection": '\'); DROP TABLE "user"; --',
    "emoji": "homelab 🚀🏠 — ünïcödé ✓",
    "null-word": "NULL",
    "empty": "",
    "backslashes": "C:\\media\\tv\\n not a newline",
    "newlines": "line one\nline two\r\n\ttabbed",
}
IST = timezone(timedelta(hours=5, minutes=30))
PST = timezone(timedelta(hours=-8))
# A session time zone with a 45-minute offset: a copy that trusts the server's
# rendering of timestamptz instead of converting to UTC shifts every value.
SOURCE_TIME_ZONE = "Pacific/Chatham"

# Everything a signed-in admin can read; none of these calls writes.
READ_PATHS = [
    "/api/auth/me",
    "/api/auth/sessions",
    "/api/users",
    "/api/roles",
    "/api/settings",
    "/api/settings/emoji",
    "/api/settings/large-json",
    "/api/audit?page_size=500",
    "/api/audit?page_size=500&success=false",
    "/api/audit/stats?days=3650&top=100",
]


def large_json() -> dict[str, Any]:
    """About 300 KB of nested JSON with unicode, numbers, booleans and nulls."""
    return {
        "libraries": [
            {
                "id": index,
                "name": f"Library {index} — “films” 🎬",
                "paths": [f"/media/{index}/{part}" for part in range(5)],
                "enabled": index % 2 == 0,
                "ratio": index / 7,
                "note": None,
                "sql": "SELECT 'true'::boolean;",
            }
            for index in range(1500)
        ]
    }


def comparable(body: Any) -> Any:
    """An answer without the one field that depends on when it was asked:
    statistics echo ``since``, computed from the current time."""
    if isinstance(body, dict) and "per_day" in body:
        return {key: value for key, value in body.items() if key != "since"}
    return body


@dataclass
class Source:
    url: str
    database: Database
    cookies: dict[str, str]
    responses: dict[str, Any]


def _settings(database_url: str, storage: Path) -> Settings:
    return Settings(
        database_url=database_url,
        database_url_is_default=False,
        storage_path=storage,
        admin_token=ADMIN_TOKEN,
        bootstrap_admin_password=ADMIN_PASSWORD,
        cache_eviction_interval_seconds=3600,
    )


def _populate_through_the_api(client: TestClient) -> None:
    for key, value in AWKWARD_SETTINGS.items():
        put = client.put(f"/api/settings/{key}", json={"value": value})
        assert put.status_code == 200, put.text
    described = client.put(
        "/api/settings/large-json",
        json={"value": '{"a": [1, 2, 3]} ::text', "description": "quotes ' \" ok"},
    )
    assert described.status_code == 200
    assert client.delete("/api/settings/theme").status_code == 204

    role = client.post(
        "/api/roles",
        json={"name": "media-editors", "description": "Édite les médias 🎞️"},
    )
    assert role.status_code == 201, role.text
    people = [
        ("zoe", "zoë+🚀@example.test", ["user", "media-editors"]),
        ("obrien", "o'brien@example.test", ["viewer"]),
        ("nomail", None, ["viewer"]),
    ]
    for username, email, roles in people:
        created = client.post(
            "/api/users",
            json={
                "username": username,
                "password": "a-password-for-" + username,
                "email": email,
                "roles": roles,
            },
        )
        assert created.status_code == 201, created.text
    obrien = next(
        u for u in client.get("/api/users").json() if u["username"] == "obrien"
    )
    assert (
        client.patch(
            f"/api/users/{obrien['id']}", json={"is_active": False}
        ).status_code
        == 200
    )

    # A failed call and a prune: audit rows with success=false and JSON details.
    assert client.put("/api/settings/Bad Key!", json={"value": "x"}).status_code == 422
    pruned = client.post(
        "/api/audit/prune", headers={"authorization": f"Bearer {ADMIN_TOKEN}"}
    )
    assert pruned.status_code == 200


def _populate_through_the_models(database: Database) -> None:
    """Rows for the tables the API carries but does not serve yet."""
    document = large_json()
    with database.write() as session:
        admin = session.exec(select(m.User).where(m.User.username == "admin")).one()[0]
        editors = session.exec(
            select(m.Role).where(m.Role.name == "media-editors")
        ).one()[0]
        session.add(m.RoleAppPermission(role_id=editors.id, app_name="jellyfin"))
        session.add(
            m.Invite(
                code_hash="c" * 64,
                email=None,
                role_id=editors.id,
                created_by_id=admin.id,
                expires_at=datetime(2031, 3, 9, 23, 30, tzinfo=PST),
            )
        )
        session.add(
            m.Pending2FAChallenge(
                user_id=admin.id,
                challenge_hash="d" * 64,
                attempts=2,
                expires_at=datetime(2030, 12, 31, 23, 59, 59, 999999, tzinfo=IST),
            )
        )
        session.add(
            m.UserPreferences(
                user_id=admin.id, theme="dark", language="fr", extra=document
            )
        )
        provider = m.OAuthProvider(
            name="authelia",
            client_id="kubarr",
            client_secret=None,
            authorization_url="https://auth.example.test/authorize?a=1&b='2'",
            token_url="https://auth.example.test/token",
            enabled=False,
        )
        session.add(provider)
        session.flush()
        session.add(
            m.OAuthAccount(user_id=admin.id, provider_id=provider.id, subject="sub::42")
        )
        channel = m.NotificationChannel(
            name="gotify",
            kind="gotify",
            config={"url": "http://gotify.local", "priority": 5, "tags": ["a", None]},
        )
        session.add(channel)
        session.add(
            m.NotificationEvent(name="download.done", description=None, severity="info")
        )
        session.flush()
        session.add(
            m.NotificationLog(
                channel_id=channel.id,
                event_name="download.done",
                message="true",
                status="sent",
                error=None,
            )
        )
        session.add(
            m.NotificationLog(
                channel_id=None,
                event_name="download.done",
                message="false",
                status="failed",
                error="timeout :: 'gotify' did not answer",
            )
        )
        session.add(
            m.UserNotification(
                user_id=admin.id,
                event_name="download.done",
                title="Fini ✓",
                message="The Film (1999) 🎬",
                read_at=datetime(2026, 1, 2, 3, 4, 5, 600000, tzinfo=IST),
            )
        )
        session.add(
            m.UserNotificationPref(
                user_id=admin.id, event_name="download.done", channel_id=None
            )
        )
        vpn = m.VpnProvider(
            name="wg", kind="wireguard", config=document["libraries"][0]
        )
        session.add(vpn)
        session.flush()
        session.add(m.AppVpnConfig(app_name="qbittorrent", vpn_provider_id=vpn.id))


@pytest.fixture
def source(
    postgres_server: Any, postgres_template: str, tmp_path: Path
) -> Iterator[Source]:
    """A PostgreSQL database at head, populated, with its API answers recorded."""
    name = f"kubarr_import_{os.getpid()}_{tmp_path.name[-12:].replace('-', '_')}"
    postgres_server.admin_sql(f"CREATE DATABASE {name} TEMPLATE {postgres_template}")
    postgres_server.admin_sql(
        f"ALTER DATABASE {name} SET timezone TO '{SOURCE_TIME_ZONE}'"
    )
    url = postgres_server.url(name)
    storage = tmp_path / "storage"
    storage.mkdir()
    database = Database(parse_database_url(url), 5, 1)
    state = build_state(_settings(url, storage), database, head_revision(), None)
    bootstrap_admin(database, "admin", ADMIN_PASSWORD)

    with TestClient(create_app(state), base_url="http://127.0.0.1") as client:
        login(client)
        _populate_through_the_api(client)
        _populate_through_the_models(database)
        cookies = dict(client.cookies)
        responses = {path: comparable(client.get(path).json()) for path in READ_PATHS}

    yield Source(url, database, cookies, responses)
    database.dispose()


def _import(
    source_url: str, target: Path, *extra: str
) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("KUBARR_")}
    env.pop("DATABASE_URL", None)
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "kubarr_app",
            "import-postgres",
            "--from",
            source_url,
            "--to",
            f"sqlite:///{target}",
            *extra,
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_every_table_of_the_source_holds_rows(source: Source) -> None:
    with source.database.read() as session:
        for table in import_order():
            count = session.exec(select(func.count()).select_from(table)).one()[0]
            assert count > 0, f"{table.name} is empty in the source"
    assert len(import_order()) == 22


def test_the_app_on_the_imported_file_serves_identical_responses(
    source: Source, tmp_path: Path
) -> None:
    target = tmp_path / "data" / "kubarr.db"
    target.parent.mkdir()

    result = _import(source.url, target)

    assert result.returncode == 0, result.stderr
    print(result.stdout)
    for table in import_order():
        assert f"  {table.name} " in result.stdout
    assert "row counts and checksums match" in result.stdout
    assert "rows/s" in result.stdout
    assert list(target.parent.iterdir()) == [target]

    storage = tmp_path / "storage-sqlite"
    storage.mkdir()
    database = Database(parse_database_url(f"sqlite:///{target}"), 5, 1)
    state = build_state(
        _settings(f"sqlite:///{target}", storage), database, head_revision(), None
    )
    try:
        with TestClient(create_app(state), base_url="http://127.0.0.1") as client:
            client.cookies.update(source.cookies)
            for path in READ_PATHS:
                answer = comparable(client.get(path).json())
                assert answer == source.responses[path], path
    finally:
        database.dispose()


def test_text_that_looks_like_sql_survives_byte_for_byte(
    source: Source, tmp_path: Path
) -> None:
    target = tmp_path / "kubarr.db"
    assert _import(source.url, target).returncode == 0

    database = Database(parse_database_url(f"sqlite:///{target}"), 2, 1)
    try:
        with database.engine.connect() as connection:
            stored = dict(
                connection.execute(text("SELECT key, value FROM system_setting")).all()
            )
            messages = connection.execute(
                text("SELECT message, error FROM notification_log ORDER BY id")
            ).all()
            email_null = connection.execute(
                text("SELECT email IS NULL FROM user WHERE username = 'nomail'")
            ).scalar_one()
            read_at = connection.execute(
                text("SELECT read_at FROM user_notification")
            ).scalar_one()
    finally:
        database.dispose()

    for key, value in AWKWARD_SETTINGS.items():
        assert stored[key] == value
    assert [tuple(row) for row in messages] == [
        ("true", None),
        ("false", "timeout :: 'gotify' did not answer"),
    ]
    assert email_null == 1
    # Stored as naive UTC text, whatever zone it was written in or read with.
    assert read_at == "2026-01-01 21:34:05.600000"


def test_a_target_that_holds_data_is_refused_unless_forced(
    source: Source, tmp_path: Path
) -> None:
    target = tmp_path / "kubarr.db"
    target.write_bytes(b"an existing database the user cares about")
    stale_wal = Path(f"{target}-wal")
    stale_wal.write_bytes(b"frames of the old database")

    refused = _import(source.url, target)

    assert refused.returncode == 2
    assert "already holds a database; pass --force" in refused.stderr
    assert target.read_bytes() == b"an existing database the user cares about"

    forced = _import(source.url, target, "--force")

    assert forced.returncode == 0, forced.stderr
    assert target.read_bytes().startswith(b"SQLite format 3\x00")
    # The old database's WAL must not be replayed onto the new file.
    assert not stale_wal.exists()


def test_a_source_behind_head_is_refused_with_the_command_that_fixes_it(
    postgres_server: Any, tmp_path: Path
) -> None:
    name = f"kubarr_import_empty_{os.getpid()}"
    postgres_server.admin_sql(f"CREATE DATABASE {name}")
    target = tmp_path / "kubarr.db"

    result = _import(postgres_server.url(name), target)

    assert result.returncode == 2
    assert "run `kubarr migrate`" in result.stderr
    assert not target.exists()
    assert list(tmp_path.iterdir()) == []


def test_an_unreachable_source_fails_without_touching_the_target(
    tmp_path: Path,
) -> None:
    from app_helpers import free_port

    target = tmp_path / "kubarr.db"
    url = f"postgresql://kubarr:s3cret-pw@127.0.0.1:{free_port()}/kubarr"

    result = _import(url, target)

    assert result.returncode == 1
    assert "was not changed" in result.stderr
    assert "s3cret-pw" not in result.stdout + result.stderr
    assert list(tmp_path.iterdir()) == []


def test_the_import_order_puts_every_parent_before_its_children() -> None:
    seen: set[str] = set()
    for table in import_order():
        for key in table.foreign_keys:
            assert key.column.table.name in seen | {table.name}, table.name
        seen.add(table.name)
    assert {"user", "role", "audit_log", "app_vpn_config"} <= seen


def test_timestamps_written_in_other_zones_come_back_as_the_same_instant(
    source: Source, tmp_path: Path
) -> None:
    target = tmp_path / "kubarr.db"
    assert _import(source.url, target).returncode == 0

    database = Database(parse_database_url(f"sqlite:///{target}"), 2, 1)
    try:
        with database.read() as session:
            invite = session.exec(select(m.Invite)).one()[0]
            challenge = session.exec(select(m.Pending2FAChallenge)).one()[0]
    finally:
        database.dispose()

    assert invite.expires_at == datetime(2031, 3, 10, 7, 30, tzinfo=UTC)
    assert invite.expires_at.tzinfo is UTC
    assert challenge.expires_at == datetime(
        2030, 12, 31, 18, 29, 59, 999999, tzinfo=UTC
    )


def test_a_large_audit_log_imports_verified_and_the_rate_is_printed(
    postgres_server: Any, postgres_template: str, tmp_path: Path
) -> None:
    rows = 100_000
    name = f"kubarr_import_large_{os.getpid()}"
    postgres_server.admin_sql(f"CREATE DATABASE {name} TEMPLATE {postgres_template}")
    database = Database(parse_database_url(postgres_server.url(name)), 2, 1)
    start = datetime(2026, 1, 1, tzinfo=UTC)
    with database.engine.begin() as connection:
        for offset in range(0, rows, 10_000):
            connection.execute(
                m.AuditLog.__table__.insert(),  # type: ignore[attr-defined]
                [
                    {
                        "timestamp": start + timedelta(seconds=i),
                        "action": "setting.update",
                        "resource_type": "system_setting",
                        "resource_id": f"key-{i % 50}",
                        "details": {"value": "true", "n": i, "note": "::"},
                        "ip_address": "127.0.0.1",
                        "user_agent": "kubarr-tests/1.0 (émoji 🚀)",
                        "success": i % 7 != 0,
                        "status_code": 200 if i % 7 else 403,
                    }
                    for i in range(offset, offset + 10_000)
                ],
            )
    database.dispose()
    target = tmp_path / "kubarr.db"

    result = _import(postgres_server.url(name), target)

    assert result.returncode == 0, result.stderr
    assert re.search(rf"^  audit_log +{rows} rows  verified$", result.stdout, re.M)
    summary = result.stdout.strip().splitlines()[-1]
    print(f"\nimport of {rows} audit rows: {summary}")


def test_import_if_target_missing_leaves_an_existing_database_alone(
    tmp_path: Path,
) -> None:
    """A retried bootstrap Job runs the import again; it must not touch the
    database the first attempt made."""
    target = tmp_path / "kubarr.db"
    target.write_bytes(b"SQLite format 3\x00" + b"\x00" * 100)
    before = target.read_bytes()

    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "kubarr_app",
            "import-postgres",
            "--to",
            f"sqlite:///{target}",
            "--if-target-missing",
        ],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
        env={**os.environ, "KUBARR_IMPORT_FROM_URL": "postgresql://u:p@127.0.0.1:1/x"},
    )

    assert result.returncode == 0, result.stderr
    assert "already holds a database; nothing imported" in result.stdout
    assert target.read_bytes() == before
